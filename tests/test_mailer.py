"""Delivering the outbox over real SMTP: headers, retries, outages, crashes, concurrent workers."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, select
from sqlalchemy.exc import OperationalError

from service.mail.delivery import (
    DeliveryPolicy,
    failed_mail,
    outbox_counts,
    retry_failed,
)
from service.mail.outbox import enqueue_mail, enqueue_reporter_notice
from service.models import OutboxMessage, OutboxStatus
from service.platform.clock import LOCAL_TZ, utcnow
from service.platform.db import get_database
from service.platform.settings import MAIL_SESSION_INFO, MailSettings
from service.platform.workers import DatabaseOutage
from tests import mailserver
from tests.conftest import found
from tests.mailserver import Inbox, SmtpServer, free_port, point_app_at, send_due

smtp = mailserver.smtp  # the fixture

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))


def queue(db, world, count: int, template: str = "new_case") -> list[str]:
    """`count` mails to the CD chair, committed; returns their Message-IDs."""
    rows = [
        enqueue_mail(
            db,
            organisation_id=world.organisation.id,
            recipient=world["cd_chair"].email,
            template=template,
        )
        for _ in range(count)
    ]
    db.commit()
    return [row.message_id for row in rows]


def rows(db) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def later(**delta):
    return lambda: utcnow() + dt.timedelta(**delta)


def test_a_due_mail_arrives_with_its_own_message_id_and_the_time_it_was_sent(db, world, smtp):
    (message_id,) = queue(db, world, 1)
    before = utcnow().replace(microsecond=0)
    report = send_due(db)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (received,) = smtp.inbox.messages
    message = received.message
    assert message["Message-ID"] == message_id
    assert received.rcpt_tos == [world["cd_chair"].email]
    assert message["Date"].datetime >= before
    assert "Hòm thư kín" in received.part("text/plain") and "<a href" in received.part("text/html")
    (row,) = rows(db)
    assert row.status == OutboxStatus.SENT and row.sent_at is not None and row.attempts == 1


def test_a_mail_held_for_the_next_slot_is_not_sent_before_it(db, world, smtp):
    enqueue_mail(
        db,
        organisation_id=world.organisation.id,
        recipient=world["cd_chair"].email,
        template="new_case",
        reporter_action=True,
    )
    db.commit()
    assert send_due(db).attempted == 0
    assert smtp.inbox.messages == []
    assert send_due(db, clock=later(days=1)).sent == 1


def test_the_backoff_grows_exponentially_with_jitter_and_is_capped(app):
    policy = DeliveryPolicy(
        max_attempts=9, retry_seconds=60, retry_max_seconds=3600, lease_seconds=1
    )
    seconds = [
        (policy.delay(n, lambda: 0.0).total_seconds(), policy.delay(n, lambda: 1.0).total_seconds())
        for n in range(1, 9)
    ]
    assert seconds[:4] == [(30, 60), (60, 120), (120, 240), (240, 480)]
    assert seconds[-1] == (1800, 3600)  # capped at OUTBOX_RETRY_MAX_SECONDS


def test_an_outage_loses_nothing_and_sends_each_mail_once_when_the_server_is_back(app, db, world):
    port = free_port()  # nothing listens here yet: the server is down
    point_app_at(app, port)
    first = queue(db, world, 3)

    report = send_due(db)
    assert report.unreachable and report.attempted == 1  # one attempt, then the batch stops
    stored = rows(db)
    assert all(row.status == OutboxStatus.PENDING for row in stored)
    tried = [row for row in stored if row.attempts]
    assert len(tried) == 1 and tried[0].next_attempt_at > utcnow()
    assert tried[0].last_error is not None
    assert "Connection refused" in tried[0].last_error or "Errno" in tried[0].last_error
    # The next run tries the next mail, not the one waiting out its backoff.
    assert send_due(db, clock=later(seconds=1)).attempted == 1
    assert [row.attempts for row in rows(db)] == [1, 1, 0]

    second = queue(db, world, 2)  # changes go on during the outage
    server = SmtpServer(Inbox(), port)
    server.start()
    try:
        assert send_due(db, clock=later(days=1)).sent == 5
        assert send_due(db, clock=later(days=2)).attempted == 0
        received = server.inbox.message_ids()
    finally:
        server.stop()
    assert sorted(received) == sorted(first + second)  # every mail, exactly once
    assert {row.status for row in rows(db)} == {OutboxStatus.SENT}


def test_after_the_last_attempt_a_mail_is_failed_kept_and_listed_without_its_body(app, db, world):
    point_app_at(app, free_port())
    queue(db, world, 1)
    for day in range(1, 5):
        send_due(db, clock=later(days=day), max_attempts=3)
    (row,) = rows(db)
    assert row.status == OutboxStatus.FAILED and row.attempts == 3
    assert outbox_counts(db) == {"pending": 0, "sent": 0, "failed": 1}
    (listed,) = failed_mail(db, world.organisation.id)
    assert (listed.id, listed.template, listed.recipient) == (row.id, "new_case", row.recipient)
    assert not hasattr(listed, "text_body") and listed.retryable

    body_line = row.text_body.splitlines()[0]
    db.rollback()  # SQLite: let the command take the write lock
    result = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert result.exit_code == 0 and f"#{row.id}" in result.output and "failed: 1" in result.output
    assert body_line not in result.output

    assert retry_failed(db, [row.id]) == 1
    (row,) = rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)


def test_a_reporters_address_is_sealed_in_the_outbox_and_erased_once_sent(db, world, smtp, backend):
    address = "private.person.7q@example.test"
    enqueue_reporter_notice(
        db, organisation_id=world.organisation.id, address=address, template="reporter_notice"
    )
    db.commit()
    (row,) = rows(db)
    assert row.recipient == "reporter" and address.encode() not in (row.recipient_sealed or b"")
    send_due(db)
    (received,) = smtp.inbox.messages
    assert received.rcpt_tos == [address]
    (row,) = rows(db)
    assert row.status == OutboxStatus.SENT and row.recipient_sealed is None


def test_a_reporters_address_is_erased_when_the_notice_fails_for_good(app, db, world):
    point_app_at(app, free_port())
    enqueue_reporter_notice(
        db,
        organisation_id=world.organisation.id,
        address="gone@example.test",
        template="reporter_notice",
    )
    db.commit()
    for day in (1, 2, 3):
        send_due(db, clock=later(days=day), max_attempts=2)
    (row,) = rows(db)
    assert row.status == OutboxStatus.FAILED and row.recipient_sealed is None
    assert "gone@example.test" not in (row.last_error or "")
    assert retry_failed(db, [row.id]) == 0  # nothing to send it to any more


# --- separate worker processes --------------------------------------------------------------


def worker(
    server: SmtpServer, *args: str, environment: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        **server.environment(),
        "OUTBOX_LEASE_SECONDS": "600",
        **(environment or {}),
    }
    return subprocess.Popen(
        [FLASK, "--app", "wsgi", "outbox", "send", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_worker_killed_mid_send_loses_nothing(app, db, world, backend):
    """SIGKILL while the SMTP server holds the third mail unanswered: the first two are sent,
    the third is not lost, and after a restart every mail has arrived exactly once."""
    expected = queue(db, world, 5)
    inbox = Inbox(hold_after=2)
    server = SmtpServer(inbox, free_port())
    server.start()
    try:
        process = worker(server, "--batch", "10")
        assert inbox.holding.wait(60), process.communicate()[0] if process.poll() else "no send"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
        inbox.release.set()  # the held mail is refused: the server never accepted it
        time.sleep(0.2)
        assert len(inbox.messages) == 2

        stored = {row.message_id: row for row in rows(db)}
        assert sum(row.status == OutboxStatus.SENT for row in stored.values()) == 2
        assert sum(row.status == OutboxStatus.PENDING for row in stored.values()) == 3

        # On SQLite the killed worker's claim is a lease; on PostgreSQL its lock died with it.
        inbox.hold_after = None
        point_app_at(app, server.port)
        clock = later(hours=1) if backend == "sqlite" else utcnow
        assert send_due(db, clock=clock).sent == 3
    finally:
        server.stop()
    assert sorted(inbox.message_ids()) == sorted(expected)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_on_postgresql_never_send_one_mail_twice(db, world):
    expected = queue(db, world, 30)
    inbox = Inbox(wait_for_clients=2, delay=0.02)
    server = SmtpServer(inbox, free_port())
    server.start()
    try:
        workers = [worker(server, "--batch", "100") for _ in range(2)]
        outputs = [process.communicate(timeout=120)[0] for process in workers]
    finally:
        server.stop()
    assert all(process.returncode == 0 for process in workers), outputs
    sent = [int(found(r"^sent (\d+), to retry", out, re.M).group(1)) for out in outputs]
    assert all(count > 0 for count in sent), outputs  # both really worked at the same time
    assert sum(sent) == 30
    ids = inbox.message_ids()
    assert len(ids) == len(set(ids)) == 30 and set(ids) == set(expected)


def test_an_invitation_link_is_never_readable_from_the_database(app, db, world, smtp, backend):
    """A link that opens an account is sealed in the outbox and erased once delivered."""
    from service.admin import invitations
    from service.models import Account, Role
    from tests.conftest import add_staff

    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    invitations.invite(
        db,
        db.get(Account, admin.account.id),
        email="moi.7k@homthu.test",
        display_name="Người Mới",
        role=Role.HANDLER,
        body_id=world.cd.id,
        base_url="http://homthu.test",
        hours=72,
    )
    db.commit()
    (row,) = [r for r in rows(db) if r.recipient == "moi.7k@homthu.test"]
    assert "/board/invite/" not in row.text_body and row.html_body is None
    assert row.body_sealed is not None
    if backend == "sqlite":
        stored = b"".join(p.read_bytes() for p in Path(db.get_bind().url.database).parent.iterdir())
        assert b"/board/invite/" not in stored

    send_due(db)
    (received,) = [m for m in smtp.inbox.messages if m.rcpt_tos == ["moi.7k@homthu.test"]]
    assert re.search(r"/board/invite/[\w-]+", received.part("text/plain"))
    (row,) = [r for r in rows(db) if r.recipient == "moi.7k@homthu.test"]
    assert row.status == OutboxStatus.SENT and row.body_sealed is None
    assert "/board/invite/" not in row.text_body


def test_the_outbox_writes_with_the_mail_settings_its_session_carries_not_the_apps(app, world):
    """The mail adapter's settings travel with the session, set where the session is made."""
    settings = MailSettings("hom@elsewhere.example", "https://elsewhere.example", (21,))
    now = dt.datetime(2026, 3, 2, 9, tzinfo=LOCAL_TZ)
    with (
        app.app_context(),
        get_database(app).sessionmaker(info={MAIL_SESSION_INFO: settings}) as db,
    ):
        row = enqueue_mail(
            db,
            organisation_id=world.organisation.id,
            recipient=world["cd_chair"].email,
            template="new_case",
            now=now,
            reporter_action=True,
        )
    assert app.config["PUBLIC_BASE_URL"] == "http://homthu.test"  # the app says otherwise
    assert row.message_id.endswith("@elsewhere.example>")
    assert "https://elsewhere.example/board/" in row.text_body
    assert row.next_attempt_at == dt.datetime(2026, 3, 2, 21, tzinfo=LOCAL_TZ)


OUTAGE_APP_NAME = "homthu-outage-test"


def _admin(database_url: str) -> psycopg.Connection:
    url = make_url(database_url).set(database="postgres", drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def _wait_for(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_outlives_a_database_outage_and_delivers_what_was_queued_meanwhile(
    db, world, database_url
):
    """The worker's connections are cut and its database refuses new ones for a while: the loop
    logs (without naming the database), backs off, and delivers once the database is back."""
    name = make_url(database_url).database
    assert name is not None
    db.execute(select(1))  # the test's own connection is open before the database closes
    db.commit()
    inbox = Inbox()
    server = SmtpServer(inbox, free_port())
    server.start()
    output: list[str] = []
    environment = {
        "DATABASE_URL": f"{database_url}?application_name={OUTAGE_APP_NAME}",
        "OUTBOX_POLL_SECONDS": "1",
    }
    process = worker(server, "--loop", environment=environment)
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: output.extend(stdout), daemon=True)
    reader.start()
    with _admin(database_url) as admin:

        def worker_connected() -> bool:
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
            )
            row = admin.execute(query, (name, OUTAGE_APP_NAME)).fetchone()
            assert row is not None
            return row[0] > 0

        try:
            assert _wait_for(worker_connected), "".join(output)
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s",
                (name, OUTAGE_APP_NAME),
            )
            expected = queue(db, world, 2)  # queued while the worker cannot reach the database
            assert _wait_for(lambda: "failure 2;" in "".join(output)), "".join(output)
            assert process.poll() is None
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            assert _wait_for(lambda: len(inbox.messages) == 2), "".join(output)
            assert process.poll() is None, "".join(output)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            reader.join(timeout=10)
            stdout.close()
            server.stop()
    log = "".join(output)
    assert process.returncode == 0, log  # SIGTERM still stops it cleanly
    assert "database unavailable (OperationalError, failure 1; retrying in 1 s" in log
    assert "database reachable again" in log
    assert name not in log and "postgres" not in log  # nothing of the connection is logged
    assert sorted(inbox.message_ids()) == sorted(expected)
    assert all(row.status == OutboxStatus.SENT for row in rows(db))


def test_the_outage_backoff_doubles_up_to_its_cap_and_stop_ends_the_wait_at_once(app):
    stop = threading.Event()
    outage = DatabaseOutage(stop, first_wait=1)
    waits = []
    for _ in range(9):
        outage.failures += 1
        waits.append(outage.next_wait())
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    stop.set()
    with app.app_context(), get_database(app).session() as session:
        started = time.monotonic()
        outage.wait_after(session, OperationalError("SELECT 1", {}, Exception("gone")))
    assert time.monotonic() - started < 1  # SIGTERM during a pause stops the worker at once
    outage.ended()
    assert outage.failures == 0
