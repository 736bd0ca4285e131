"""The audit trail: append one event per action, verify the hash chain.

hash(n) = SHA-256(hash(n-1) ‖ canonical JSON of row n), with ``seq`` counting from 1 per
organisation. Appends lock the organisation's ``audit_head`` row, so concurrent writers take
turns and the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Account, AuditEvent, AuditHead
from service.platform.clock import local_today, utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did something. A reporter is only ever "reporter": no id, no account."""

    role: str
    account_id: int | None = None

    @classmethod
    def reporter(cls) -> Actor:
        return cls("reporter")

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def staff(cls, account: Account) -> Actor:
        return cls(account.role, account.id)

    @property
    def is_reporter(self) -> bool:
        return self.role == "reporter"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _row_document(
    *,
    organisation_id: int,
    seq: int,
    occurred_on: dt.date,
    occurred_at: dt.datetime | None,
    actor_role: str,
    actor_id: int | None,
    case_id: str | None,
    action: str,
    details: str,
) -> bytes:
    document = {
        "organisation_id": organisation_id,
        "seq": seq,
        "occurred_on": occurred_on.isoformat(),
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat() if occurred_at else None,
        "actor_role": actor_role,
        "actor_id": actor_id,
        "case_id": case_id,
        "action": action,
        "details": details,
    }
    return canonical_json(document).encode()


def chain_hash(previous: str, document: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + document).hexdigest()


def record_event(
    db: Session,
    *,
    organisation_id: int,
    action: str,
    actor: Actor,
    case_id: str | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append an event to the organisation's chain (in the transaction of its change)."""
    now = now or utcnow()
    head = db.execute(
        select(AuditHead).where(AuditHead.organisation_id == organisation_id).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(organisation_id=organisation_id, seq=0, hash=GENESIS_HASH)
        db.add(head)
    # Microseconds are dropped so the stored value round-trips identically on every backend.
    occurred_at = None if actor.is_reporter else now.replace(microsecond=0)
    fields: dict[str, Any] = {
        "organisation_id": organisation_id,
        "seq": head.seq + 1,
        "occurred_on": local_today(now),
        "occurred_at": occurred_at,
        "actor_role": actor.role,
        "actor_id": actor.account_id,
        "case_id": case_id,
        "action": action,
        "details": canonical_json(details or {}),
    }
    event = AuditEvent(**fields, hash=chain_hash(head.hash, _row_document(**fields)))
    head.seq, head.hash = event.seq, event.hash
    db.add(event)
    return event


@dataclass(frozen=True)
class ChainReport:
    organisation_id: int
    events: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


# --- verifying: a million events in a few seconds ----------------------------------------------
#
# The walk reads the rows through the database driver itself, dates and times as text, and
# writes each row's canonical JSON with one f-string (`exact_document`: the same bytes as
# `_row_document`, a test holds them equal) instead of building a dict for json.dumps.
#
# A long chain is first checked in stretches, one per CPU. Row n is whole if its stored hash is
# SHA-256(stored hash of row n-1 ‖ its document): that can be checked for any stretch on its
# own, and if every stretch holds, is consecutive and the last one ends at the head, the chain
# is whole. The stretches run in forked processes, each on a connection of its own opened with
# the driver (nothing of the parent's connections is touched: a child leaves with os._exit).
# Anything short of "all whole" — or a failure to fork — and the chain is walked again in one
# pass, which names the first broken row. benchmarks/bench_audit_verify.py measures it.

_SQLITE_ROWS = (
    "SELECT seq, occurred_on, occurred_at, actor_role, actor_id, case_id, action, details, hash"
    " FROM audit_event WHERE organisation_id = ? AND seq >= ? AND seq < ? ORDER BY seq"
)
# to_char, not ::text: the text form of dates follows the server's DateStyle.
_PG_ROWS = (
    "SELECT seq, to_char(occurred_on, 'YYYY-MM-DD'),"
    " to_char(occurred_at, 'YYYY-MM-DD HH24:MI:SS.US'), actor_role, actor_id, case_id, action,"
    " details, hash FROM audit_event WHERE organisation_id = %s AND seq >= %s AND seq < %s"
    " ORDER BY seq"
)
_SQLITE_HASH_OF = "SELECT hash FROM audit_event WHERE organisation_id = ? AND seq = ?"
_PG_HASH_OF = "SELECT hash FROM audit_event WHERE organisation_id = %s AND seq = %s"
_json_string = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses
_END = 2**62  # past any sequence number
IN_STRETCHES_FROM = 100_000  # events: below this, one pass is as quick as starting processes


def _iso_utc(stored: str | None) -> str:
    """A stored UTC time as JSON, as `datetime.isoformat()` of the aware value writes it.

    Both backends give 'YYYY-MM-DD HH:MM:SS.ffffff' here; isoformat writes six digits of
    fraction, or none when there are no microseconds.
    """
    if stored is None:
        return "null"
    fraction = stored[20:].rstrip("0")
    digits = f".{fraction.ljust(6, '0')}" if fraction else ""
    return f'"{stored[:10]}T{stored[11:19]}{digits}+00:00"'


def exact_document(organisation_id: int, row: tuple) -> bytes:
    """The canonical JSON of a stored row (seq, day, time, role, actor, case, action, details)
    as text columns, byte for byte what `_row_document` makes of the same row: its keys in
    sorted order, strings escaped as json.dumps(..., ensure_ascii=False) escapes them."""
    seq, occurred_on, occurred_at, actor_role, actor_id, case_id, action, details = row[:8]
    string = _json_string
    return (
        f'{{"action":{string(action)},'
        f'"actor_id":{"null" if actor_id is None else int(actor_id)},'
        f'"actor_role":{string(actor_role)},'
        f'"case_id":{"null" if case_id is None else string(case_id)},'
        f'"details":{string(details)},'
        f'"occurred_at":{_iso_utc(occurred_at)},'
        f'"occurred_on":"{occurred_on}",'
        f'"organisation_id":{organisation_id},"seq":{seq}}}'
    ).encode()


def _rows(driver, postgres: bool, organisation_id: int, start: int, stop: int) -> Iterator[tuple]:
    """Events start..stop-1 in order, through a driver connection, times as text."""
    if postgres:
        cursor = driver.cursor(name=f"audit_verify_{secrets.token_hex(4)}")  # server-side
        cursor.itersize = 20_000
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(_PG_ROWS if postgres else _SQLITE_ROWS, (organisation_id, start, stop))
        yield from cursor
    finally:
        cursor.close()


def _stored_rows(db: Session, organisation_id: int) -> Iterator[tuple]:
    """All of the organisation's events in order, through the session's connection."""
    connection = db.connection()
    postgres = connection.dialect.name == "postgresql"
    driver = connection.connection.driver_connection
    return _rows(driver, postgres, organisation_id, 1, _END)


def _stretch(driver, postgres: bool, organisation_id: int, start: int, stop: int):
    """(last seq, last hash) if events start..stop-1 (to the end, for the last stretch) are
    consecutive and each hash links to the stored hash before it; None otherwise."""
    previous = GENESIS_HASH
    if start > 1:
        cursor = driver.cursor()
        cursor.execute(_PG_HASH_OF if postgres else _SQLITE_HASH_OF, (organisation_id, start - 1))
        found = cursor.fetchone()
        cursor.close()
        if found is None:
            return None
        previous = found[0]
    expected, sha256 = start, hashlib.sha256
    for row in _rows(driver, postgres, organisation_id, start, stop):
        if row[0] != expected:
            return None
        digest = sha256(previous.encode("ascii") + exact_document(organisation_id, row))
        previous = digest.hexdigest()
        if previous != row[8]:
            return None
        expected += 1
    if stop != _END and expected != stop:
        return None
    return expected - 1, previous


def _stretch_in_child(send, url, organisation_id: int, start: int, stop: int) -> None:
    """A forked process: one stretch on a driver connection of its own, then leave at once."""
    result = None
    try:
        if url.get_backend_name() == "postgresql":
            import psycopg

            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(dsn) as driver:
                result = _stretch(driver, True, organisation_id, start, stop)
        else:
            import sqlite3

            with closing(sqlite3.connect(url.database)) as driver:
                result = _stretch(driver, False, organisation_id, start, stop)
    finally:
        send.send(result)
        os._exit(0)  # no finalizer of the parent's objects runs in the child


def _whole_in_stretches(db: Session, organisation_id: int, head: AuditHead, count: int) -> bool:
    size = -(-head.seq // count)
    bounds = [(1 + i * size, 1 + (i + 1) * size) for i in range(count)]
    bounds[-1] = (bounds[-1][0], _END)
    url = db.get_bind().engine.url
    context = multiprocessing.get_context("fork")
    children = []
    for start, stop in bounds[1:]:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_stretch_in_child, args=(send, url, organisation_id, start, stop)
        )
        child.start()
        send.close()
        children.append((child, receive))
    connection = db.connection()
    driver = connection.connection.driver_connection
    results = [
        _stretch(driver, connection.dialect.name == "postgresql", organisation_id, *bounds[0])
    ]
    for child, receive in children:
        results.append(receive.recv() if receive.poll(timeout=600) else None)
        child.join()
    return all(results) and results[-1] == (head.seq, head.hash)


def verify_chain(db: Session, organisation_id: int, *, processes: int | None = None) -> ChainReport:
    """Walk the chain; report the first row that is missing, out of place or altered."""
    head = db.get(AuditHead, organisation_id)
    processes = processes or min(os.cpu_count() or 1, 4)
    if head is not None and head.seq >= IN_STRETCHES_FROM and processes > 1:
        try:
            if _whole_in_stretches(db, organisation_id, head, processes):
                return ChainReport(organisation_id, head.seq, head.hash)
        except (OSError, EOFError):
            pass  # no fork here: the single walk decides
    return _walk(db, organisation_id, _stored_rows(db, organisation_id))


def _walk(db: Session, organisation_id: int, rows: Iterable[tuple]) -> ChainReport:
    previous, expected_seq = GENESIS_HASH, 1
    sha256 = hashlib.sha256
    for row in rows:
        seq = row[0]
        if seq != expected_seq:
            problem = "missing" if seq > expected_seq else "duplicated or reordered"
            return ChainReport(organisation_id, expected_seq - 1, previous, expected_seq, problem)
        document = exact_document(organisation_id, row)
        computed = sha256(previous.encode("ascii") + document).hexdigest()
        if computed != row[8]:
            return ChainReport(organisation_id, seq - 1, previous, seq, "altered")
        previous, expected_seq = computed, expected_seq + 1
    count = expected_seq - 1
    head = db.get(AuditHead, organisation_id)
    if head is not None and (head.seq, head.hash) != (count, previous):
        return ChainReport(organisation_id, count, previous, count + 1, "missing at the end")
    return ChainReport(organisation_id, count, previous)
