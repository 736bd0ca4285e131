"""A reporter and a handler in a real Chromium, against a live server (one test per backend).

The reporter's pages run with JavaScript disabled (they must work without it): an anonymous
report with a file goes to the Trade Union, the receipt is read off the page; a handler logs in,
reads the decrypted report, downloads the file and replies; the reporter comes back in a fresh
browser context with the receipt and reads the reply. Every request of the reporter's browser
must go to the site itself, and every HTML page it got must say `Cache-Control: no-store`.
"""

from __future__ import annotations

import http.client
import io
import logging
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from playwright.sync_api import expect
from werkzeug.http import parse_options_header

from service.models import CaseStatus
from service.people.sessions import STAFF_COOKIE
from service.web.templating import STATUS_LABELS
from tests.conftest import csrf_from, form_token_from
from tests.live_server import LiveServer, chromium, serve
from tests.test_sentinel import assert_no_leaks, log_haystacks

USER_AGENT = "HomthuBrowserTest/4.2 (SentinelAgent)"
TIMEOUT_MS = 15_000
RECEIPT_TEXT = re.compile(r"^\d{4} \d{4} \d{4} \d{4}$")


@dataclass
class Traffic:
    """Everything a browser context asked for and got back."""

    requests: list[Any] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)

    def watch(self, context: Any) -> None:
        context.on("request", self._request)
        context.on("response", self._response)

    # Playwright wants real functions as handlers (it tags them), not a list's bound append.
    def _request(self, request: Any) -> None:
        self.requests.append(request)

    def _response(self, response: Any) -> None:
        self.responses.append(response)

    def html_responses(self) -> list[Any]:
        return [
            r for r in self.responses if r.headers.get("content-type", "").startswith("text/html")
        ]


def _new_context(browser: Any, *, javascript: bool) -> Any:
    context = browser.new_context(java_script_enabled=javascript, user_agent=USER_AGENT)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _no_scripts(page: Any) -> None:
    assert page.locator("script").count() == 0, f"{page.url} carries a <script>"


def _status_label(app: Flask, status: CaseStatus) -> str:
    with app.test_request_context(), force_locale("vi"):
        return str(STATUS_LABELS[status])


@pytest.mark.browser
def test_report_reply_and_follow_up_in_chromium(app: Flask, world, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "homthu"):
        caplog.set_level(logging.DEBUG, logger=name)
    tag = secrets.token_hex(4)
    title = f"Máy lạnh phòng họp hỏng {tag}"
    text = f"Điều hòa tầng 3 chảy nước từ tuần trước, chưa ai sửa. {tag}"
    reply = f"Công đoàn đã nhận và chuyển bộ phận hành chính xử lý. {tag}"
    # ASCII on purpose: a Vietnamese file name cannot be downloaded over real HTTP yet, which
    # test_a_file_with_a_vietnamese_name_downloads_over_real_http pins down.
    filename = f"ảnh-minh-chứng-{tag}.bin"
    # Larger than one STREAM chunk (64 KiB), so the download crosses chunk boundaries.
    attachment = secrets.token_bytes(150_000)
    reporter_traffic = Traffic()

    with serve(app) as server, chromium() as browser:
        receipt, reference = _file_report(
            browser, server, reporter_traffic, world, title, text, filename, attachment
        )
        _handle_case(browser, server, world, reference, title, text, filename, attachment, reply)
        _follow_up(app, browser, server, reporter_traffic, world, receipt, reference, reply)

    # Nothing but the site itself: no font, script, image or beacon from any other host.
    assert reporter_traffic.requests
    foreign = [
        r.url for r in reporter_traffic.requests if not r.url.startswith(server.origin + "/")
    ]
    assert not foreign, f"the reporter's browser left the site: {foreign}"
    html = reporter_traffic.html_responses()
    assert len(html) >= 8, [r.url for r in html]
    cached = [
        (r.url, r.headers.get("cache-control"))
        for r in html
        if "no-store" not in r.headers.get("cache-control", "")
    ]
    assert not cached, f"reporter pages without Cache-Control: no-store: {cached}"

    # The real server's request log names neither the client's address nor its browser.
    assert_no_leaks(
        log_haystacks(caplog.records),
        {"client address": "127.0.0.1", "user agent": USER_AGENT, "receipt": receipt},
    )


def _file_report(
    browser: Any,
    server: LiveServer,
    traffic: Traffic,
    world,
    title: str,
    text: str,
    filename: str,
    attachment: bytes,
) -> tuple[str, str]:
    """An anonymous report of a problem to the Trade Union, with a file; JavaScript off."""
    context = _new_context(browser, javascript=False)
    traffic.watch(context)
    try:
        page = context.new_page()
        page.goto(server.url("/"))
        _no_scripts(page)
        page.locator('main a[href="/report"]').click()
        page.wait_for_url(server.url("/report"))
        _no_scripts(page)

        page.check('input[name="kind"][value="problem"]')
        page.check(f'input[name="body"][value="{world.cd.id}"]')
        page.check('input[name="identity"][value="anonymous"]')
        page.locator('main form[action="/report/write"] button[type="submit"]').click()
        page.wait_for_url(re.compile(r"/report/write\?"))
        _no_scripts(page)

        # A report of a problem is not a complaint: no "handled as information" notice.
        assert page.locator('input[name="understood_information"]').count() == 0
        page.fill('input[name="title"]', title)
        page.fill('textarea[name="text"]', text)
        page.set_input_files(
            'input[name="attachments"]',
            files=[
                {"name": filename, "mimeType": "application/octet-stream", "buffer": attachment}
            ],
        )
        page.locator('main form[action="/report/write"] button[type="submit"]').click()
        receipt_element = page.get_by_test_id("receipt")
        receipt = receipt_element.inner_text().strip()
        assert RECEIPT_TEXT.match(receipt), receipt
        _no_scripts(page)
        reference = re.search(r"\bCD-\d{4}-\d{4}\b", page.locator("main").inner_text())
        assert reference, "the receipt page names no Trade Union reference"
        return receipt, reference.group(0)
    finally:
        context.close()


def _handle_case(
    browser: Any,
    server: LiveServer,
    world,
    reference: str,
    title: str,
    text: str,
    filename: str,
    attachment: bytes,
    reply: str,
) -> None:
    """The Trade Union's handler reads the case, downloads the file and replies (JS allowed)."""
    handler = world["cd_handler"]
    context = _new_context(browser, javascript=True)
    try:
        page = context.new_page()
        page.goto(server.url("/board/login"))
        page.fill('input[name="email"]', handler.email)
        page.fill('input[name="password"]', handler.password)
        page.fill('input[name="code"]', handler.code())
        page.locator('main form button[type="submit"]').click()
        page.wait_for_url(server.url("/board/"))

        page.locator("table.cases a", has_text=reference).click()
        page.wait_for_url(re.compile(r"/board/cases/[0-9a-f]{32}$"))
        assert title in page.locator("main h1").inner_text()
        assert text in page.locator(".message.reporter .message-text").first.inner_text()

        with page.expect_download() as download_info:
            page.locator(".files a", has_text=filename).click()
        download = download_info.value
        assert download.failure() is None
        assert download.suggested_filename == filename
        assert Path(download.path()).read_bytes() == attachment

        page.fill('textarea[name="text"]', reply)
        page.locator('form[action$="/reply"] button[type="submit"]').click()
        # The POST redirects back to the same address: wait for what the new page shows.
        expect(page.locator('p.flash[role="status"]')).to_have_count(1)
        expect(page.locator(".message.staff .message-text")).to_have_text([reply])
    finally:
        context.close()


def _follow_up(
    app: Flask,
    browser: Any,
    server: LiveServer,
    traffic: Traffic,
    world,
    receipt: str,
    reference: str,
    reply: str,
) -> None:
    """The reporter comes back in a fresh context, with nothing but the receipt; JS off."""
    context = _new_context(browser, javascript=False)
    traffic.watch(context)
    try:
        page = context.new_page()
        page.goto(server.url("/"))
        page.locator('main a[href="/follow-up"]').click()
        page.wait_for_url(server.url("/follow-up"))
        _no_scripts(page)
        assert page.input_value('input[name="receipt"]') == ""
        page.fill('input[name="receipt"]', receipt)
        page.locator('main form[action="/follow-up"] button[type="submit"]').click()
        page.wait_for_url(server.url("/follow-up/case"))
        _no_scripts(page)

        assert reference in page.locator("main").inner_text()
        status = page.get_by_test_id("status").inner_text().strip()
        assert status == _status_label(app, CaseStatus.NEW)
        messages = page.get_by_test_id("message")
        assert messages.count() == 1
        assert reply in messages.first.inner_text()
        # The reply is signed by the body, never by the handler's name.
        assert world["cd_handler"].account.display_name not in page.content()

        digits = receipt.replace(" ", "")
        for cookie in context.cookies():
            assert digits not in cookie["value"] and receipt not in cookie["value"], cookie["name"]

        # "Close and forget": the follow-up page then asks for the receipt again.
        page.locator('form[action="/follow-up/end"] button[type="submit"]').click()
        page.wait_for_url(server.url("/"))
        response = page.goto(server.url("/follow-up/case"))
        assert response is not None and response.status == 401
        assert page.locator('input[name="receipt"]').count() == 1
        assert reply not in page.content()
    finally:
        context.close()


def test_a_file_with_a_vietnamese_name_downloads_over_real_http(app: Flask, world, staff_client):
    """A file keeps its Vietnamese name through a real HTTP server (not only the test client).

    The test client never encodes headers, so only a real server shows whether
    Content-Disposition can carry the name (RFC 6266 `filename*=UTF-8''…`).
    """
    name = "biên-bản-họp-tổ-công-đoàn.pdf"
    content = secrets.token_bytes(3000)
    choice = f"kind=problem&body={world.cd.id}&identity=anonymous"
    reporter = app.test_client()
    form = reporter.get(f"/report/write?{choice}").get_data(as_text=True)
    filed = reporter.post(
        "/report/write",
        data={
            "csrf_token": csrf_from(form),
            "form_token": form_token_from(form),
            **dict(pair.split("=") for pair in choice.split("&")),
            "title": "Biên bản họp",
            "text": "Xem tệp đính kèm.",
            "attachments": [(io.BytesIO(content), name, "application/pdf")],
        },
        content_type="multipart/form-data",
    )
    assert filed.status_code == 200, filed.status_code
    handler = staff_client(world["cd_handler"])
    listing = handler.get("/board/").get_data(as_text=True)
    case_url = re.search(r'href="(/board/cases/[0-9a-f]{32})"', listing)
    assert case_url
    page = handler.get(case_url.group(1)).get_data(as_text=True)
    file_url = re.search(r'href="(/board/cases/[0-9a-f]{32}/files/[0-9a-f]{32})"', page)
    assert file_url and name in page
    cookie = handler.get_cookie(STAFF_COOKIE)
    assert cookie is not None

    with serve(app) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            connection.request(
                "GET",
                file_url.group(1),
                headers={"Cookie": f"{STAFF_COOKIE}={cookie.value}", "Connection": "close"},
            )
            response = connection.getresponse()
            body = response.read()
            disposition = response.getheader("Content-Disposition", "")
        finally:
            connection.close()

    assert response.status == 200
    assert body == content
    kind, options = parse_options_header(disposition)
    assert kind == "attachment"
    assert options.get("filename") == name, disposition
