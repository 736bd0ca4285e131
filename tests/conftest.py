"""Shared fixtures: real databases built by the migrations, a seeded organisation, clients.

Every database test runs on SQLite and, when TEST_DATABASE_URL points at a PostgreSQL server,
on PostgreSQL too. The schema is built once per run by `alembic upgrade head` into a template
(a file for SQLite, a template database for PostgreSQL); each test gets its own copy.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service import create_app
from service.admin.organisations import create_organisation
from service.models import Account, Body, Organisation, Role
from service.people import twofactor
from service.people.accounts import create_account
from service.platform.clock import utcnow
from service.platform.db import get_database
from service.platform.migrate import upgrade_database
from service.platform.unit_of_work import transaction
from service.sealing import staff_keys
from service.sealing.profiles import FAST

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(config, items):
    """Without TEST_DATABASE_URL the PostgreSQL variants are skipped, and say so."""
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="TEST_DATABASE_URL is not set: PostgreSQL not tested")
    for item in items:
        if "[postgresql" in item.nodeid or "-postgresql" in item.nodeid:
            item.add_marker(skip)


# --- databases -----------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection:
    return psycopg.connect(PG_URL, autocommit=True)


def _pg_url_for(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"homthu_tmpl_{secrets.token_hex(4)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade_database(_pg_url_for(name))
        yield name
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """A freshly migrated database of its own for this test."""
    if request.param == "sqlite":
        path = tmp_path / "homthu.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"homthu_test_{secrets.token_hex(6)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url_for(name)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


# --- the application -----------------------------------------------------------------------


@pytest.fixture
def app_env(monkeypatch, tmp_path, database_url) -> dict[str, str]:
    """The environment a test app starts from: nothing inherited from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(
            ("MAIL_", "HOMTHU_", "ARGON2_", "STAFF_", "REPORTER_", "REOPEN_", "PUBLICATION_")
        ) or name in (
            "SECRET_KEY",
            "DATABASE_URL",
            "ORGANISATION",
            "PUBLIC_BASE_URL",
        ):
            monkeypatch.delenv(name, raising=False)
    env = {
        "HOMTHU_ENV": "testing",
        "HOMTHU_INSTANCE_DIR": str(tmp_path / "instance"),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "ARGON2_PROFILE": "fast",
        "PUBLIC_BASE_URL": "http://homthu.test",
        "MAIL_DEFAULT_SENDER": "homthu@homthu.test",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def app(app_env) -> Iterator[Flask]:
    application = create_app()
    yield application
    get_database(application).engine.dispose()


@contextmanager
def domain_session(app: Flask) -> Iterator[Session]:
    """A session in an app context of its own, for domain calls in a test that also makes HTTP
    requests; committed when the block ends, like a CLI command (domain functions never
    commit). (Inside the `db` fixture's app context, requests would share its `g`: the same
    request session and the same logged-in user across clients.)"""
    with app.app_context(), transaction() as session:
        yield session


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session inside an application context, as domain functions expect."""
    with app.app_context(), get_database(app).session() as session:
        yield session


# --- a seeded organisation -----------------------------------------------------------------


@dataclass
class Staff:
    account: Account
    password: str
    totp_secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return self.account.email

    def private_key(self) -> bytes:
        return staff_keys.unlock_private_key(self.account.wrapped_private_key, self.password)

    def code(self) -> str:
        """The code the authenticator app shows now."""
        return twofactor.current_code(self.totp_secret, utcnow())

    def login_code(self, app: Flask) -> str:
        """A code for a fresh login, as if the last login were at least one time step ago.

        A code is accepted once per 30-second step: tests that log the same person in several
        times within one step forget the remembered step first (replay has its own tests).
        """
        with get_database(app).session() as session:
            session.execute(
                update(Account).where(Account.id == self.account.id).values(totp_last_step=None)
            )
            session.commit()
        return self.code()


def enrol_directly(session: Session, account: Account) -> tuple[str, list[str]]:
    """Enrol an account in the two-step login without the set-up page (as the demo seed does)."""
    secret = twofactor.new_secret()
    return secret, twofactor.enrol(session, account, secret, utcnow())


@dataclass
class World:
    """The organisation every test starts from: two bodies, a chair and a handler in each."""

    organisation: Organisation
    cd: Body
    ttnd: Body
    recovery_codes: dict[str, str]
    staff: dict[str, Staff] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Staff:
        return self.staff[name]


WORLD_STAFF = (
    ("cd_chair", "CD", Role.CHAIR, "Chủ tịch Công đoàn"),
    ("cd_handler", "CD", Role.HANDLER, "Ủy viên Công đoàn"),
    ("ttnd_chair", "TTND", Role.CHAIR, "Trưởng ban TTND"),
    ("ttnd_handler", "TTND", Role.HANDLER, "Thành viên TTND"),
)


@pytest.fixture
def world(app: Flask) -> World:
    profile = FAST
    with app.app_context(), get_database(app).session() as session:
        organisation, bodies = create_organisation(
            session, name="Trung tâm Hội nghị (test)", slug="test", profile=profile
        )
        by_code = {new.body.code: new.body for new in bodies}
        result = World(
            organisation=organisation,
            cd=by_code["CD"],
            ttnd=by_code["TTND"],
            recovery_codes={new.body.code: new.recovery_code for new in bodies},
        )
        for name, code, role, display in WORLD_STAFF:
            password = f"pw-{name}-{secrets.token_hex(4)}"
            account = create_account(
                session,
                organisation,
                email=f"{name}@homthu.test",
                display_name=display,
                role=role,
                password=password,
                profile=profile,
                body=by_code[code],
            )
            session.flush()
            result.staff[name] = Staff(account, password, *enrol_directly(session, account))
        session.commit()
    return result


def add_staff(
    app: Flask, world: World, name: str, role: Role, body: Body | None, *, enrol: bool = True
) -> Staff:
    """Another member of the world's organisation (an administrator: body None)."""
    password = f"pw-{name}-{secrets.token_hex(4)}"
    with app.app_context(), get_database(app).session() as session:
        account = create_account(
            session,
            session.get(Organisation, world.organisation.id),
            email=f"{name}@homthu.test",
            display_name=name.replace("_", " ").title(),
            role=role,
            password=password,
            profile=FAST,
            body=session.get(Body, body.id) if body else None,
        )
        session.flush()
        staff = Staff(account, password)
        if enrol:
            staff.totp_secret, staff.recovery_codes = enrol_directly(session, account)
        session.commit()
    world.staff[name] = staff
    return staff


# --- HTTP helpers --------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def get_csrf(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code in (200, 401), response.status_code
    return csrf_from(response.get_data(as_text=True))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def staff_client(app: Flask):
    """A factory: a test client logged in as one of the world's staff."""

    def login(staff: Staff) -> FlaskClient:
        return log_in(app.test_client(), app, staff)

    return login


def log_in(client: FlaskClient, app: Flask, staff: Staff) -> FlaskClient:
    """Password and the app's code through the login form; the client then holds a session."""
    token = get_csrf(client, "/board/login")
    response = client.post(
        "/board/login",
        data={
            "csrf_token": token,
            "email": staff.email,
            "password": staff.password,
            "code": staff.login_code(app),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client
