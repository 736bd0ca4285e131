"""Cases written straight into the database with the dates a test needs (statistics tests).

The sealed columns get placeholder bytes: these cases are counted, never opened.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.orm import Session

from service.models import Case, CaseStatus, SummaryRecipient, Track
from service.platform.clock import utcnow


def make_case(
    db: Session,
    organisation_id: int,
    body_id: int,
    kind: str,
    received_on: dt.date,
    *,
    status: str = CaseStatus.NEW,
    acknowledge_due: dt.date | None = None,
    **dates,
) -> Case:
    case = Case(
        id=secrets.token_hex(16),
        organisation_id=organisation_id,
        body_id=body_id,
        reference=f"T-{secrets.token_hex(4)}",
        kind=kind,
        status=status,
        track=Track.FORMAL,
        anonymous=True,
        received_on=received_on,
        acknowledge_due=acknowledge_due or received_on + dt.timedelta(days=14),
        lookup_id=secrets.token_bytes(32),
        reporter_public_key=secrets.token_bytes(32),
        reporter_kdf="test",
        title_ct=b"-",
        text_ct=b"-",
        exclusions_ct=b"-",
        **dates,
    )
    db.add(case)
    return case


def add_summary_recipients(db: Session, organisation_id: int, *pairs: tuple[str, str]) -> None:
    """(email, kind) pairs as active summary recipients; the caller commits."""
    for email, kind in pairs:
        db.add(
            SummaryRecipient(
                organisation_id=organisation_id,
                email=email,
                display_name=email,
                kind=kind,
                created_at=utcnow(),
            )
        )
