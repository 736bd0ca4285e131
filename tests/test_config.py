"""Configuration: strict by default, every setting documented, production refuses the unsafe."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import click
import pytest
from sqlalchemy import select

import config
from config import SETTINGS, ConfigError, load_config
from service import create_app
from service.admin.organisations import create_organisation
from service.models import Account
from service.people.sessions import REPORTER_COOKIE, STAFF_COOKIE
from service.platform.db import get_database, make_engine
from service.sealing.profiles import FAST, PRODUCTION, KdfProfile, profile_named
from service.sealing.staff_keys import check_password
from service.web.common import LANG_COOKIE
from service.web.session_cookies import PUBLIC_SESSION_COOKIE, STAFF_SESSION_COOKIE
from tests.conftest import csrf_from, domain_session
from tests.flows import file_report, follow_up

ROOT = Path(__file__).resolve().parent.parent
# A key as the README says to make one (secrets.token_urlsafe(48)), fixed so no test is flaky.
STRONG = "jTcec3naYwuobjUSl_n9o07c0rClOleZ1wS-9I4SBfA64jJeMKXZM5YjMH9VXOzI"


def test_the_default_mode_is_production_and_it_requires_a_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({})


def test_production_refuses_a_short_secret_key():
    with pytest.raises(ConfigError, match="too short"):
        load_config({"SECRET_KEY": "short"})


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("s" * 40, id="one-character"),
        pytest.param("ab" * 20, id="two-characters-repeated"),
        pytest.param("abcdefgh" * 4, id="short-piece-repeated"),
        pytest.param("0123456789abcdef" * 2, id="hex-digits-repeated"),
        pytest.param("a" * 40 + "bcdefghij", id="mostly-one-character"),
        pytest.param("password" + "1" * 24, id="word-and-padding"),
    ],
)
def test_production_refuses_a_low_entropy_secret_key(key):
    with pytest.raises(ConfigError, match=r"SECRET_KEY .*guess"):
        load_config({"SECRET_KEY": key})


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(STRONG, id="token_urlsafe-48"),
        pytest.param(
            "ec7700babb2feb29aeeb6b94041bc375853a32cde020a0bcb3428f9fd8db05d0", id="hex-32"
        ),
        pytest.param("ca2f7398dd2baeb4611af7e1a44c847c", id="hex-16"),
        pytest.param("Oq0Wc4S6+ARUoAmUl1CgZ5ce8L9DdyVF", id="base64-24"),
    ],
)
def test_production_accepts_random_secret_keys(key):
    assert load_config({"SECRET_KEY": key})["SECRET_KEY"] == key


def test_a_weak_secret_key_is_accepted_outside_production():
    assert load_config({"HOMTHU_ENV": "testing", "SECRET_KEY": "s" * 40})["SECRET_KEY"]


@pytest.mark.parametrize("name", ["FLASK_DEBUG", "DEBUG"])
@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "2"])
def test_production_refuses_debug(name, value):
    with pytest.raises(ConfigError, match=f"{name} is on in production"):
        load_config({"SECRET_KEY": STRONG, name: value})


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_production_accepts_debug_off(value):
    load_config({"SECRET_KEY": STRONG, "FLASK_DEBUG": value, "DEBUG": value})


def test_development_may_debug():
    load_config({"HOMTHU_ENV": "development", "SECRET_KEY": STRONG, "FLASK_DEBUG": "1"})


def test_production_sends_hsts_for_a_year_unless_configured():
    assert load_config({"SECRET_KEY": STRONG})["HSTS_MAX_AGE"] == 365 * 24 * 3600
    assert load_config({"SECRET_KEY": STRONG, "HSTS_MAX_AGE": "600"})["HSTS_MAX_AGE"] == 600
    assert load_config({"HOMTHU_ENV": "testing"})["HSTS_MAX_AGE"] is None  # plain HTTP there
    with pytest.raises(ConfigError, match="HSTS_MAX_AGE"):
        load_config({"SECRET_KEY": STRONG, "HSTS_MAX_AGE": "-1"})


def test_production_uses_the_production_argon2_profile_and_secure_cookies():
    config = load_config({"SECRET_KEY": STRONG})
    assert config["ARGON2_PROFILE"] == "production"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_the_production_argon2_profile_meets_the_owasp_minimum():
    profile = profile_named("production")
    assert profile.memory_kib >= 19 * 1024 and profile.iterations >= 2


@pytest.mark.parametrize("mode", ["production", "development"])
def test_the_fast_profile_is_refused_outside_tests(mode):
    with pytest.raises(ConfigError, match="tests only"):
        load_config({"HOMTHU_ENV": mode, "SECRET_KEY": STRONG, "ARGON2_PROFILE": "fast"})


def test_nonsense_is_refused_with_the_name_of_the_setting():
    with pytest.raises(ConfigError, match="HOMTHU_ENV"):
        load_config({"HOMTHU_ENV": "staging"})
    with pytest.raises(ConfigError, match="MAX_ATTACHMENT_MB"):
        load_config({"HOMTHU_ENV": "testing", "MAX_ATTACHMENT_MB": "lots"})


def test_upload_limits_come_from_the_environment():
    config = load_config(
        {"HOMTHU_ENV": "testing", "MAX_ATTACHMENT_MB": "7", "MAX_ATTACHMENTS": "3"}
    )
    assert config["MAX_ATTACHMENT_BYTES"] == 7 * 1024 * 1024
    assert config["MAX_ATTACHMENTS"] == 3
    assert config["MAX_CONTENT_LENGTH"] >= 3 * 7 * 1024 * 1024


def test_the_embedded_default_database_is_sqlite_under_instance():
    config = load_config({"HOMTHU_ENV": "testing"})
    assert config["DATABASE_URL"] == f"sqlite:///{ROOT / 'instance' / 'homthu.sqlite3'}"


def test_every_setting_is_in_the_readme_configuration_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\|\s*`([A-Z_0-9]+)`\s*\|", readme, re.M))
    assert {setting.name for setting in SETTINGS} <= documented


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_production_refuses_to_start_with_demo_data(app_env, monkeypatch):
    app = create_app()
    with app.app_context(), get_database(app).session() as db:
        create_organisation(db, name="DEMO", slug="demo", profile=FAST, is_demo=True)
        db.commit()
    get_database(app).engine.dispose()
    monkeypatch.setenv("HOMTHU_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.delenv("ARGON2_PROFILE")
    with pytest.raises(ConfigError, match="Demo data"):
        create_app()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_seed_is_refused_in_production_and_marks_every_page_in_development(
    app_env, monkeypatch
):
    monkeypatch.setenv("HOMTHU_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.delenv("ARGON2_PROFILE")
    production = create_app()
    result = production.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0 and "never" in result.output
    get_database(production).engine.dispose()

    monkeypatch.setenv("HOMTHU_ENV", "testing")
    monkeypatch.setenv("ARGON2_PROFILE", "fast")
    development = create_app()
    result = development.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert result.output.count("demo-") == 5  # four handlers and an administrator, shown once
    again = development.test_cli_runner().invoke(args=["demo", "seed"])
    assert "demo-" not in again.output.replace("demo organisation", "")
    client = development.test_client()
    for path in ("/", "/report", "/follow-up", "/board/login", "/missing"):
        assert "demo-banner" in client.get(path).get_data(as_text=True), path
    get_database(development).engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_organisation_created_in_production_derives_receipts_with_the_production_profile(
    app_env, monkeypatch
):
    monkeypatch.setenv("HOMTHU_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.delenv("ARGON2_PROFILE")
    app = create_app()
    result = app.test_cli_runner().invoke(args=["org", "create", "--name", "Unit", "--slug", "u"])
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"^\s+(CD|TTND)\s+\S{4}-", result.output, re.M)) == 2
    with app.app_context(), get_database(app).session() as db:
        from sqlalchemy import select

        from service.models import Organisation

        organisation = db.scalar(select(Organisation).where(Organisation.slug == "u"))
        assert organisation is not None
        profile = KdfProfile.decode(organisation.receipt_kdf)
    assert profile == PRODUCTION
    get_database(app).engine.dispose()


# --- the production application ----------------------------------------------------------


def production_app(monkeypatch, **env: str):
    """The application in production on the test's database (same SECRET_KEY as the world's)."""
    monkeypatch.setenv("HOMTHU_ENV", "production")
    monkeypatch.delenv("ARGON2_PROFILE")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_production_refuses_to_start_in_debug_mode(app_env, monkeypatch):
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        production_app(monkeypatch, FLASK_DEBUG="1")
    monkeypatch.delenv("FLASK_DEBUG")
    with pytest.raises(ConfigError, match="debug"):
        create_app({"DEBUG": True})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_production_refuses_cookies_without_secure(app_env, monkeypatch):
    monkeypatch.setenv("HOMTHU_ENV", "production")
    monkeypatch.delenv("ARGON2_PROFILE")
    with pytest.raises(ConfigError, match="Secure"):
        create_app({"SESSION_COOKIE_SECURE": False})


def set_cookies(response) -> dict[str, str]:
    headers = response.headers.getlist("Set-Cookie")
    return {header.split("=", 1)[0]: header for header in headers}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_cookie_is_secure_in_production(app, world, monkeypatch):
    production = production_app(monkeypatch)
    client = production.test_client()
    cookies = set_cookies(client.get("/lang/en"))
    cookies |= set_cookies(client.get("/report/write?kind=problem&identity=anonymous&body=auto"))
    cookies |= set_cookies(client.get("/board/login"))
    staff = world["cd_handler"]
    token = csrf_from(client.get("/board/login").get_data(as_text=True))
    response = client.post(
        "/board/login",
        data={
            "csrf_token": token,
            "email": staff.email,
            "password": staff.password,
            "code": staff.login_code(app),
        },
    )
    assert response.status_code == 302
    cookies |= set_cookies(response)
    reporter = production.test_client()
    _, receipt = file_report(reporter)
    assert receipt
    cookies |= set_cookies(follow_up(reporter, receipt))
    expected = {
        LANG_COOKIE,
        PUBLIC_SESSION_COOKIE,
        STAFF_SESSION_COOKIE,
        STAFF_COOKIE,
        REPORTER_COOKIE,
    }
    assert expected <= set(cookies)
    for name in expected:
        assert "; Secure" in cookies[name], cookies[name]
    get_database(production).engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_production_sends_hsts_with_the_configured_max_age(app, world, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/").headers  # testing: plain HTTP
    production = production_app(monkeypatch, HSTS_MAX_AGE="600")
    for path in ("/", "/board/login", "/missing"):
        headers = production.test_client().get(path).headers
        assert headers["Strict-Transport-Security"] == "max-age=600", path
    get_database(production).engine.dispose()


# --- files on disk -------------------------------------------------------------------------


def private(path: Path) -> bool:
    """Nobody but the owner may read, write or enter it."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_a_new_sqlite_database_and_its_folder_are_private(tmp_path):
    folder = tmp_path / "instance"
    engine = make_engine(f"sqlite:///{folder / 'homthu.sqlite3'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as connection:  # the write-ahead log and its index exist while open
        connection.exec_driver_sql("SELECT * FROM t").all()
        files = sorted(folder.iterdir())
        assert [file.name for file in files] == [
            "homthu.sqlite3",
            "homthu.sqlite3-shm",
            "homthu.sqlite3-wal",
        ]
        assert private(folder) and all(private(file) for file in files)
    engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_db_upgrade_creates_a_private_database(app_env, monkeypatch, tmp_path):
    path = tmp_path / "fresh" / "homthu.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    app = create_app()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert private(path.parent) and private(path)
    get_database(app).engine.dispose()


def test_the_development_secret_and_its_folder_are_private(tmp_path, monkeypatch):
    folder = tmp_path / "instance"
    monkeypatch.setattr(config, "INSTANCE_DIR", folder)
    load_config({"HOMTHU_ENV": "development"})
    assert private(folder) and private(folder / "dev-secret-key")


# --- secrets on the command line -----------------------------------------------------------

SECRET_WORDS = re.compile(r"password|secret|recovery|passphrase|token|key", re.I)


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += all_commands(command, f"{prefix}{name} ")
    return found


def test_no_command_takes_a_secret_as_an_argument(app):
    """Arguments are visible in `ps` and kept in shell history: secrets come from a prompt."""
    for name, command in all_commands(app.cli):
        for parameter in command.params:
            words = " ".join([parameter.name or "", *parameter.opts])
            assert not SECRET_WORDS.search(words), f"{name}: {words}"


ACCOUNT_ADD = ["account", "add", "--org", "test", "--email", "new@homthu.test", "--name", "New"]
PASSPHRASE = "a long and unusual passphrase"


def test_account_add_reads_the_password_from_standard_input(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[*ACCOUNT_ADD, "--role", "handler", "--body", "CD"], input=PASSPHRASE + "\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSPHRASE not in result.output
    with domain_session(app) as db:
        account = db.scalar(select(Account).where(Account.email == "new@homthu.test"))
        assert account is not None and check_password(PASSPHRASE, account.password_hash)


def test_account_add_refuses_a_password_option_and_an_empty_input(app, world):
    runner = app.test_cli_runner()
    args = [*ACCOUNT_ADD, "--role", "handler", "--body", "CD"]
    refused = runner.invoke(args=[*args, "--password", PASSPHRASE], input=PASSPHRASE + "\n")
    assert refused.exit_code == 2 and "No such option" in refused.output
    empty = runner.invoke(args=args, input="")
    assert empty.exit_code == 1 and "standard input" in empty.output
    with domain_session(app) as db:
        assert db.scalar(select(Account).where(Account.email == "new@homthu.test")) is None


def test_production_defaults_are_on_and_generous_enough_for_an_office():
    config = load_config({"HOMTHU_ENV": "testing"})  # the defaults, whatever the mode
    assert config["RATELIMIT_ENABLED"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["PROXY_HOPS"] == 0
    assert config["LIMIT_RECEIPT_FAILURES"] == "10 per 10 minutes"
    assert config["LIMIT_FILINGS"] == "20 per hour"
    assert config["LIMIT_MESSAGES"] == "30 per hour"
    assert config["LIMIT_STAFF_LOGIN_FAILURES"] == "30 per 10 minutes"
    assert config["LIMIT_LINK_FAILURES"] == "20 per hour"
    assert config["FILINGS_ALERT_PER_DAY"] == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIMIT_FILINGS", "lots"),
        ("RATELIMIT_STORAGE_URI", "memcached://localhost"),
        ("PROXY_HOPS", "-1"),
        ("FILINGS_ALERT_PER_DAY", "0"),
    ],
)
def test_a_malformed_limit_setting_is_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config({"HOMTHU_ENV": "testing", name: value})
