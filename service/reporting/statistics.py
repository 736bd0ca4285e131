"""Counting cases for the monthly summary and the periodic reports — in SQL, not in Python.

Per body and kind, for each period asked for (one pass over the rows that matter, found through
the date indexes):

- received: received_on in the period;
- acknowledged on time: acknowledged_on in the period and not after acknowledge_due;
- resolved / not accepted: decided_on in the period, by the decision taken;
- transferred (in): transferred_on in the period — a transferred case belongs to the body that
  received it, and is counted there;
- median days to acknowledge (received → acknowledged, over the cases acknowledged in the period)
  and to resolve (received → resolved, over the cases resolved in the period), with the number of
  cases each median is taken over.

And, for the moment the figures are made: cases open now whose deadline has passed.

Medians: PostgreSQL's percentile_cont inside the same aggregate query; on SQLite (which has no
ordered-set aggregates) the middle row(s) picked with window functions. Statistics reflect the
cases as they are now: a case transferred since counts under its new body.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from service.models import OPEN_STATUSES, Body, Case, CaseStatus

COUNTS = ("received", "acknowledged_on_time", "resolved", "not_accepted", "transferred")
MEDIANS = ("days_to_acknowledge", "days_to_resolve")
# The number of cases each median is taken over (not shown; a median over fewer than 3 is not).
MEDIAN_BASIS = {"days_to_acknowledge": "acknowledged", "days_to_resolve": "resolved"}

Key = tuple[int | None, str | None]  # (body id, kind); None where the level adds them up


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends after it starts")


@dataclass
class Figures:
    """One period's figures: counts[metric][(body, kind)], medians[metric][(body, kind)]."""

    counts: dict[str, dict[Key, int]] = field(default_factory=dict)
    medians: dict[str, dict[Key, float]] = field(default_factory=dict)

    def count(self, metric: str, key: Key) -> int:
        return self.counts.get(metric, {}).get(key, 0)

    def median(self, metric: str, key: Key) -> float | None:
        return self.medians.get(metric, {}).get(key)


def _within(column, period: Period) -> ColumnElement[bool]:
    return column.between(period.start, period.end)


def _conditions(period: Period) -> dict[str, ColumnElement[bool]]:
    return {
        "received": _within(Case.received_on, period),
        "acknowledged": _within(Case.acknowledged_on, period),
        "acknowledged_on_time": and_(
            _within(Case.acknowledged_on, period), Case.acknowledged_on <= Case.acknowledge_due
        ),
        "resolved": and_(
            _within(Case.decided_on, period), Case.decision == str(CaseStatus.RESOLVED)
        ),
        "not_accepted": and_(
            _within(Case.decided_on, period), Case.decision == str(CaseStatus.NOT_ACCEPTED)
        ),
        "transferred": _within(Case.transferred_on, period),
    }


_MEDIAN_SPANS = {
    "days_to_acknowledge": (Case.acknowledged_on, Case.received_on),
    "days_to_resolve": (Case.decided_on, Case.received_on),
}


# Figures per (body, kind), per body (kind None) and for the organisation (both None).
LEVELS: tuple[tuple[str, ...], ...] = (("body_id", "kind"), ("body_id",), ())


def _key(row, level: tuple[str, ...]) -> Key:
    values = dict(zip(level, row, strict=True))
    return (values.get("body_id"), values.get("kind"))


def period_figures(db: Session, organisation_id: int, periods: list[Period]) -> list[Figures]:
    """The figures of each period, in the order given, at every level of LEVELS.

    PostgreSQL: one aggregate query (GROUPING SETS). SQLite: one query per level.
    """
    if not periods:
        return []
    postgresql = db.get_bind().dialect.name == "postgresql"
    columns, names = [], []
    for index, period in enumerate(periods):
        conditions = _conditions(period)
        for metric, condition in conditions.items():
            columns.append(func.count().filter(condition))
            names.append((index, "count", metric))
        if postgresql:
            for metric, (end, start) in _MEDIAN_SPANS.items():
                condition = conditions[MEDIAN_BASIS[metric]]
                columns.append(
                    func.percentile_cont(0.5).within_group(end - start).filter(condition)
                )
                names.append((index, "median", metric))
    span = Period(min(p.start for p in periods), max(p.end for p in periods))
    where = (
        Case.organisation_id == organisation_id,
        or_(
            _within(Case.received_on, span),
            _within(Case.acknowledged_on, span),
            _within(Case.decided_on, span),
            _within(Case.transferred_on, span),
        ),
    )
    results = [Figures() for _ in periods]
    if postgresql:
        grouping = func.grouping(Case.body_id, Case.kind)  # bit set = rolled up
        query = (
            select(Case.body_id, Case.kind, grouping, *columns)
            .where(*where)
            .group_by(
                func.grouping_sets(
                    *(tuple_(*(getattr(Case, c) for c in level)) for level in LEVELS)
                )
            )
        )
        for row in db.execute(query):
            body_id = None if row[2] & 2 else row[0]
            kind = None if row[2] & 1 else row[1]
            _collect(results, names, (body_id, kind), row[3:])
        return results
    for level in LEVELS:
        group = [getattr(Case, c) for c in level]
        query = select(*group, *columns).where(*where).group_by(*group)
        for row in db.execute(query):
            _collect(results, names, _key(row[: len(level)], level), row[len(level) :])
        for index, period in enumerate(periods):
            for metric in MEDIANS:
                found = _window_medians(db, organisation_id, period, metric, level)
                results[index].medians.setdefault(metric, {}).update(found)
    return results


def _collect(results: list[Figures], names, key: Key, values) -> None:
    for (index, what, metric), value in zip(names, values, strict=True):
        if what == "count":
            if value:
                results[index].counts.setdefault(metric, {})[key] = int(value)
        elif value is not None:
            results[index].medians.setdefault(metric, {})[key] = float(value)


def _window_medians(
    db: Session, organisation_id: int, period: Period, metric: str, level: tuple[str, ...]
) -> dict[Key, float]:
    """The median per group with window functions: the middle row, or the mean of the two
    middle rows. For databases without percentile_cont (SQLite)."""
    end, start = _MEDIAN_SPANS[metric]
    condition = _conditions(period)[MEDIAN_BASIS[metric]]
    days = (func.julianday(end) - func.julianday(start)).label("days")
    group = [getattr(Case, c) for c in level]
    ranked = (
        select(
            *group,
            days,
            func.row_number().over(partition_by=group or None, order_by=days).label("position"),
            func.count().over(partition_by=group or None).label("n"),
        )
        .where(Case.organisation_id == organisation_id, condition)
        .subquery()
    )
    middle = or_(
        ranked.c.position == (ranked.c.n + 1) // 2, ranked.c.position == (ranked.c.n + 2) // 2
    )
    outer = [ranked.c[c] for c in level]
    query = select(*outer, func.avg(ranked.c.days)).where(middle).group_by(*outer)
    return {
        _key(row[: len(level)], level): float(row[-1])
        for row in db.execute(query)
        if row[-1] is not None
    }


def overdue_now(db: Session, organisation_id: int, today: dt.date) -> dict[Key, int]:
    """Open cases whose current deadline has passed, per (body, kind), per body and in all."""
    bodies = select(Body.id).where(Body.organisation_id == organisation_id)
    query = (
        select(Case.body_id, Case.kind, func.count())
        .where(
            Case.body_id.in_(bodies.scalar_subquery()),
            Case.organisation_id == organisation_id,
            Case.next_due < today,
            Case.status.in_([str(status) for status in OPEN_STATUSES]),
        )
        .group_by(Case.body_id, Case.kind)
    )
    found: dict[Key, int] = {}
    for body, kind, count in db.execute(query):
        # Few rows (bodies × kinds): the totals are sums of what SQL counted.
        found[(body, kind)] = count
        found[(body, None)] = found.get((body, None), 0) + count
        found[(None, None)] = found.get((None, None), 0) + count
    return found
