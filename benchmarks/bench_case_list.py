"""The handler's case list over 100 000 cases: server time of a page of 50 (a script, not a test).

Goal: GET /board/ — the Trade Union handler's first page of 50, sorted by deadline, with the
counts per status — in at most 30 ms of server time on SQLite and on PostgreSQL, and at most 3×
the bare indexed queries of the same rows.

Run from the project root:

    .venv/bin/python benchmarks/bench_case_list.py     # SQLite, and PostgreSQL if it answers
    .venv/bin/python benchmarks/bench_case_list.py --no-postgres --cases 20000
    .venv/bin/python benchmarks/bench_case_list.py --no-sqlite --postgres postgresql://…/postgres

Fast seeding. Filing 100 000 reports through `submit_case` would take one Argon2id derivation and
a dozen X25519 wraps each (over an hour). Instead one real report is filed per body through
`submit_case`, and the cases are copies of it written with bulk Core inserts (executemany, no ORM,
no cryptography per row): the copy reuses the template's ciphertexts and key wraps byte for byte,
under a new random id, reference and lookup id. A copy cannot be opened (the associated data binds
every blob to its case id) — the list never opens a case, it reads metadata and wraps only, so it
costs exactly what a real case costs. Each copy gets a status (mostly closed, as years of cases
would be; the open ones received in the last 45 days), the deadlines that status implies, an
assignee for a third of the open ones, and the template's wraps with `case_status` set as
`keyring` sets it. One case in a hundred of the Trade Union excludes the measured handler (no
wrap), so the counts are really filtered. Then the database gets its statistics (ANALYZE on
SQLite, VACUUM ANALYZE on PostgreSQL), as a production database has them.

"Server time" is measured inside the WSGI call (bench_intake.ServerTimer). The bare queries are
the list's own SQL statements — captured from the engine during a request, then replayed through
the driver's raw connection (no Flask, no ORM, no session, no template): the rows of the page,
the counts per status, and the "kept after transfer" rows. ratio = page / bare queries. The
script prints the rows query alone as well, and the other orders and filters for information.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # also puts the project root on sys.path
from bench_intake import ServerTimer, _quantile

LIMIT_MS = 30.0
LIMIT_RATIO = 3.0
BATCH = 5_000
# (status, weight): mostly closed, as a unit's cases are after a few years.
STATUS_WEIGHTS = (
    ("closed", 80),
    ("resolved", 5),
    ("not_accepted", 3),
    ("in_progress", 5),
    ("acknowledged", 3),
    ("new", 3),
    ("transferred", 1),
)
OPEN = {"new", "transferred", "acknowledged", "in_progress"}
VARIANTS = (
    ("deadline", "/board/"),
    ("received", "/board/?sort=received"),
    ("in_progress", "/board/?status=in_progress"),
    ("closed", "/board/?status=closed"),
    ("overdue", "/board/?overdue=y"),
    ("mine", "/board/?mine=y"),
    ("page_2", "/board/?page=2"),
)


def seed_cases(app, count: int, rng: random.Random) -> None:
    """`count` copies of one real case per body, by bulk Core inserts (see the docstring)."""
    from sqlalchemy import Table, insert, select, text

    from service.cases.intake import Submission, submit_case
    from service.models import Account, Body, Case, CaseKeyWrap, CaseKind, Organisation
    from service.platform.db import get_database

    database = get_database(app)
    with app.app_context(), database.session() as db:
        organisation = db.scalars(select(Organisation)).one()
        bodies = {b.code: b for b in db.scalars(select(Body))}
        templates = {}
        for code, body in bodies.items():
            submission = Submission(
                kind=CaseKind.PROBLEM,
                title="Máy lạnh phòng họp hỏng",
                text="Máy lạnh phòng họp tầng 2 hỏng từ tuần trước. " * 10,
                body_id=body.id,
            )
            case = submit_case(db, organisation, submission).case
            case_wraps = db.scalars(select(CaseKeyWrap).where(CaseKeyWrap.case_id == case.id))
            templates[code] = (case, case_wraps.all())
        handler = db.scalars(
            select(Account).where(Account.email == "cd_handler@homthu.bench")
        ).one()
        columns = [c.key for c in Case.__table__.columns]
        wrap_columns = [c.key for c in CaseKeyWrap.__table__.columns if c.key != "id"]

    today = dt.date.today()
    statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
    started = time.perf_counter()
    case_table, wrap_table = cast(Table, Case.__table__), cast(Table, CaseKeyWrap.__table__)
    with database.engine.begin() as connection:
        cases: list[dict[str, Any]] = []
        wraps: list[dict[str, Any]] = []
        for n in range(count):
            code = "CD" if n % 5 < 3 else "TTND"
            template, template_wraps = templates[code]
            status = rng.choices(statuses, weights)[0]
            age = rng.randrange(45) if status in OPEN else rng.randrange(45, 5 * 365)
            received = today - dt.timedelta(days=age)
            row = {key: getattr(template, key) for key in columns}
            row.update(
                id=secrets.token_hex(16),
                reference=f"{code}-{received.year}-{n:06d}",
                lookup_id=secrets.token_bytes(32),
                status=status,
                assignee_id=handler.id if status in OPEN and code == "CD" and n % 3 == 0 else None,
                **_dates(status, received),
            )
            cases.append(row)
            excluded = code == "CD" and n % 100 == 7
            for wrap in template_wraps:
                if excluded and wrap.account_id == handler.id:
                    continue
                copy = {key: getattr(wrap, key) for key in wrap_columns}
                copy["case_id"] = row["id"]
                if copy["case_status"] is not None:
                    copy["case_status"] = status
                wraps.append(copy)
            if len(cases) >= BATCH:
                connection.execute(insert(case_table), cases)
                connection.execute(insert(wrap_table), wraps)
                cases, wraps = [], []
        if cases:
            connection.execute(insert(case_table), cases)
            connection.execute(insert(wrap_table), wraps)
    seeded = time.perf_counter() - started
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    else:
        with database.engine.begin() as c:
            c.execute(text("ANALYZE"))
    print(f"seeded {count} cases in {seeded:.1f} s (+ statistics)")


def _dates(status: str, received: dt.date) -> dict:
    """The days and deadlines a case in `status` has (close to what the rules would set)."""
    day = dt.timedelta(days=1)
    waiting = status in ("new", "transferred")
    accepted = not waiting and status != "acknowledged"
    return {
        "received_on": received,
        "acknowledge_due": received + 14 * day,
        "acknowledged_on": None if waiting else received,
        "accepted_on": received if accepted else None,
        "resolve_due": None if waiting else received + 35 * day,
        "decided_on": None if status in OPEN else received + 20 * day,
        "closed_on": received + 30 * day if status == "closed" else None,
        "next_due": (received + 14 * day if waiting else received + 35 * day)
        if status in OPEN
        else None,
    }


class StatementLog:
    """The SQL statements (and parameters) an engine runs while `recording` is on."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.recording = False
        self.statements: list[tuple[str, object]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if self.recording:
            self.statements.append((statement, parameters))

    def list_statements(self) -> list[tuple[str, object]]:
        """The list's own queries: the rows, the counts, the kept cases (not the session's)."""
        return [(s, p) for s, p in self.statements if "case_key_wrap" in s]


def replay(engine, statements, runs: int) -> tuple[float, float]:
    """Median time of running `statements` through the raw driver connection, and of the
    first (the rows of the page) alone."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        both, first = [], []
        for _ in range(runs):
            total = 0.0
            for index, (statement, parameters) in enumerate(statements):
                started = time.perf_counter()
                cursor.execute(statement, parameters)
                cursor.fetchall()
                spent = time.perf_counter() - started
                total += spent
                if index == 0:
                    first.append(spent)
            both.append(total)
        raw.rollback()
        return statistics.median(both), statistics.median(first)
    finally:
        raw.close()


def measure_backend(label: str, database_url: str, instance_dir: Path, args) -> bool:
    from service import create_app
    from service.platform.db import get_database

    _support.apply_environment(_support.app_environment(database_url, instance_dir))
    app = create_app()
    seeded = _support.migrate_and_seed(app)
    seed_cases(app, args.cases, random.Random(20261127))
    engine = get_database(app).engine
    timer = ServerTimer(app)
    log = StatementLog(engine)

    client = app.test_client()
    token = _support.csrf_from(client.get("/board/login").get_data(as_text=True))
    email = "cd_handler@homthu.bench"
    response = client.post("/board/login", data=seeded.login_form(email, token))
    if response.status_code != 302:
        raise RuntimeError(f"login answered {response.status_code}")

    def page(path: str) -> float:
        timer.last = None
        response = client.get(path, buffered=True)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        rows = response.get_data(as_text=True).count('data-testid="case-row"')
        if rows != 50:
            raise RuntimeError(f"GET {path} listed {rows} cases, not 50")
        if timer.last is None:
            raise RuntimeError(f"GET {path}: the timer saw no response")
        return timer.last

    print(f"[{label}]")
    ok = True
    for name, path in VARIANTS:
        for _ in range(args.warmup):
            page(path)
        samples = [page(path) for _ in range(args.runs)]
        log.statements.clear()
        log.recording = True
        page(path)
        log.recording = False
        statements = log.list_statements()
        bare, bare_rows = replay(engine, statements, args.runs)
        median = statistics.median(samples)
        prefix = f"{label}.{name}"
        print(f"{prefix}_server_ms", round(median * 1e3, 2))
        print(f"{prefix}_server_p90_ms", round(_quantile(samples, 0.9) * 1e3, 2))
        print(f"{prefix}_bare_queries_ms", round(bare * 1e3, 2), f"({len(statements)} statements)")
        print(f"{prefix}_bare_rows_query_ms", round(bare_rows * 1e3, 2))
        ratio = median / bare
        if name == "deadline":
            fast, near = median * 1e3 <= LIMIT_MS, ratio <= LIMIT_RATIO
            ok &= fast and near
            print(f"{prefix}_goal_ms", "PASS" if fast else "FAIL", f"(limit {LIMIT_MS})")
            print(
                f"{prefix}_ratio", round(ratio, 2), "PASS" if near else "FAIL",
                f"(limit {LIMIT_RATIO})",
            )  # fmt: skip
            print(f"{prefix}_ratio_to_rows_query_alone", round(median / bare_rows, 2))
        else:
            print(f"{prefix}_ratio", round(ratio, 2))
    engine.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=10)
    return _support.run_on_backends(parser, measure_backend, "cases")


if __name__ == "__main__":
    sys.exit(main())
