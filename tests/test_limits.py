"""Rate limits per client address (service/web/limits.py): 429 pages in Vietnamese that say when
to try again, budgets an office behind one address does not reach, failures-only counting where
it matters, a keyed hash instead of the address, and proxies believed only as configured."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service import create_app
from service.models import Account, OutboxMessage, Role
from service.platform.db import get_database
from service.web.limits import EXTENSION
from tests.conftest import add_staff, csrf_from, get_csrf
from tests.flows import file_report, follow_up

pytestmark = pytest.mark.usefixtures("world")

REDIS_URL = "redis://127.0.0.1:6379/0"
VOLUME = "unusual_volume"
ADDRESS = "203.0.113.77"  # TEST-NET-3: no real client's address


@pytest.fixture
def limits_env() -> dict[str, str]:
    """What a test changes of the limits (parametrize it indirectly); on, with the defaults."""
    return {}


@pytest.fixture
def app(app_env, monkeypatch, limits_env) -> Iterator[Flask]:
    monkeypatch.setenv("RATELIMIT_ENABLED", "true")
    for name, value in limits_env.items():
        monkeypatch.setenv(name, value)
    application = create_app()
    yield application
    get_database(application).engine.dispose()


def from_address(app: Flask, address: str = ADDRESS) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def assert_vietnamese_429(response, *, at_most: int) -> None:
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= at_most
    html = text_of(response)
    assert "Quá nhiều yêu cầu" in html
    minutes = -(-seconds // 60)
    assert f"Vui lòng thử lại sau {minutes} phút." in html


# --- filings -------------------------------------------------------------------------------


@pytest.mark.parametrize("limits_env", [{"LIMIT_FILINGS": "2 per hour"}])
def test_filings_past_the_budget_get_a_vietnamese_429_with_retry_after(app, limits_env):
    client = from_address(app)
    for _ in range(2):
        response, receipt = file_report(client)
        assert response.status_code == 200 and receipt
    response, receipt = file_report(client)
    assert receipt is None
    assert_vietnamese_429(response, at_most=3600)
    other, receipt = file_report(from_address(app, "198.51.100.9"))  # another address: its own
    assert other.status_code == 200 and receipt


def test_an_office_behind_one_address_still_files_with_the_defaults(app):
    assert app.config["LIMIT_FILINGS"] == "20 per hour"
    for _ in range(15):
        response, receipt = file_report(from_address(app))  # one browser each, one address
        assert response.status_code == 200 and receipt


# --- receipts: only wrong ones count ----------------------------------------------------------


def test_ten_wrong_receipts_then_429_even_for_the_right_one(app):
    client = from_address(app)
    _, receipt = file_report(client)
    for _ in range(12):  # right receipts do not count
        assert follow_up(from_address(app), receipt).status_code == 302
    for _ in range(10):
        assert follow_up(client, "1111 2222 3333 4444").status_code == 403
    assert_vietnamese_429(follow_up(client, receipt), at_most=600)
    assert follow_up(from_address(app, "198.51.100.9"), receipt).status_code == 302


# --- messages, staff logins, links ------------------------------------------------------------


@pytest.mark.parametrize("limits_env", [{"LIMIT_MESSAGES": "1 per hour"}])
def test_reporter_messages_are_limited(app, limits_env):
    client = from_address(app)
    _, receipt = file_report(client)
    follow_up(client, receipt)

    def send():
        token = csrf_from(text_of(client.get("/follow-up/case")))
        return client.post("/follow-up/case/message", data={"csrf_token": token, "text": "Thêm"})

    assert send().status_code == 302
    assert_vietnamese_429(send(), at_most=3600)


@pytest.mark.parametrize("limits_env", [{"LIMIT_STAFF_LOGIN_FAILURES": "2 per 10 minutes"}])
def test_failed_staff_logins_are_limited_per_address(app, world, limits_env):
    client = from_address(app)

    def wrong():
        token = get_csrf(client, "/board/login")
        data = {"csrf_token": token, "email": "nobody@homthu.test", "password": "x", "code": "1"}
        return client.post("/board/login", data=data)

    assert wrong().status_code == 401
    assert wrong().status_code == 401
    assert_vietnamese_429(wrong(), at_most=600)


@pytest.mark.parametrize("limits_env", [{"LIMIT_LINK_FAILURES": "2 per hour"}])
def test_guessed_invitation_links_are_limited(app, limits_env):
    client = from_address(app)
    for _ in range(2):
        assert client.get(f"/board/invite/{secrets.token_urlsafe(16)}").status_code == 410
    assert_vietnamese_429(client.get("/board/invite/x"), at_most=3600)


# --- the address: a keyed hash, and only as trusted proxies say -------------------------------


def _memory_keys(app: Flask) -> list[str]:
    storage = app.extensions[EXTENSION].storage
    return [str(key) for key in (*storage.storage, *storage.expirations)]


def test_the_limiter_stores_a_keyed_hash_never_the_address(app, caplog, database_url):
    caplog.set_level("DEBUG")
    client = from_address(app)
    file_report(client)
    follow_up(client, "1111 2222 3333 4444")
    keys = _memory_keys(app)
    assert keys, "the limiter counted nothing"
    assert not [key for key in keys if ADDRESS in key]
    assert ADDRESS not in caplog.text
    if database_url.startswith("sqlite:///"):
        stored = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert ADDRESS.encode() not in stored


def _receipt_budget_shared(app: Flask, forwarded: tuple[str, str]) -> bool:
    """Whether two clients behind one connection address, claiming different X-Forwarded-For,
    share one receipt budget (of 1 wrong receipt)."""
    first, second = (from_address(app, "127.0.0.1") for _ in forwarded)
    first.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded[0]
    second.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded[1]
    assert follow_up(first, "1111 2222 3333 4444").status_code == 403
    return follow_up(second, "1111 2222 3333 4444").status_code == 429


@pytest.mark.parametrize("limits_env", [{"LIMIT_RECEIPT_FAILURES": "1 per 10 minutes"}])
def test_x_forwarded_for_is_ignored_by_default(app, limits_env):
    assert app.config["PROXY_HOPS"] == 0
    assert _receipt_budget_shared(app, ("198.51.100.1", "198.51.100.2"))


@pytest.mark.parametrize(
    "limits_env", [{"LIMIT_RECEIPT_FAILURES": "1 per 10 minutes", "PROXY_HOPS": "1"}]
)
def test_x_forwarded_for_is_honoured_with_one_trusted_proxy(app, limits_env):
    assert not _receipt_budget_shared(app, ("198.51.100.1", "198.51.100.2"))


# --- Redis, as in production --------------------------------------------------------------------


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({error}): limiter not tested on it")
    yield client
    client.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("limits_env", [{"LIMIT_RECEIPT_FAILURES": "2 per 10 minutes"}])
def test_the_limiter_counts_in_redis_and_stores_no_address_there(
    app_env, monkeypatch, redis_client, limits_env, world
):
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", REDIS_URL)
    prefix = f"homthu-test-{secrets.token_hex(6)}"
    application = create_app({"RATELIMIT_KEY_PREFIX": prefix})
    try:
        client = from_address(application)
        for _ in range(2):
            assert follow_up(client, "1111 2222 3333 4444").status_code == 403
        assert follow_up(client, "1111 2222 3333 4444").status_code == 429
        keys = [key.decode() for key in redis_client.keys(f"*{prefix}*")]
        assert keys, "nothing was counted in Redis"
        assert not [key for key in keys if ADDRESS in key]
        assert not [key for key in keys if re.search(r"\d+\.\d+\.\d+\.\d+", key)]
    finally:
        for key in redis_client.keys(f"*{prefix}*"):
            redis_client.delete(key)
        get_database(application).engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "limits_env",
    [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0", "LIMIT_RECEIPT_FAILURES": "2 per hour"}],
)
def test_an_unreachable_redis_does_not_take_the_site_down(app, limits_env, caplog):
    client = from_address(app)
    statuses = [follow_up(client, "1111 2222 3333 4444").status_code for _ in range(3)]
    assert statuses[:2] == [403, 403]
    print("STATUSES", statuses)
    assert statuses[2] in (403, 429)  # counted in memory meanwhile, or not at all: never a 500
    response, receipt = file_report(client)
    assert response.status_code == 200 and receipt
    assert ADDRESS not in caplog.text


# --- unusual volume: the administrators are told, reporters are not refused ----------------------


@pytest.mark.parametrize("limits_env", [{"FILINGS_ALERT_PER_DAY": "2"}])
def test_past_the_daily_budget_the_administrators_get_one_mail_and_filing_goes_on(
    app, world, limits_env
):
    add_staff(app, world, "site_admin", Role.ADMIN, None, enrol=False)
    for number in range(5):
        response, receipt = file_report(from_address(app, f"198.51.100.{number}"))
        assert response.status_code == 200 and receipt
    with app.app_context(), get_database(app).session() as db:
        alerts = list(db.scalars(select(OutboxMessage).where(OutboxMessage.template == VOLUME)))
        admins = db.scalars(
            select(Account.email).where(Account.role == Role.ADMIN, Account.active.is_(True))
        ).all()
    assert admins and sorted(alert.recipient for alert in alerts) == sorted(admins)
    assert all("hơn 2 đơn" in alert.text_body for alert in alerts)
