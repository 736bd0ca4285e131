"""axe-core over the pages of the three areas, in one Chromium against one live server.

A reporter files a named report (the form with its errors, then filed) and follows it up; the
chair of the receiving body reads it with every form a chair is shown; an administrator goes
through the dashboard and its forms. Every page is checked by axe-core (bundled by
axe-playwright-python, no network) and the test fails on any critical or serious violation,
listing them all. The last test files a report with the keyboard alone (Tab, Enter, and Space
and the arrow keys for radio buttons), each focused element showing its focus ring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask

from service.models import Role
from tests.conftest import Staff, World, add_staff
from tests.live_server import LiveServer, chromium, serve

TIMEOUT_MS = 15_000
BLOCKING = ("critical", "serious")
# Moderate in axe's scale, but asked for: headings in order, and one h1 per page.
ALSO_BLOCKING = ("heading-order", "page-has-heading-one")
RECEIPT_TEXT = re.compile(r"\d{4} \d{4} \d{4} \d{4}")


@dataclass
class Audit:
    """axe's blocking violations, page by page."""

    axe: Axe = field(default_factory=Axe)
    checked: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def check(self, page: Any, name: str) -> None:
        # The label's `for` names a field on the page (axe misses a label pointing elsewhere).
        orphans = page.locator("label[for]").evaluate_all(
            "ls => ls.filter(l => !document.getElementById(l.htmlFor)).map(l => l.htmlFor)"
        )
        if orphans:
            self.found.append(f"{name}: labels for no field: {orphans}")
        # The required mark is explained once on a page that shows it, and only there.
        notes = page.locator(".required-note").count()
        marks = page.locator(".required-mark:not(.required-note *)").count()
        if notes != (1 if marks else 0):
            self.found.append(f"{name}: {marks} required marks, {notes} notes explaining them")
        results = self.axe.run(page)
        self.checked.append(name)
        for violation in results.response["violations"]:
            if violation["impact"] not in BLOCKING and violation["id"] not in ALSO_BLOCKING:
                continue
            targets = [", ".join(node["target"]) for node in violation["nodes"]]
            self.found.append(
                f"{name} ({page.url}): {violation['impact']} {violation['id']} — "
                f"{violation['help']}: {targets}"
            )

    def visit(self, page: Any, server: LiveServer, path: str) -> None:
        response = page.goto(server.url(path))
        assert response is not None and response.status == 200, (path, response)
        self.check(page, path)


def _context(browser: Any) -> Any:
    # axe runs as a script in the page: JavaScript stays on (the reporter's pages carry none).
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _submit(page: Any, action: str) -> None:
    page.locator(f'main form[action^="{action}"] button[type="submit"]').first.click()


def _errors_are_tied_to_their_fields(page: Any) -> None:
    """Each invalid field says so and points at its errors; required fields carry the mark."""
    title = page.locator('input[name="title"]')
    assert title.get_attribute("aria-invalid") == "true"
    described = (title.get_attribute("aria-describedby") or "").split()
    assert "title-errors" in described, described
    assert page.locator("#title-errors li").count() >= 1
    assert page.locator('label[for="title"] .required-mark').count() == 1
    assert page.locator(".required-note").count() == 1
    assert page.locator('input[name="name"][required]').count() == 1


def _reporter(browser: Any, server: LiveServer, world: World, audit: Audit) -> str:
    """Landing, both steps (with and without errors), a named report, receipt, follow-up."""
    context = _context(browser)
    try:
        page = context.new_page()
        for path in ("/", "/report", "/results", "/follow-up"):
            audit.visit(page, server, path)
        page.goto(server.url("/report"))
        page.locator("form[action='/report/write']").evaluate("f => f.noValidate = true")
        _submit(page, "/report/write")
        page.wait_for_load_state()
        # Each group with an error points at it.
        assert page.locator('fieldset[aria-describedby="kind-errors"]').count() == 1
        assert page.locator("#kind-errors li").count() >= 1
        audit.check(page, "first step with errors")
        page.goto(server.url("/report"))
        page.check('input[name="kind"][value="complaint"]')
        page.check(f'input[name="body"][value="{world.cd.id}"]')
        page.check('input[name="identity"][value="named"]')
        _submit(page, "/report/write")
        page.wait_for_url(re.compile(r"/report/write\?"))
        audit.check(page, "report form (named)")
        # The browser's own checks would stop an empty form: send it as a script-less client.
        page.locator("form[action='/report/write']").evaluate("f => f.noValidate = true")
        _submit(page, "/report/write")
        page.wait_for_load_state()
        _errors_are_tied_to_their_fields(page)
        audit.check(page, "report form with errors")
        page.fill('input[name="title"]', "Phân công ca trực không công bằng")
        page.fill('textarea[name="text"]', "Tổ bếp bị xếp ca đêm liên tục ba tháng nay.")
        page.fill('input[name="name"]', "Nguyễn Văn A")
        page.fill('input[name="department"]', "Tổ bếp")
        page.fill('input[name="contact"]', "0900 000 000")
        _submit(page, "/report/write")
        receipt = page.get_by_test_id("receipt").inner_text().strip()
        assert RECEIPT_TEXT.fullmatch(receipt), receipt
        audit.check(page, "receipt")
    finally:
        context.close()
    _follow_up(browser, server, receipt, audit, "follow-up case (new)", "#retaliation-text")
    return receipt


def _follow_up(
    browser: Any, server: LiveServer, receipt: str, audit: Audit, name: str, *shown: str
) -> None:
    context = _context(browser)
    try:
        page = context.new_page()
        page.goto(server.url("/follow-up"))
        page.fill('input[name="receipt"]', receipt)
        _submit(page, "/follow-up")
        page.wait_for_url(server.url("/follow-up/case"))
        for selector in shown:
            assert page.locator(selector).count() == 1, f"{name}: no {selector}"
        audit.check(page, name)
    finally:
        context.close()


def _log_in(page: Any, server: LiveServer, app: Flask, staff: Staff, audit: Audit) -> None:
    audit.visit(page, server, "/board/login")
    page.fill('input[name="email"]', staff.email)
    page.fill('input[name="password"]', staff.password)
    page.fill('input[name="code"]', staff.login_code(app))
    _submit(page, "/board/login")
    page.wait_for_url(re.compile(r"/(board|admin)/"))


ACCOUNT_PAGES = ("/board/password", "/board/colleagues")


def _chair(browser: Any, server: LiveServer, app: Flask, world: World, audit: Audit) -> None:
    """The Trade Union's chair: the list, the named case with its forms, the other pages."""
    context = _context(browser)
    try:
        page = context.new_page()
        _log_in(page, server, app, world["cd_chair"], audit)
        audit.visit(page, server, "/board/")
        page.locator("table.cases a").first.click()
        page.wait_for_url(re.compile(r"/board/cases/[0-9a-f]{32}$"))
        case_url = page.url
        audit.check(page, "case page (new)")
        # Take it in hand, so that the forms of a case being handled are shown too.
        for action in ("acknowledge", "accept"):
            page.locator(f'form[action$="/do/{action}"] button').first.click()
            page.wait_for_url(case_url)
            audit.check(page, f"case page ({action})")
        page.fill("#decision-resolve", "Đã điều chỉnh lịch trực từ tháng sau.")
        page.locator('form[action$="/do/resolve"] button').click()
        page.wait_for_url(case_url)
        audit.check(page, "case page (resolved, publication form)")
        page.locator('form[action$="/publication"]').evaluate("f => f.noValidate = true")
        _submit(page, case_url.removeprefix(server.origin) + "/publication")
        page.wait_for_load_state()
        assert page.locator("#publication-text[aria-invalid=true]").count() == 1
        audit.check(page, "case page (publication form with errors)")
        for path in ("/board/reports", "/board/audit", *ACCOUNT_PAGES):
            audit.visit(page, server, path)
    finally:
        context.close()


ADMIN_PAGES = (
    "/admin/",
    "/admin/reports",
    "/admin/organisation",
    "/admin/bodies",
    "/admin/staff",
    "/admin/recipients",
    "/admin/routing",
    "/admin/deadlines",
    "/admin/retention",
)


def _admin(browser: Any, server: LiveServer, app: Flask, admin: Staff, audit: Audit) -> None:
    context = _context(browser)
    try:
        page = context.new_page()
        # A wrong password, and an address that does not exist: the error pages too.
        page.goto(server.url("/board/login"))
        page.fill('input[name="email"]', admin.email)
        page.fill('input[name="password"]', "not-the-password")
        page.fill('input[name="code"]', "000000")
        _submit(page, "/board/login")
        page.wait_for_load_state()
        assert page.locator(".error-summary").count() == 1
        audit.check(page, "login refused")
        response = page.goto(server.url("/no-such-page"))
        assert response is not None and response.status == 404
        audit.check(page, "not found")
        _log_in(page, server, app, admin, audit)
        for path in ADMIN_PAGES:
            audit.visit(page, server, path)
    finally:
        context.close()


@pytest.mark.browser
def test_no_critical_or_serious_violation_on_any_page(app: Flask, world: World) -> None:
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    audit = Audit()
    with serve(app) as server, chromium() as browser:
        receipt = _reporter(browser, server, world, audit)
        _chair(browser, server, app, world, audit)
        # Decided: the reporter is offered the rating and the reopening forms.
        _follow_up(browser, server, receipt, audit, "follow-up case (resolved)", "#reopen-text")
        _admin(browser, server, app, admin, audit)
    assert len(audit.checked) >= 20, audit.checked
    assert not audit.found, "axe-core found:\n" + "\n".join(audit.found)


FOCUSED = "document.activeElement"
MAX_TABS = 80


def _tab_to(page: Any, selector: str) -> None:
    """Press Tab until the focus is on `selector`; the focus must show (a ring of its own)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(f"{FOCUSED}.matches({selector!r})"):
            outline = page.evaluate(f"getComputedStyle({FOCUSED}).outlineStyle")
            assert outline != "none", f"{selector} takes the focus without showing it"
            return
    raise AssertionError(f"Tab never reaches {selector} on {page.url}")


def _choose(page: Any, name: str, value: str) -> None:
    """A radio button by keyboard: Tab into the group, Space, then the arrow keys."""
    _tab_to(page, f'input[name="{name}"]')
    page.keyboard.press("Space")
    for _ in range(10):
        if page.evaluate(f"{FOCUSED}.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no {name}={value} among the radio buttons")


@pytest.mark.browser
def test_a_report_is_filed_with_the_keyboard_alone(app: Flask, world: World) -> None:
    with serve(app) as server, chromium() as browser:
        context = _context(browser)
        try:
            page = context.new_page()
            page.goto(server.url("/"))
            # The first Tab reaches the skip link, which takes the focus to the content.
            page.keyboard.press("Tab")
            assert page.evaluate(f"{FOCUSED}.matches('a.skip-link')")
            page.keyboard.press("Enter")
            assert page.evaluate(f"{FOCUSED}.id") == "main"
            _tab_to(page, 'main a[href="/report"]')
            page.keyboard.press("Enter")
            page.wait_for_url(server.url("/report"))
            _choose(page, "kind", "problem")
            _choose(page, "body", str(world.cd.id))
            _tab_to(page, 'main button[type="submit"]')
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/report/write\?"))
            _tab_to(page, 'input[name="title"]')
            page.keyboard.type("Lối thoát hiểm bị chặn")
            _tab_to(page, 'textarea[name="text"]')
            page.keyboard.type("Kho tầng 2 để hàng chắn lối thoát hiểm.")
            _tab_to(page, 'main button[type="submit"]')
            page.keyboard.press("Enter")
            receipt = page.get_by_test_id("receipt").inner_text().strip()
            assert RECEIPT_TEXT.fullmatch(receipt), receipt
        finally:
            context.close()
