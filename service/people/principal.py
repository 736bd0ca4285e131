"""Who a staff command acts as, and with what: the acting account and its unlocked private key.

The web layer builds one per request from the staff session (`web.access.StaffUser`) and passes
it down, so that the domain never reads the logged-in user from the request. The key opens every
case the account holds a wrap of: it is never shown in a repr, a log line or an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.models import Account


@dataclass(frozen=True)
class Principal:
    """The acting staff account with its unlocked private key (X25519, 32 bytes)."""

    account: Account
    private_key: bytes = field(repr=False)

    def __repr__(self) -> str:
        # Only the account's id, read without a query (a repr must work on a detached account,
        # e.g. in an error report): the key and the account's other fields stay out.
        return f"Principal(account_id={vars(self.account).get('id')!r})"

    __str__ = __repr__

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def body_id(self) -> int | None:
        return self.account.body_id

    @property
    def organisation_id(self) -> int:
        return self.account.organisation_id
