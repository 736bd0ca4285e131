"""In a real Chromium: the administrator invites a handler, who sets a password, enrols the
two-step login (the code computed with pyotp from the key the page shows), is granted access
by a colleague and reads a case that was filed before they joined."""

from __future__ import annotations

import re

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from service.mail.outbox import delivery_bodies
from service.models import OutboxMessage, Role
from tests.casefactory import file_case
from tests.conftest import add_staff, domain_session, found
from tests.live_server import chromium, serve

TIMEOUT_MS = 15_000
PASSWORD = "một câu mật khẩu thật dài 2026"


def _login(page, server, staff) -> None:
    page.goto(server.url("/board/login"))
    page.fill('input[name="email"]', staff.email)
    page.fill('input[name="password"]', staff.password)
    page.fill('input[name="code"]', staff.code())
    page.locator('main form button[type="submit"]').click()


@pytest.mark.browser
def test_invite_enrol_grant_and_read_in_chromium(app: Flask, world) -> None:
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    with domain_session(app) as db:
        case = file_case(db, world, title="Đơn trước khi có người mới").case
    with serve(app) as server, chromium() as browser:
        # The administrator invites a handler of the Trade Union.
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        _login(page, server, admin)
        page.wait_for_url(server.url("/admin/"))
        page.locator('nav.admin-nav a[href="/admin/staff"]').click()
        page.fill('input[name="email"]', "moi.cd@homthu.test")
        page.fill('input[name="display_name"]', "Võ Thị Mới")
        page.check('input[name="role"][value="handler"]')
        page.select_option('select[name="body"]', str(world.cd.id))
        page.locator('form[action="/admin/staff"] button[type="submit"]').click()
        assert page.locator("p.flash").count() == 1
        context.close()

        with domain_session(app) as db:
            mail = db.scalars(
                select(OutboxMessage).where(OutboxMessage.recipient == "moi.cd@homthu.test")
            ).one()
            text_body = delivery_bodies(mail)[0]
        link = found(r"http://homthu\.test(/board/invite/[\w-]+)", text_body).group(1)

        # The invitee opens the link, chooses a password and enrols the two-step login.
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(server.url(link))
        page.fill('input[name="password"]', PASSWORD)
        page.fill('input[name="confirm"]', PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(server.url("/board/two-factor"))
        assert page.locator("img.qr").evaluate("img => img.naturalWidth > 0")
        secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
        page.fill('input[name="code"]', pyotp.TOTP(secret).now())
        page.locator("main form button[type=submit]").click()
        assert page.get_by_test_id("recovery-codes").locator("li").count() == 10
        page.locator("main a.button.primary").click()
        page.wait_for_url(server.url("/board/"))
        assert page.locator("table.cases a").count() == 0  # nothing granted yet

        # A colleague grants access.
        colleague = browser.new_context()
        colleague.set_default_timeout(TIMEOUT_MS)
        other = colleague.new_page()
        _login(other, server, world["cd_handler"])
        other.wait_for_url(server.url("/board/"))
        other.goto(server.url("/board/colleagues"))
        row = other.locator("tr", has_text="Võ Thị Mới")
        row.locator("button[type=submit]").click()
        assert other.locator("p.flash").count() == 1
        colleague.close()

        # The new handler reads the case.
        page.goto(server.url("/board/"))
        page.locator("table.cases a", has_text=case.reference).click()
        page.wait_for_url(re.compile(r"/board/cases/[0-9a-f]{32}$"))
        assert "Đơn trước khi có người mới" in page.locator("main h1").inner_text()
        context.close()
