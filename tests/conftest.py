"""Shared fixtures: real databases built by the migrations, a seeded organisation, clients.

Every database test runs on SQLite and, when TEST_DATABASE_URL points at a PostgreSQL server,
on PostgreSQL too. The schema is built once per run by `alembic upgrade head` into a template
(a file for SQLite, a template database for PostgreSQL); each test gets its own copy. A second
template holds the seeded world too, built on first use, for the tests that ask for `world`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.routing.rules import Rule

from service import create_app
from service.admin.organisations import create_organisation
from service.models import Account, Body, Organisation, Role
from service.people import twofactor
from service.people.accounts import create_account
from service.people.principal import Principal
from service.platform.clock import utcnow
from service.platform.db import get_database
from service.platform.migrate import upgrade_database
from service.platform.unit_of_work import transaction
from service.sealing import staff_keys
from service.sealing.profiles import FAST
from tests.pgpool import Pool, Snapshot

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


# Each test builds its own app, and werkzeug compiles a URL builder (Python source through `ast`
# and `compile`) for each of its 160 routes: 0.11 s of a test's setup. The builder's code depends
# only on the rule's parsed parts and defaults (it reaches the converters through `self` when it
# runs), so one compiled per distinct rule serves every app of the run.
Builder = Callable[..., tuple[str, str]]
_BUILDERS: dict[tuple, Builder] = {}
_compile_builder = Rule._compile_builder


def _cached_builder(self: Rule, append_unknown: bool = True) -> Builder:
    defaults = self.defaults or {}
    converters = tuple(type(self._converters.get(name)).__qualname__ for name in sorted(defaults))
    key = (tuple(self._trace), repr(sorted(defaults.items())), converters, append_unknown)
    if key not in _BUILDERS:
        _BUILDERS[key] = _compile_builder(self, append_unknown)
    return _BUILDERS[key]


Rule._compile_builder = _cached_builder  # type: ignore[method-assign]  # the patch above


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


def _world_template(request: pytest.FixtureRequest, backend: str) -> WorldTemplate | None:
    """The seeded template when the test uses the world (built on first use), else None."""
    if "world" not in request.fixturenames:
        return None
    return request.getfixturevalue(WORLD_TEMPLATES[backend])


@pytest.fixture(scope="session")
def pg_pool(pg_template: str) -> Iterator[Pool]:
    pool = Pool(PG_URL, _pg_url_for, pg_template, Snapshot.take(_pg_url_for(pg_template)))
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def pg_world_pool(pg_world_template: WorldTemplate) -> Iterator[Pool]:
    source = pg_world_template.source
    pool = Pool(PG_URL, _pg_url_for, source, Snapshot.take(_pg_url_for(source)))
    yield pool
    pool.close()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """A freshly migrated database of its own for this test (with the world in it if the test
    asks for the world)."""
    seeded = _world_template(request, request.param)
    if request.param == "sqlite":
        path = tmp_path / "homthu.sqlite3"
        shutil.copyfile(
            seeded.source if seeded else request.getfixturevalue("sqlite_template"), path
        )
        yield f"sqlite:///{path}"
        return
    pool = request.getfixturevalue("pg_world_pool" if seeded else "pg_pool")
    name = pool.take()
    try:
        yield _pg_url_for(name)
    finally:
        pool.give_back(name)


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


# --- the application -----------------------------------------------------------------------


# One per run, not per test: the world's TOTP secrets are sealed under it once, in the template.
RUN_SECRET_KEY = secrets.token_urlsafe(32)


def set_test_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, instance: Path
) -> dict[str, str]:
    """The environment a test app starts from: nothing inherited from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(
            (
                "MAIL_",
                "HOMTHU_",
                "ARGON2_",
                "STAFF_",
                "REPORTER_",
                "REOPEN_",
                "PUBLICATION_",
                "HSTS_",
                "RATELIMIT_",
                "LIMIT_",
                "PROXY_",
                "FILINGS_",
            )
        ) or name in (
            "FLASK_DEBUG",
            "DEBUG",
            "SECRET_KEY",
            "DATABASE_URL",
            "ORGANISATION",
            "PUBLIC_BASE_URL",
        ):
            monkeypatch.delenv(name, raising=False)
    env = {
        "HOMTHU_ENV": "testing",
        "HOMTHU_INSTANCE_DIR": str(instance),
        "SECRET_KEY": RUN_SECRET_KEY,
        "DATABASE_URL": database_url,
        "ARGON2_PROFILE": "fast",
        "PUBLIC_BASE_URL": "http://homthu.test",
        "MAIL_DEFAULT_SENDER": "homthu@homthu.test",
        # Off, so no test trips over another's budget; tests/test_limits.py turns them on.
        "RATELIMIT_ENABLED": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def app_env(monkeypatch, tmp_path, database_url) -> dict[str, str]:
    """The environment a test app starts from: nothing inherited from the developer's shell."""
    return set_test_env(monkeypatch, database_url, tmp_path / "instance")


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

    def principal(self) -> Principal:
        """The account acting with its unlocked key, as the board's commands receive it."""
        return Principal(self.account, self.private_key())

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


def build_world(app: Flask) -> World:
    """Seed the world through the domain functions, as an administrator would."""
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


@dataclass(frozen=True)
class StaffSeed:
    account_id: int
    password: str
    totp_secret: str
    recovery_codes: tuple[str, ...]


@dataclass(frozen=True)
class WorldTemplate:
    """A database with the world seeded once per run and backend (the key pairs and Argon2
    hashes cost a second a test on PostgreSQL), and what exists only outside the database: the
    ids, passwords, TOTP secrets and recovery codes."""

    source: str  # SQLite: the file; PostgreSQL: the template database's name
    organisation_id: int
    body_ids: dict[str, int]
    recovery_codes: dict[str, str]
    staff: dict[str, StaffSeed]

    @classmethod
    def of(cls, source: str, world: World) -> WorldTemplate:
        return cls(
            source=source,
            organisation_id=world.organisation.id,
            body_ids={"CD": world.cd.id, "TTND": world.ttnd.id},
            recovery_codes=dict(world.recovery_codes),
            staff={
                name: StaffSeed(s.account.id, s.password, s.totp_secret, tuple(s.recovery_codes))
                for name, s in world.staff.items()
            },
        )

    def load(self, app: Flask) -> World:
        """A World of fresh ORM objects read from a copy of this template (detached, as the
        seeding session left them)."""
        with get_database(app).session() as session:
            organisation = session.get(Organisation, self.organisation_id)
            assert organisation is not None, "this test's database was not copied from the world"
            result = World(
                organisation=organisation,
                cd=session.get_one(Body, self.body_ids["CD"]),
                ttnd=session.get_one(Body, self.body_ids["TTND"]),
                recovery_codes=dict(self.recovery_codes),
            )
            for name, seed in self.staff.items():
                account = session.get_one(Account, seed.account_id)
                staff = Staff(account, seed.password, seed.totp_secret, list(seed.recovery_codes))
                result.staff[name] = staff
        return result


def _seed_world(database_url: str, instance: Path) -> World:
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_test_env(monkeypatch, database_url, instance)
        application = create_app()
        try:
            return build_world(application)
        finally:
            get_database(application).engine.dispose()


@pytest.fixture(scope="session")
def sqlite_world_template(sqlite_template: Path, tmp_path_factory) -> WorldTemplate:
    path = tmp_path_factory.mktemp("world") / "world.sqlite3"
    shutil.copyfile(sqlite_template, path)
    world = _seed_world(f"sqlite:///{path}", path.parent / "instance")
    # Tests copy the main file only: fold the write-ahead log into it first.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return WorldTemplate.of(str(path), world)


@pytest.fixture(scope="session")
def pg_world_template(pg_template: str, tmp_path_factory) -> Iterator[WorldTemplate]:
    name = f"homthu_world_{secrets.token_hex(4)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        world = _seed_world(_pg_url_for(name), tmp_path_factory.mktemp("world") / "instance")
        yield WorldTemplate.of(name, world)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


WORLD_TEMPLATES = {"sqlite": "sqlite_world_template", "postgresql": "pg_world_template"}


@pytest.fixture
def world(request: pytest.FixtureRequest, app: Flask, backend: str) -> World:
    """The organisation every test starts from, already in this test's database."""
    return request.getfixturevalue(WORLD_TEMPLATES[backend]).load(app)


def add_staff(
    app: Flask, world: World, name: str, role: Role, body: Body | None, *, enrol: bool = True
) -> Staff:
    """Another member of the world's organisation (an administrator: body None)."""
    password = f"pw-{name}-{secrets.token_hex(4)}"
    with app.app_context(), get_database(app).session() as session:
        account = create_account(
            session,
            session.get_one(Organisation, world.organisation.id),
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


def found(pattern: str | re.Pattern[str], text: str, flags: int = 0) -> re.Match[str]:
    """re.search for what a test expects to be there: no match fails the test, naming it."""
    match = re.search(pattern, text, flags)
    assert match is not None, f"{pattern!r} not found"
    return match


FORM_TOKEN_INPUT = re.compile(r'name="form_token"[^>]*value="([^"]+)"')


def form_token_from(html: str) -> str:
    """The report form's one-time token (service/web/once.py)."""
    match = FORM_TOKEN_INPUT.search(html)
    assert match, "the report form carries no one-time token"
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
