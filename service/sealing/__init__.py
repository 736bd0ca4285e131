"""Everything that uses `crypto/` on the application's behalf: case keys and their wraps, sealed
fields and files, staff and recovery keys, receipts, the server-secret sealer, session and spool
sealing, stripping identifying metadata from what is stored.

The only package that imports `crypto` (ruff's banned-api rule enforces it): callers name what
they seal and for whom, and the formats (labels, associated data) live here, in one place.
May import: `service.models`, `service.platform`.
"""

from crypto import CryptoError as SealingError

__all__ = ["SealingError"]
