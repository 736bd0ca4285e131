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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from .clock import local_today, utcnow
from .models import Account, AuditEvent, AuditHead

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
    """Append an event to the organisation's chain (the caller commits it with its change)."""
    now = now or utcnow()
    head = db.execute(
        select(AuditHead).where(AuditHead.organisation_id == organisation_id).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(organisation_id=organisation_id, seq=0, hash=GENESIS_HASH)
        db.add(head)
    # Microseconds are dropped so the stored value round-trips identically on every backend.
    occurred_at = None if actor.is_reporter else now.replace(microsecond=0)
    fields = {
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


# --- verifying: fast enough for a million events in a few seconds -------------------------------
#
# The walk reads the rows through the database driver itself, with dates and times as the text
# the database stores, and writes each row's canonical JSON with one f-string instead of building
# a dict for json.dumps: the same bytes as `_row_document` (a test holds them equal), about five
# times faster. A long chain is first checked in parallel: row n is whole if its hash is
# SHA-256(stored hash of row n-1 ‖ its document), which can be checked for any stretch of the
# chain on its own, so each CPU takes one stretch. Only if every stretch is whole, consecutive
# and ends at the head does that answer stand; anything else is walked again in one pass, which
# names the first broken row exactly. benchmarks/bench_audit_verify.py measures it.

_PG_ROWS = (
    "SELECT seq, occurred_on::text, occurred_at::text, actor_role, actor_id, case_id, action,"
    " details, hash FROM audit_event WHERE organisation_id = %s AND seq >= %s AND seq < %s"
    " ORDER BY seq"
)
_SQLITE_ROWS = (
    "SELECT seq, occurred_on, occurred_at, actor_role, actor_id, case_id, action, details, hash"
    " FROM audit_event WHERE organisation_id = ? AND seq >= ? AND seq < ? ORDER BY seq"
)
_PG_HASH_OF = "SELECT hash FROM audit_event WHERE organisation_id = %s AND seq = %s"
_SQLITE_HASH_OF = "SELECT hash FROM audit_event WHERE organisation_id = ? AND seq = ?"
_json_string = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses
_END = 2**62  # past any sequence number
PARALLEL_FROM = 100_000  # events: below this, starting workers costs more than it saves


def _iso_utc(stored: str | None) -> str:
    """A stored UTC time as JSON, as `datetime.isoformat()` of the aware value writes it.

    SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff', PostgreSQL's text form drops a zero fraction
    and trailing zeros; isoformat writes six digits, or none when there are no microseconds.
    """
    if stored is None:
        return "null"
    fraction = stored[20:].rstrip("0")
    digits = f".{fraction.ljust(6, '0')}" if fraction else ""
    return f'"{stored[:10]}T{stored[11:19]}{digits}+00:00"'


def fast_document(organisation_id: int, row: tuple) -> bytes:
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


def _stored_rows(
    connection: Connection, organisation_id: int, start: int = 1, stop: int = _END
) -> Iterator[tuple]:
    """Events start..stop-1 in order, straight from the driver, times as stored text."""
    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"audit_verify_{secrets.token_hex(4)}")  # server-side
        cursor.itersize = 20_000
        query = _PG_ROWS
    else:
        cursor = driver.cursor()
        query = _SQLITE_ROWS
    try:
        cursor.execute(query, (organisation_id, start, stop))
        yield from cursor
    finally:
        cursor.close()


def _stretch_is_whole(
    connection: Connection, organisation_id: int, start: int, stop: int
) -> tuple[int, str] | None:
    """If events start..stop-1 (up to the last one there is, for the final stretch) are
    consecutive and each hash links to the stored hash before it: (last seq, last hash)."""
    if start == 1:
        previous = GENESIS_HASH
    else:
        driver = connection.connection.driver_connection
        postgres = connection.dialect.name == "postgresql"
        cursor = driver.cursor()
        cursor.execute(_PG_HASH_OF if postgres else _SQLITE_HASH_OF, (organisation_id, start - 1))
        found = cursor.fetchone()
        cursor.close()
        if found is None:
            return None
        previous = found[0]
    expected, sha256 = start, hashlib.sha256
    for row in _stored_rows(connection, organisation_id, start, stop):
        if row[0] != expected:
            return None
        computed = sha256(previous.encode("ascii") + fast_document(organisation_id, row))
        previous = computed.hexdigest()
        if previous != row[8]:
            return None
        expected += 1
    if stop != _END and expected != stop:
        return None
    return expected - 1, previous


def _stretch_in_worker(url: str, organisation_id: int, start: int, stop: int):
    """One stretch, in a worker process with a connection of its own."""
    from .db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return _stretch_is_whole(connection, organisation_id, start, stop)
    finally:
        engine.dispose()


def _whole_in_parallel(db: Session, organisation_id: int, head: AuditHead, workers: int) -> bool:
    size = -(-head.seq // workers)
    bounds = [(1 + i * size, 1 + (i + 1) * size) for i in range(workers)]
    bounds[-1] = (bounds[-1][0], _END)
    url = db.get_bind().url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # nothing of this process's connections
    with ProcessPoolExecutor(workers - 1, mp_context=context) as pool:
        others = [pool.submit(_stretch_in_worker, url, organisation_id, *b) for b in bounds[1:]]
        first = _stretch_is_whole(db.connection(), organisation_id, *bounds[0])
        results = [first] + [future.result() for future in others]
    return all(results) and results[-1] == (head.seq, head.hash)


def verify_chain(db: Session, organisation_id: int, *, workers: int | None = None) -> ChainReport:
    """Walk the chain; report the first row that is missing, out of place or altered."""
    head = db.get(AuditHead, organisation_id)
    workers = workers or min(os.cpu_count() or 1, 4)
    long_enough = head is not None and head.seq >= PARALLEL_FROM and workers > 1
    if long_enough and _whole_in_parallel(db, organisation_id, head, workers):
        return ChainReport(organisation_id, head.seq, head.hash)
    return _walk(db, organisation_id, _stored_rows(db.connection(), organisation_id))


def _walk(db: Session, organisation_id: int, rows: Iterable[tuple]) -> ChainReport:
    previous, expected_seq = GENESIS_HASH, 1
    sha256 = hashlib.sha256
    for row in rows:
        seq = row[0]
        if seq != expected_seq:
            problem = "missing" if seq > expected_seq else "duplicated or reordered"
            return ChainReport(organisation_id, expected_seq - 1, previous, expected_seq, problem)
        document = fast_document(organisation_id, row)
        computed = sha256(previous.encode("ascii") + document).hexdigest()
        if computed != row[8]:
            return ChainReport(organisation_id, seq - 1, previous, seq, "altered")
        previous, expected_seq = computed, expected_seq + 1
    count = expected_seq - 1
    head = db.get(AuditHead, organisation_id)
    if head is not None and (head.seq, head.hash) != (count, previous):
        return ChainReport(organisation_id, count, previous, count + 1, "missing at the end")
    return ChainReport(organisation_id, count, previous)
