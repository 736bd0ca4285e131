"""Configuration: strict by default, every setting documented, production refuses the unsafe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import SETTINGS, ConfigError, load_config
from service import create_app
from service.admin.organisations import create_organisation
from service.platform.db import get_database
from service.sealing.profiles import FAST, PRODUCTION, KdfProfile, profile_named

ROOT = Path(__file__).resolve().parent.parent
STRONG = "s" * 40


def test_the_default_mode_is_production_and_it_requires_a_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({})


def test_production_refuses_a_short_secret_key():
    with pytest.raises(ConfigError, match="too short"):
        load_config({"SECRET_KEY": "short"})


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
