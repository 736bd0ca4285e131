"""The audit trail: append one event per action, verify the hash chain.

hash(n) = SHA-256(hash(n-1) ‖ canonical JSON of row n), with ``seq`` counting from 1 per
organisation. Appends lock the organisation's ``audit_head`` row, so concurrent writers take
turns and the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
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


def _stored_rows_query(organisation_id: int):
    columns = [
        AuditEvent.seq,
        AuditEvent.occurred_on,
        AuditEvent.occurred_at,
        AuditEvent.actor_role,
        AuditEvent.actor_id,
        AuditEvent.case_id,
        AuditEvent.action,
        AuditEvent.details,
        AuditEvent.hash,
    ]
    return (
        select(*columns)
        .where(AuditEvent.organisation_id == organisation_id)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=5000)  # a server-side cursor on PostgreSQL
    )


def verify_chain(db: Session, organisation_id: int) -> ChainReport:
    """Walk the chain; report the first row that is missing, out of place or altered."""
    with db.execute(_stored_rows_query(organisation_id)) as rows:
        return _walk(db, organisation_id, rows)


def _walk(db: Session, organisation_id: int, rows: Iterable[Any]) -> ChainReport:
    previous, expected_seq = GENESIS_HASH, 1
    for row in rows:
        if row.seq != expected_seq:
            problem = "missing" if row.seq > expected_seq else "duplicated or reordered"
            return ChainReport(organisation_id, expected_seq - 1, previous, expected_seq, problem)
        document = _row_document(
            organisation_id=organisation_id,
            seq=row.seq,
            occurred_on=row.occurred_on,
            occurred_at=row.occurred_at,
            actor_role=row.actor_role,
            actor_id=row.actor_id,
            case_id=row.case_id,
            action=row.action,
            details=row.details,
        )
        computed = chain_hash(previous, document)
        if computed != row.hash:
            return ChainReport(organisation_id, row.seq - 1, previous, row.seq, "altered")
        previous, expected_seq = computed, expected_seq + 1
    count = expected_seq - 1
    head = db.get(AuditHead, organisation_id)
    if head is not None and (head.seq, head.hash) != (count, previous):
        return ChainReport(organisation_id, count, previous, count + 1, "missing at the end")
    return ChainReport(organisation_id, count, previous)
