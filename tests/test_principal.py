"""The acting principal: the account a command acts as, with its unlocked key, which no repr,
str or log line ever shows."""

from __future__ import annotations

import base64
import logging

import pytest

from service.models import Account, Role
from service.people.principal import Principal
from service.people.sessions import FULL, OpenStaffSession, ReporterAccess
from service.web.access import StaffUser

KEY = bytes(range(200, 232))  # 32 recognisable bytes


def _spellings(key: bytes) -> list[str]:
    """Every way a log line or an error page could write the key."""
    return [
        key.hex(),
        key.hex().upper(),
        repr(key),
        str(key),
        base64.b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
        key.decode("latin-1"),
    ]


def _account() -> Account:
    return Account(
        id=7, organisation_id=3, role=Role.CHAIR, body_id=5, email="chu.tich@homthu.test"
    )


def test_the_principal_says_who_acts_and_what_they_belong_to() -> None:
    principal = Principal(_account(), KEY)
    assert (principal.id, principal.role, principal.body_id, principal.organisation_id) == (
        7,
        Role.CHAIR,
        5,
        3,
    )
    assert repr(principal) == "Principal(account_id=7)"


@pytest.mark.parametrize(
    "holder",
    [
        lambda account: Principal(account, KEY),
        lambda account: StaffUser(Principal(account, KEY), FULL),
        lambda account: OpenStaffSession(None, account, KEY),  # type: ignore[arg-type]
        lambda account: ReporterAccess("ab" * 16, KEY),
    ],
    ids=["principal", "staff-user", "open-session", "reporter-access"],
)
def test_no_repr_str_or_log_line_shows_the_key(holder, caplog: pytest.LogCaptureFixture) -> None:
    value = holder(_account())
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("homthu.test").info("acting as %s (%r)", value, value)
    shown = [repr(value), str(value), f"{value}", f"{value!r}", caplog.text]
    for text in shown:
        for spelling in _spellings(KEY):
            assert spelling not in text


def test_a_principal_of_a_detached_account_still_has_a_repr() -> None:
    """An error report after the session closed must not fail (nor query) to name the actor."""
    assert repr(Principal(Account(), KEY)) == "Principal(account_id=None)"
