"""A request, or a CLI command, is one transaction (service/platform/unit_of_work.py).

Each test has a control that succeeds, so an oracle that could never fail would show.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from service.audit.trail import Actor, record_event
from service.cases import casework
from service.models import Account, AuditEvent, Organisation
from service.platform.db import get_database, get_db
from service.platform.errors import InvalidSubmission
from service.platform.unit_of_work import EXCEPTIONS, commit_exception
from service.sealing import keyring
from service.web.access import public
from tests.casefactory import file_case
from tests.conftest import domain_session, get_csrf

MARK = "test.unit_of_work"


def _count_marks(app: Flask) -> int:
    with domain_session(app) as db:
        return db.scalars(select(func.count()).where(AuditEvent.action == MARK)).one()


def _add_mark_route(app: Flask, world) -> None:
    """A view whose domain call writes and flushes an audit event, then may refuse."""

    def view(outcome: str):
        db = get_db()
        record_event(db, organisation_id=world.organisation.id, action=MARK, actor=Actor.system())
        db.flush()
        if outcome == "refuse":
            raise InvalidSubmission()
        if outcome == "clash":  # a row the database refuses only at the commit
            db.add(Organisation(name="x", slug=world.organisation.slug))
        return "saved"

    app.add_url_rule("/test/mark/<outcome>", view_func=public(view))


def test_a_refused_request_keeps_nothing_it_flushed(app, world, client):
    _add_mark_route(app, world)
    response = client.get("/test/mark/refuse")
    assert response.status_code == 400
    assert _count_marks(app) == 0
    assert client.get("/test/mark/ok").status_code == 200  # the control: the same, committed
    assert _count_marks(app) == 1


def test_a_failed_commit_answers_500_never_saved(app, world, client):
    _add_mark_route(app, world)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise in the test
    response = client.get("/test/mark/clash")
    assert response.status_code == 500
    assert "saved" not in response.get_data(as_text=True)
    assert _count_marks(app) == 0


def test_a_cli_command_that_fails_midway_leaves_nothing(app, monkeypatch):
    from service.cli import commands

    enrolled = []
    original = commands.twofactor.enrol

    def enrol_then_fail(db, account, secret, now):
        enrolled.append(account.email)
        if len(enrolled) == 3:
            raise RuntimeError("the third account fails")
        return original(db, account, secret, now)

    monkeypatch.setattr(commands.twofactor, "enrol", enrol_then_fail)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert isinstance(result.exception, RuntimeError)
    assert "DEMO organisation created" not in result.output
    with domain_session(app) as db:
        assert db.scalar(select(Organisation).where(Organisation.slug == "demo")) is None
        assert db.scalar(select(func.count()).select_from(Account)) == 0

    monkeypatch.setattr(commands.twofactor, "enrol", original)
    result = app.test_cli_runner().invoke(args=["demo", "seed"])  # the control
    assert result.exit_code == 0, result.output
    with domain_session(app) as db:
        assert db.scalar(select(Organisation).where(Organisation.slug == "demo")) is not None


def test_a_failed_login_is_counted_although_the_request_answers_4xx(app, world, client):
    staff = world["cd_handler"]
    response = client.post(
        "/board/login",
        data={
            "csrf_token": get_csrf(client, "/board/login"),
            "email": staff.email,
            "password": "not the password",
            "code": staff.login_code(app),
        },
    )
    assert 400 <= response.status_code < 500
    with domain_session(app) as db:
        assert db.get_one(Account, staff.account.id).failed_logins == 1
        failures = select(func.count()).where(AuditEvent.action == "staff.login_failed")
        assert db.scalar(failures) == 1


@pytest.fixture
def transactions(app: Flask):
    """The BEGINs and COMMITs the engine sends, from when the test clears the list."""
    seen: list[str] = []
    engine = get_database(app).engine
    listeners = {name: lambda _connection, name=name: seen.append(name) for name in BEGIN_COMMIT}
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    yield seen
    for name, listener in listeners.items():
        event.remove(engine, name, listener)


BEGIN_COMMIT = ("begin", "commit")


def test_the_case_page_is_one_transaction_and_unwraps_the_keys_once(
    app, world, staff_client, transactions, monkeypatch
):
    with domain_session(app) as db:
        case_id = file_case(db, world).case.id
    client = staff_client(world["cd_handler"])
    unwraps = []
    original = keyring.open_case_keys_for_account

    def counting(*args, **kwargs):
        unwraps.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(keyring, "open_case_keys_for_account", counting)
    transactions.clear()
    response = client.get(f"/board/cases/{case_id}")
    assert response.status_code == 200
    assert transactions == ["begin", "commit"]
    assert len(unwraps) == 1
    with domain_session(app) as db:  # the read was recorded in that one transaction
        viewed = select(func.count()).where(
            AuditEvent.action == "case.viewed", AuditEvent.case_id == case_id
        )
        assert db.scalar(viewed) == 1
    assert casework.keyring is keyring  # the counter sat where the case page unwraps


def test_only_a_named_exception_may_commit_early(db):
    """`commit_exception` is the one way to commit inside a request or command, by name."""
    with pytest.raises(ValueError, match="not a named unit-of-work exception"):
        commit_exception(db, "convenience")
    for name in EXCEPTIONS:
        commit_exception(db, name)  # each named one commits (nothing pending here)
