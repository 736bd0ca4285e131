"""One exception class per failure of the domain layer.

Domain functions raise these; the web layer turns each into a page in the user's language with
the status below (service/web/errors.py). Messages are lazy so they are translated at the edge.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    status_code = 400
    default_message = _l("The request could not be completed.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class NotFound(DomainError):
    status_code = 404
    default_message = _l("There is nothing here.")


class AccessDenied(DomainError):
    """The domain check refused: this person may not do this to this case."""

    status_code = 403
    default_message = _l("You do not have access to this.")


class KeyUnavailable(AccessDenied):
    """The domain check passed but no key wrap exists: the cryptography refuses too."""

    default_message = _l("You do not hold a key to this case.")


class ReadOnlyAccess(AccessDenied):
    """The person may read the case (they kept access when it was transferred) but not act."""

    default_message = _l(
        "This case has been transferred to another body. You kept the right to read it, "
        "but only the receiving body can act on it now."
    )


class ReceiptRejected(DomainError):
    """Wrong or malformed receipt: one message for both, never a hint whether a case exists."""

    status_code = 403
    default_message = _l(
        "This receipt code does not open a report. Check the 16 digits and try again."
    )


class InvalidSubmission(DomainError):
    status_code = 400
    default_message = _l("Some of what was sent is not valid.")


class LoginFailed(DomainError):
    """One message for every failure: unknown email, wrong password or code, an attempt during
    the account's wait. When the account must wait, the message says how long (`retry_after`,
    in seconds) — the same for a right and a wrong password."""

    status_code = 401
    default_message = _l(
        "The email, password or code is not correct, or there were too many attempts. "
        "Check them and try again."
    )

    def __init__(self, retry_after: int | None = None) -> None:
        message = None
        if retry_after:
            message = _l(
                "The email, password or code is not correct, or there were too many attempts. "
                "Wait %(seconds)d seconds, then try again.",
                seconds=retry_after,
            )
        super().__init__(message)
        self.retry_after = retry_after


class CodeRejected(DomainError):
    """A code typed while setting up the two-step login (the person is already logged in)."""

    status_code = 400
    default_message = _l(
        "This code is not right. Check the time on your phone and type the code shown now."
    )


class LinkExpired(DomainError):
    """An invitation or reset link that is unknown, expired, used or withdrawn."""

    status_code = 410
    default_message = _l(
        "This link has expired or has been used already. Ask the administrator for a new one."
    )


class WrongRecoveryCode(DomainError):
    status_code = 400
    default_message = _l("This recovery code does not belong to this body.")
