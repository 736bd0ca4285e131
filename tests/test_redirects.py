"""`next` redirects stay inside the site: a corpus of tricks against the helper and over HTTP.

After a login and a language switch the browser is sent to `next`. Anything that a browser could
read as another site (schemes, hosts, `//`, backslashes, control characters it strips, encoded or
look-alike slashes) must send it to the default page instead, and no value may cause a 500.
"""

from __future__ import annotations

import pytest

from service.web.common import safe_next
from tests.conftest import get_csrf

DEFAULT = "/default"

# Values as the view receives them (already percent-decoded once by the query-string parser).
OFF_SITE = [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("/\t/evil.example", id="tab"),  # the browser drops it: //evil.example
    pytest.param("/%09/evil.example", id="tab-encoded"),
    pytest.param("/\n/evil.example", id="lf"),
    pytest.param("/\r\nSet-Cookie: a=b", id="crlf-header"),
    pytest.param("/%0d%0aSet-Cookie:a=b", id="crlf-encoded"),
    pytest.param("/\x00", id="nul"),
    pytest.param("/%00", id="nul-encoded"),
    pytest.param("/board\x7f", id="del"),
    pytest.param(" //evil.example", id="leading-space"),
    pytest.param("\x01//evil.example", id="leading-control"),
    pytest.param("//evil.example", id="protocol-relative"),
    pytest.param("///evil.example", id="triple-slash"),
    pytest.param("////evil.example/a", id="quadruple-slash"),
    pytest.param("/\\evil.example", id="slash-backslash"),
    pytest.param("\\/evil.example", id="backslash-slash"),
    pytest.param("\\\\evil.example", id="double-backslash"),
    pytest.param("/board\\..\\..\\evil", id="inner-backslash"),
    pytest.param("/%5cevil.example", id="backslash-encoded"),
    pytest.param("/%5Cevil.example", id="backslash-encoded-upper"),
    pytest.param("/%2F/evil.example", id="slash-encoded"),
    pytest.param("/%2f%2fevil.example", id="slashes-encoded"),
    pytest.param("%2F%2Fevil.example", id="all-encoded"),
    pytest.param("/%252F/evil.example", id="slash-double-encoded"),
    pytest.param("/%%32%46/evil.example", id="slash-encoded-in-parts"),
    pytest.param("https://evil.example/", id="absolute"),
    pytest.param("HTTPS://evil.example/", id="absolute-upper"),
    pytest.param("http:evil.example", id="scheme-without-slashes"),
    pytest.param("http:/evil.example", id="scheme-one-slash"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
    pytest.param("evil.example", id="bare-host"),
    pytest.param("board/cases", id="relative"),
    pytest.param("//user@evil.example", id="userinfo"),
    pytest.param("https://homthu.test@evil.example/", id="userinfo-absolute"),
    pytest.param("/\u3000/evil.example", id="ideographic-space"),
    pytest.param("\uff0f\uff0fevil.example", id="fullwidth-slashes"),
    pytest.param("/\uff0fevil.example", id="fullwidth-slash"),
    pytest.param("/\uff3cevil.example", id="fullwidth-backslash"),
    pytest.param("/\u200b/evil.example", id="zero-width-space"),
    pytest.param("/%E2%80%AE/evil.example", id="right-to-left-override-encoded"),
    pytest.param("/%EF%BC%8F%EF%BC%8Fevil.example", id="fullwidth-slashes-encoded"),
    pytest.param("/" + "a" * 3000, id="too-long"),
]

# (value, where it leads): kept as it is, only an empty query is dropped.
ON_SITE = [
    pytest.param("/", "/", id="root"),
    pytest.param("/board/", "/board/", id="board"),
    pytest.param("/board/cases?status=open&page=2", "/board/cases?status=open&page=2", id="query"),
    pytest.param("/report?", "/report", id="empty-query"),  # request.full_path without one
    pytest.param("/results?page=2", "/results?page=2", id="results"),
    pytest.param("/board/cases?q=%C3%A1", "/board/cases?q=%C3%A1", id="encoded-letter"),
    pytest.param("/follow-up/case#messages", "/follow-up/case#messages", id="fragment"),
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_anything_that_could_leave_the_site_goes_to_the_default_page(target):
    assert safe_next(target, DEFAULT) == DEFAULT


@pytest.mark.parametrize(("target", "expected"), ON_SITE)
def test_a_path_of_this_site_is_kept(target, expected):
    assert safe_next(target, DEFAULT) == expected


def assert_redirects_to(response, expected: str) -> None:
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"] == expected


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("target", OFF_SITE)
def test_the_language_switch_sends_odd_targets_home(client, target):
    query = {} if target is None else {"next": target}
    assert_redirects_to(client.get("/lang/en", query_string=query), "/")


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(("target", "expected"), ON_SITE)
def test_the_language_switch_returns_to_the_page(client, target, expected):
    assert_redirects_to(client.get("/lang/en", query_string={"next": target}), expected)


def log_in_with_next(client, app, staff, target: str | None):
    token = get_csrf(client, "/board/login")
    return client.post(
        "/board/login",
        query_string={} if target is None else {"next": target},
        data={
            "csrf_token": token,
            "email": staff.email,
            "password": staff.password,
            "code": staff.login_code(app),
        },
    )


@pytest.mark.parametrize("target", OFF_SITE)
def test_a_login_sends_odd_targets_to_the_board(client, app, world, target):
    response = log_in_with_next(client, app, world["cd_handler"], target)
    assert_redirects_to(response, "/board/")


@pytest.mark.parametrize(("target", "expected"), ON_SITE)
def test_a_login_returns_to_the_page_asked_for(client, app, world, target, expected):
    response = log_in_with_next(client, app, world["cd_handler"], target)
    assert_redirects_to(response, expected)


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("target", OFF_SITE)
def test_the_login_form_keeps_odd_targets_without_a_500(client, target):
    query = {} if target is None else {"next": target}
    assert client.get("/board/login", query_string=query).status_code == 200
