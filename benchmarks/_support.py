"""Shared set-up for the benchmark scripts (not a benchmark itself).

Fresh databases (a SQLite file under a temporary directory, or a PostgreSQL database named
homthu_bench_<random>), built by the migrations and seeded like tests/conftest.py's `world`:
one organisation with both standard bodies, a chair and a handler in each, every derived value
made with the PRODUCTION Argon2id profile.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the project is not installed

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB_PREFIX = "homthu_bench_"

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RECEIPT = re.compile(r'data-testid="receipt">([^<]+)<')

STAFF = (
    ("cd_chair", "CD", "CHAIR", "Chủ tịch Công đoàn"),
    ("cd_handler", "CD", "HANDLER", "Ủy viên Công đoàn"),
    ("ttnd_chair", "TTND", "CHAIR", "Trưởng ban TTND"),
    ("ttnd_handler", "TTND", "HANDLER", "Thành viên TTND"),
)


FORM_TOKEN_INPUT = re.compile(r'name="form_token"[^>]*value="([^"]+)"')


def form_token_from(html: str) -> str:
    """The report form's one-time token: each filing needs a form of its own."""
    match = FORM_TOKEN_INPUT.search(html)
    if match is None:
        raise RuntimeError("the report form carries no one-time token")
    return match.group(1)


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    if match is None:
        raise RuntimeError("the page carries no CSRF token")
    return match.group(1)


def receipt_from(html: str) -> str:
    match = RECEIPT.search(html)
    if match is None:
        raise RuntimeError("the response carries no receipt")
    return match.group(1)


# --- databases -----------------------------------------------------------------------------


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'homthu.sqlite3'}"


def pg_reachable(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `admin_url`; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{BENCH_DB_PREFIX}{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the application -----------------------------------------------------------------------


def app_environment(database_url: str, instance_dir: Path, mode: str = "development") -> dict:
    """Environment variables for an app with the PRODUCTION Argon2id profile."""
    return {
        "HOMTHU_ENV": mode,
        "HOMTHU_INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "ARGON2_PROFILE": "production",
        "PUBLIC_BASE_URL": "http://homthu.bench",
        "MAIL_DEFAULT_SENDER": "homthu@homthu.bench",
        "LOG_LEVEL": "WARNING",
        # One client files dozens of reports here; the per-address limits (tests/test_limits.py)
        # would refuse them. The benchmarks measure the application's own cost.
        "RATELIMIT_ENABLED": "false",
    }


def apply_environment(env: dict[str, str]) -> None:
    """Replace every setting the app reads in os.environ (nothing inherited from the shell)."""
    for name in list(os.environ):
        if name.startswith(("MAIL_", "HOMTHU_", "ARGON2_", "STAFF_", "REPORTER_", "MAX_ATTACH")):
            del os.environ[name]
    for name in ("SECRET_KEY", "DATABASE_URL", "ORGANISATION", "PUBLIC_BASE_URL", "LOG_LEVEL"):
        os.environ.pop(name, None)
    os.environ.update(env)


@dataclass
class Seeded:
    organisation_id: int
    receipt_salt: bytes
    passwords: dict[str, str] = field(default_factory=dict)  # email -> password
    totp_secrets: dict[str, str] = field(default_factory=dict)  # email -> two-step secret

    def login_form(self, email: str, csrf_token: str) -> dict[str, str]:
        """What the login form posts for `email`: password and the authenticator's code now."""
        from service.people import twofactor
        from service.platform.clock import utcnow

        return {
            "csrf_token": csrf_token,
            "email": email,
            "password": self.passwords[email],
            "code": twofactor.current_code(self.totp_secrets[email], utcnow()),
        }


def migrate_and_seed(app) -> Seeded:
    """Build the schema and create the organisation, its bodies and four staff accounts."""
    from service.admin.organisations import create_organisation
    from service.models import Role
    from service.people import twofactor
    from service.people.accounts import create_account
    from service.platform.clock import utcnow
    from service.platform.db import get_database
    from service.platform.migrate import upgrade_database
    from service.sealing.profiles import PRODUCTION

    upgrade_database(app.config["DATABASE_URL"])
    profile = PRODUCTION
    with app.app_context(), get_database(app).session() as session:
        organisation, bodies = create_organisation(
            session, name="Trung tâm Hội nghị (benchmark)", slug="bench", profile=profile
        )
        by_code = {new.body.code: new.body for new in bodies}
        seeded = Seeded(organisation.id, organisation.receipt_salt)
        for name, code, role, display in STAFF:
            password = f"pw-{name}-{secrets.token_hex(6)}"
            email = f"{name}@homthu.bench"
            account = create_account(
                session,
                organisation,
                email=email,
                display_name=display,
                role=Role[role],
                password=password,
                profile=profile,
                body=by_code[code],
            )
            # Enrolled in the two-step login, as the demo seed does (no set-up page).
            secret = twofactor.new_secret()
            twofactor.enrol(session, account, secret, utcnow())
            seeded.passwords[email] = password
            seeded.totp_secrets[email] = secret
        session.commit()
    return seeded


# --- running a benchmark on each backend ----------------------------------------------------


def run_on_backends(parser, measure, size: str) -> int:
    """Parse the arguments (adding the backend options), then `measure(label, database_url,
    instance_dir, args)` on SQLite and on PostgreSQL; print the goal, return the exit status."""
    import tempfile

    parser.add_argument("--postgres", metavar="URL", help="administrative URL of PostgreSQL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="homthu-bench-") as temp:
        temp_dir = Path(temp)
        os.environ["HOMTHU_INSTANCE_DIR"] = str(temp_dir / "instance")  # read once, at import
        print("cpus", os.cpu_count(), size, getattr(args, size))
        ok = on_each_backend(
            args, temp_dir, lambda label, url, instance: measure(label, url, instance, args)
        )
    print("goal", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def on_each_backend(args, temp_dir: Path, measure) -> bool:
    """measure(label, database_url, instance_dir) on SQLite, then on PostgreSQL if it answers
    (a fresh database, dropped afterwards); True if every measured backend passed."""
    ok = True
    instance = temp_dir / "instance"
    if args.no_sqlite:
        print("[sqlite] skipped (--no-sqlite)")
    else:
        ok &= measure("sqlite", sqlite_url(temp_dir), instance)
    pg_url = args.postgres or DEFAULT_PG_URL
    if args.no_postgres:
        print("[postgresql] skipped (--no-postgres)")
    elif not pg_reachable(pg_url):
        if args.postgres:
            raise SystemExit(f"PostgreSQL at {args.postgres} does not answer")
        print(f"[postgresql] skipped: nothing answers at {pg_url}")
    else:
        with fresh_pg_database(pg_url) as url:
            ok &= measure("postgresql", url, instance)
    return ok
