"""Handling a case to its end in a real Chromium, against a live server (one test per backend).

The chair assigns the case, a handler acknowledges and accepts it, the chair extends the
deadline, the handler resolves it and drafts the public summary, the chair approves it and it
appears on the results page. Between the steps the reporter — JavaScript off, in a browser
context of their own that knows nothing but the receipt — reloads the follow-up page and sees
each status; at the end they rate the outcome and ask for the case to be reopened.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from playwright.sync_api import expect

from service.models import CaseStatus
from service.web.templating import STATUS_LABELS
from tests.conftest import found
from tests.live_server import LiveServer, chromium, serve

TIMEOUT_MS = 15_000


def _label(app: Flask, status: CaseStatus) -> str:
    with app.test_request_context(), force_locale("vi"):
        return str(STATUS_LABELS[status])


def _context(browser: Any, *, javascript: bool) -> Any:
    context = browser.new_context(java_script_enabled=javascript)
    context.set_default_timeout(TIMEOUT_MS)
    return context


class Reporter:
    """The reporter's browser: files the report, then follows it with the receipt alone."""

    def __init__(self, app: Flask, browser: Any, server: LiveServer) -> None:
        self.app, self.server = app, server
        self.context = _context(browser, javascript=False)
        self.page = self.context.new_page()

    def file(self, world, title: str, text: str) -> tuple[str, str]:
        page, server = self.page, self.server
        page.goto(server.url(f"/report?kind=problem&body={world.cd.id}&identity=anonymous"))
        page.locator('main form[action="/report/write"] button[type="submit"]').click()
        page.wait_for_url(re.compile(r"/report/write\?"))
        page.fill('input[name="title"]', title)
        page.fill('textarea[name="text"]', text)
        page.locator('main form[action="/report/write"] button[type="submit"]').click()
        receipt = page.get_by_test_id("receipt").inner_text().strip()
        reference = found(r"\bCD-\d{4}-\d{4}\b", page.locator("main").inner_text()).group(0)
        # Forget the filing session; come back as someone who holds only the receipt.
        self.context.clear_cookies()
        page.goto(server.url("/follow-up"))
        page.fill('input[name="receipt"]', receipt)
        page.locator('main form[action="/follow-up"] button[type="submit"]').click()
        page.wait_for_url(server.url("/follow-up/case"))
        return receipt, reference

    def sees(self, status: CaseStatus) -> None:
        self.page.goto(self.server.url("/follow-up/case"))
        assert self.page.locator("script").count() == 0
        expect(self.page.get_by_test_id("status")).to_have_text(_label(self.app, status))


class Staff:
    def __init__(self, app: Flask, browser: Any, server: LiveServer, staff) -> None:
        self.server = server
        self.context = _context(browser, javascript=True)
        self.page = self.context.new_page()
        self.page.goto(server.url("/board/login"))
        self.page.fill('input[name="email"]', staff.email)
        self.page.fill('input[name="password"]', staff.password)
        self.page.fill('input[name="code"]', staff.login_code(app))
        self.page.locator('main form button[type="submit"]').click()
        self.page.wait_for_url(server.url("/board/"))

    def open(self, reference: str) -> None:
        self.page.goto(self.server.url("/board/"))
        self.page.locator("table.cases a", has_text=reference).click()
        self.page.wait_for_url(re.compile(r"/board/cases/[0-9a-f]{32}$"))

    def press(self, form_action_end: str) -> None:
        """Submit the form whose action ends with `form_action_end`; wait for the flash."""
        self.page.locator(f'form[action$="{form_action_end}"] button[type="submit"]').click()
        expect(self.page.locator('p.flash[role="status"]')).to_have_count(1)


@pytest.mark.browser
def test_a_case_handled_to_publication_while_the_reporter_watches(app: Flask, world) -> None:
    tag = secrets.token_hex(4)
    decision = f"Đã thay máy lạnh phòng họp tầng 3. {tag}"
    summary = f"Phản ánh về máy lạnh phòng họp đã được xử lý: thay máy mới. {tag}"
    with serve(app) as server, chromium() as browser:
        reporter = Reporter(app, browser, server)
        chair = handler = None
        try:
            _receipt, reference = reporter.file(world, f"Máy lạnh hỏng {tag}", "Chảy nước.")
            reporter.sees(CaseStatus.NEW)

            chair = Staff(app, browser, server, world["cd_chair"])
            chair.open(reference)
            chair.page.select_option("#assignee", str(world["cd_handler"].account.id))
            chair.press("/assign")
            expect(chair.page.get_by_test_id("assignee")).to_have_text(
                world["cd_handler"].account.display_name
            )

            handler = Staff(app, browser, server, world["cd_handler"])
            handler.open(reference)
            handler.press("/do/acknowledge")
            reporter.sees(CaseStatus.ACKNOWLEDGED)
            handler.press("/do/accept")
            reporter.sees(CaseStatus.IN_PROGRESS)
            due_before = reporter.page.get_by_test_id("next-due").inner_text()

            chair.page.reload()
            chair.page.fill('textarea[name="reason"]', "Chờ nhà cung cấp giao máy.")
            chair.press("/extend")
            reporter.sees(CaseStatus.IN_PROGRESS)
            assert reporter.page.get_by_test_id("next-due").inner_text() != due_before

            handler.page.reload()
            handler.page.fill("#decision-resolve", decision)
            handler.press("/do/resolve")
            handler.page.fill("#publication-text", summary)
            handler.press("/publication")

            chair.page.reload()
            expect(chair.page.get_by_test_id("publication")).to_contain_text(summary)
            chair.press("/approve")
            results = chair.context.new_page()
            results.goto(server.url("/results"))
            expect(results.get_by_test_id("result").first).to_contain_text(summary)

            reporter.sees(CaseStatus.RESOLVED)
            expect(reporter.page.get_by_test_id("message").last).to_contain_text(decision)
            reporter.page.check('input[name="rating"][value="4"]')
            reporter.page.locator('form[action="/follow-up/case/rate"] button').click()
            expect(reporter.page.get_by_test_id("done")).to_have_count(1)
            assert reporter.page.locator('form[action="/follow-up/case/rate"]').count() == 0
            reporter.page.fill("#reopen-text", "Máy mới vẫn chảy nước.")
            reporter.page.locator('form[action="/follow-up/case/reopen"] button').click()
            expect(reporter.page.get_by_test_id("status")).to_have_text(
                _label(app, CaseStatus.IN_PROGRESS)
            )
            assert reporter.page.locator("script").count() == 0
        finally:
            for side in (reporter, chair, handler):
                if side is not None:
                    side.context.close()
