"""Argon2id cost profiles: the one the configuration names, and the cheap one tests use.

Every value derived with Argon2id records its profile, so the cost can be raised later.
"""

from crypto import FAST, PRODUCTION, KdfProfile, profile_named

__all__ = ["FAST", "PRODUCTION", "KdfProfile", "profile_named"]
