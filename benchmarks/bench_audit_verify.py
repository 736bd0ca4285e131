"""`flask --app wsgi audit verify` over 1 000 000 audit events (a script, not a test).

Goal: the whole chain of an organisation with a million events verifies in at most 5 s, on
SQLite and on PostgreSQL.

Run from the project root:

    .venv/bin/python benchmarks/bench_audit_verify.py   # SQLite, and PostgreSQL if it answers
    .venv/bin/python benchmarks/bench_audit_verify.py --events 200000 --no-postgres

Fast seeding. Appending a million events through `record_event` (one locked head row, one flush
each) would take most of an hour. Instead the script computes the chain itself, in one pass,
with the canonical code the application appends with (`service.audit._row_document` and
`chain_hash`: deliberately not the faster formatter the verification uses, so the run also
checks that the two agree on a million rows), and writes the rows in bulk — sqlite3's
executemany on SQLite, COPY on PostgreSQL — then sets the chain's head. The events look like a
unit's: staff actions with a time, reporter actions with the day only, case ids, small JSON
details, a few with Vietnamese text in them.

Measured: `verify_chain` in the process (median of --runs), and the command itself as an
operator runs it (`flask --app wsgi audit verify` in a subprocess: interpreter, application and
all), which is what the goal counts. Both must say the chain is whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # also puts the project root on sys.path

LIMIT_S = 5.0
ACTIONS = (
    ("case.viewed", False),
    ("case.submitted", True),
    ("case.acknowledge", False),
    ("case.replied", False),
    ("case.reporter_message", True),
    ("staff.login", False),
    ("case.assigned", False),
    ("case.deadline_extended", False),
)


def events(organisation_id: int, after: tuple[int, str], count: int, rng: random.Random):
    """(row, hash) for `count` events after the head `after` (seq, hash), chained with the
    application's own canonical code."""
    from service.audit.trail import _row_document, canonical_json, chain_hash

    start = dt.datetime(2024, 1, 1, 1, 0, tzinfo=dt.UTC)
    cases = [secrets.token_hex(16) for _ in range(2000)]
    first, previous = after
    for seq in range(first + 1, first + count + 1):
        action, by_reporter = ACTIONS[rng.randrange(len(ACTIONS))]
        moment = start + dt.timedelta(seconds=seq * 53)
        details: dict[str, object] = (
            {"status": "acknowledged"} if action == "case.acknowledge" else {}
        )
        if action == "case.submitted":
            details = {"reference": f"CD-2026-{seq % 10000:04d}", "attachments": seq % 3}
        elif action == "case.deadline_extended":
            details = {
                "from": "2026-12-18",
                "to": "2027-01-11",
                "extension": 1,
                "ghi_chú": "gia hạn",
            }
        fields: dict[str, Any] = {
            "organisation_id": organisation_id,
            "seq": seq,
            "occurred_on": (moment + dt.timedelta(hours=7)).date(),
            "occurred_at": None if by_reporter else moment,
            "actor_role": "reporter" if by_reporter else "handler",
            "actor_id": None if by_reporter else 1 + seq % 4,
            "case_id": None if action == "staff.login" else cases[seq % len(cases)],
            "action": action,
            "details": canonical_json(details),
        }
        previous = chain_hash(previous, _row_document(**fields))
        yield fields, previous


def seed_events(app, organisation_id: int, count: int) -> None:
    from sqlalchemy import text

    from service.platform.db import get_database

    engine = get_database(app).engine
    started = time.perf_counter()
    with engine.connect() as connection:  # the chain goes on from the organisation's creation
        head: tuple[Any, ...] = tuple(
            connection.execute(
                text("SELECT seq, hash FROM audit_head WHERE organisation_id = :o"),
                {"o": organisation_id},
            ).one()
        )
    rows = events(organisation_id, tuple(head), count, random.Random(1))
    columns = (
        "organisation_id, seq, occurred_on, occurred_at, actor_role, actor_id, case_id, action,"
        " details, hash"
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY audit_event ({columns}) FROM STDIN") as copy:
                for fields, digest in rows:
                    at = fields["occurred_at"]
                    copy.write_row(
                        (*list(fields.values())[:3], at.replace(tzinfo=None) if at else None,
                         *list(fields.values())[4:], digest)
                    )  # fmt: skip
                    head = (fields["seq"], digest)
        else:
            batch = []
            insert = f"INSERT INTO audit_event ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?)"
            for fields, digest in rows:
                at = fields["occurred_at"]
                batch.append(
                    (
                        fields["organisation_id"],
                        fields["seq"],
                        fields["occurred_on"].isoformat(),
                        at.strftime("%Y-%m-%d %H:%M:%S.%f") if at else None,
                        *list(fields.values())[4:],
                        digest,
                    )
                )
                head = (fields["seq"], digest)
                if len(batch) >= 50_000:
                    cursor.executemany(insert, batch)
                    batch = []
            cursor.executemany(insert, batch)
        placeholder = "%s" if engine.dialect.name == "postgresql" else "?"
        cursor.execute(
            f"UPDATE audit_head SET seq = {placeholder}, hash = {placeholder}"
            f" WHERE organisation_id = {placeholder}",
            (*head, organisation_id),
        )
        raw.commit()
    finally:
        raw.close()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE audit_event"))
    print(f"seeded {count} events in {time.perf_counter() - started:.1f} s")


def fresh_organisation(app) -> int:
    """The schema, and one organisation with its bodies (its creation is its first event)."""
    from service.admin.organisations import create_organisation
    from service.platform.db import get_database
    from service.platform.migrate import upgrade_database
    from service.sealing.profiles import FAST

    upgrade_database(app.config["DATABASE_URL"])
    with app.app_context(), get_database(app).session() as db:
        organisation, _bodies = create_organisation(
            db, name="Benchmark", slug="bench", profile=FAST
        )
        db.commit()
        return organisation.id


def measure_backend(label: str, database_url: str, instance_dir: Path, args) -> bool:
    from service import create_app
    from service.audit.trail import verify_chain
    from service.platform.db import get_database

    env = _support.app_environment(database_url, instance_dir)
    _support.apply_environment(env)
    app = create_app()
    organisation_id = fresh_organisation(app)
    seed_events(app, organisation_id, args.events)

    print(f"[{label}]")
    times = []
    for _ in range(args.runs):
        with app.app_context(), get_database(app).session() as db:
            started = time.perf_counter()
            report = verify_chain(db, organisation_id)
            times.append(time.perf_counter() - started)
        if not report.ok or report.events <= args.events:
            raise RuntimeError(f"the chain did not verify: {report}")
    print(f"{label}.verify_chain_s", round(statistics.median(times), 2), f"(median of {args.runs})")

    started = time.perf_counter()
    command = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "audit", "verify"],
        cwd=_support.ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if command.returncode != 0 or "events, head" not in command.stdout:
        raise RuntimeError(f"audit verify failed: {command.stdout} {command.stderr}")
    passed = wall <= LIMIT_S
    print(f"{label}.command_s", round(wall, 2), "PASS" if passed else "FAIL", f"(limit {LIMIT_S})")
    get_database(app).engine.dispose()
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="in-process verifications")
    return _support.run_on_backends(parser, measure_backend, "events")


if __name__ == "__main__":
    sys.exit(main())
