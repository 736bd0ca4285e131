"""Mail you can see in development: the local sink keeps what the outbox delivers, and /dev/mail
shows it. Production and tests have no such page, and the sink refuses to run there."""

from __future__ import annotations

import time

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from service import create_app
from service.admin.invitations import invite
from service.cli.dev import MailToFiles
from service.models import Account, Role
from service.platform.db import get_database
from service.platform.dev_mail import dev_mail_folder
from service.platform.settings import get_settings
from tests.conftest import add_staff
from tests.mailserver import free_port, point_app_at, send_due
from tests.test_config import production_app


def development_app(monkeypatch) -> Flask:
    """The application as `make run` starts it, on the test's database."""
    monkeypatch.setenv("HOMTHU_ENV", "development")
    monkeypatch.delenv("ARGON2_PROFILE")  # the fast profile is for tests only
    return create_app()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_mail_page_and_the_sink_exist_only_in_development(app, world, monkeypatch):
    assert app.test_client().get("/dev/mail").status_code == 404  # testing
    refused = app.test_cli_runner().invoke(args=["dev", "mail-sink", "--port", "1"])
    assert refused.exit_code != 0 and "only in development" in refused.output

    production = production_app(monkeypatch)
    assert "/dev/mail" not in {rule.rule for rule in production.url_map.iter_rules()}
    assert production.test_client().get("/dev/mail").status_code == 404
    get_database(production).engine.dispose()

    monkeypatch.setenv("HOMTHU_ENV", "development")  # the profile was dropped for production
    development = create_app()
    page = development.test_client().get("/dev/mail")
    assert page.status_code == 200 and "Chưa có thư nào" in page.get_data(as_text=True)
    get_database(development).engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_invitation_sent_in_development_shows_on_the_page(app, world, monkeypatch):
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    development = development_app(monkeypatch)
    folder = dev_mail_folder(development.instance_path)
    sink = Controller(MailToFiles(folder), hostname="127.0.0.1", port=free_port())
    sink.start()
    try:
        point_app_at(development, sink.port)
        with development.app_context(), get_database(development).session() as db:
            settings = get_settings()
            invite(
                db,
                db.get_one(Account, admin.account.id),
                email="moi@homthu.test",
                display_name="Nguyễn Văn Mới",
                role=Role.HANDLER,
                body_id=world.cd.id,
                base_url=settings.public_base_url,
                hours=settings.invite_hours,
            )
            db.commit()
            assert send_due(db).sent == 1
        deadline = time.monotonic() + 5
        while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sink.stop()
    page = development.test_client().get("/dev/mail", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "moi@homthu.test" in html and "/board/invite/" in html
    get_database(development).engine.dispose()
