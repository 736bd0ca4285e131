"""The monthly summary over 1 000 000 cases on PostgreSQL (a script, not a test).

Goal: `send_monthly_summary` — count in SQL, protect the small cells, render the mail for every
recipient and queue it — takes at most 2 s and the process at most 150 MB (peak RSS).

    .venv/bin/python benchmarks/bench_summary.py
    .venv/bin/python benchmarks/bench_summary.py --cases 1000000 --runs 5 \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres

Seeding: a fresh database homthu_bench_<random> (dropped afterwards) is built by the migrations,
one organisation with its two bodies, a chair in each and two summary recipients is created, and
the cases are written by ONE `INSERT … SELECT … FROM generate_series(1, N)` in the server: no row
crosses the wire, so a million cases take about a minute, almost all of it index maintenance
(`COPY` from a generated file is the alternative for data that does not come from a formula).
The cases spread over five years before the measured month, about 16 700 a month, in every kind
and both bodies: most decided (resolved or not accepted), some transferred, the last two months'
still open (some overdue), with sealed columns of realistic sizes (random bytes). Then ANALYZE.

Measurement: each run starts a NEW Python process (so nothing is cached in it) that creates the
app, calls `send_monthly_summary(..., force=True)` for the month after the data's last full month
and rolls back; it reports the wall time of that call and the process's peak RSS
(`ru_maxrss`: everything the process ever held, imports included). The first run warms
PostgreSQL's buffers; the figures are the median and the worst of the runs after it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # also puts the project root on sys.path

TIME_LIMIT = 2.0
MEMORY_LIMIT_MB = 150
MONTH = "2026-10"

SEED_SQL = """
INSERT INTO cases (
    id, organisation_id, body_id, reference, kind, status, track, anonymous, priority,
    concerns_head_of_unit, received_on, acknowledged_on, accepted_on, decided_on, decision,
    closed_on, transferred_on, transfer_count, reopen_count, acknowledge_due, next_due,
    extensions, lookup_id, reporter_public_key, reporter_kdf, title_ct, text_ct, exclusions_ct
)
SELECT
    md5('case' || g),
    :org,
    CASE WHEN g % 3 = 0 THEN :ttnd ELSE :cd END,
    'B-' || g,
    (ARRAY['suggestion', 'problem', 'complaint', 'denunciation', 'misconduct'])[1 + g % 5],
    CASE WHEN open THEN 'in_progress'
         WHEN g % 10 = 0 THEN 'not_accepted' ELSE 'closed' END,
    'formal', true, 'normal', false,
    received,
    received + (g % 13),
    CASE WHEN g % 10 = 0 THEN NULL ELSE received + (g % 13) END,
    CASE WHEN open THEN NULL ELSE received + 12 + (g % 40) END,
    CASE WHEN open THEN NULL WHEN g % 10 = 0 THEN 'not_accepted' ELSE 'resolved' END,
    CASE WHEN open OR g % 10 = 0 THEN NULL ELSE received + 20 + (g % 40) END,
    CASE WHEN g % 50 = 0 THEN received + (g % 5) END,
    CASE WHEN g % 50 = 0 THEN 1 ELSE 0 END,
    0,
    received + 14,
    CASE WHEN open THEN received + 30 END,
    0,
    sha256(('lookup' || g)::bytea),
    sha256(('public' || g)::bytea),
    'm=19456,t=2,p=1',
    sha256(('t' || g)::bytea) || sha256(('u' || g)::bytea) || sha256(('v' || g)::bytea),
    decode(repeat(md5('text' || g), 24), 'hex'),
    sha256(('e' || g)::bytea)
FROM (
    SELECT g,
           CAST(:last_day AS date) - ((g::bigint * 7919) % :days)::int AS received,
           ((g::bigint * 7919) % :days) < 60 AS open
    FROM generate_series(1, :cases) AS g
) AS generated
"""


def seed(url: str, cases: int) -> None:
    """Organisation, bodies, chairs, recipients, then the cases in one server-side INSERT."""
    from sqlalchemy import text

    from service import create_app
    from service.admin.organisations import create_organisation
    from service.models import Role, SummaryRecipient
    from service.people.accounts import create_account
    from service.platform.clock import utcnow
    from service.platform.db import get_database
    from service.platform.migrate import upgrade_database
    from service.sealing.profiles import FAST

    upgrade_database(url)
    app = create_app()
    with app.app_context(), get_database(app).session() as db:
        organisation, bodies = create_organisation(
            db, name="Trung tâm Hội nghị (benchmark)", slug="bench", profile=FAST
        )
        by_code = {new.body.code: new.body for new in bodies}
        for code in ("CD", "TTND"):
            create_account(
                db,
                organisation,
                email=f"chair.{code.lower()}@homthu.bench",
                display_name=f"Chair {code}",
                role=Role.CHAIR,
                password=secrets.token_urlsafe(12),
                profile=FAST,
                body=by_code[code],
            )
        for email, kind in (
            ("ld@homthu.bench", "management"),
            ("hc@homthu.bench", "administration"),
        ):
            db.add(
                SummaryRecipient(
                    organisation_id=organisation.id,
                    email=email,
                    display_name=email,
                    kind=kind,
                    created_at=utcnow(),
                )
            )
        db.commit()
        started = time.perf_counter()
        db.execute(
            text(SEED_SQL),
            {
                "org": organisation.id,
                "cd": by_code["CD"].id,
                "ttnd": by_code["TTND"].id,
                "last_day": "2026-11-20",
                "days": 5 * 365,
                "cases": cases,
            },
        )
        db.commit()
        print(f"seeded {cases} cases in {time.perf_counter() - started:.1f} s", flush=True)
    engine = get_database(app).engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


MEASURE = """
import json, resource, sys, time
sys.path.insert(0, ".")
from service import create_app
from service.platform.clock import utcnow
from service.platform.db import get_database
from service.models import Organisation
from service.reporting.summaries import parse_month, send_monthly_summary
from sqlalchemy import select

app = create_app()
with app.app_context(), get_database(app).session() as db:
    organisation = db.scalar(select(Organisation))
    month = parse_month(sys.argv[1])
    db.commit = db.flush  # measure everything but keep the database as it is
    started = time.perf_counter()
    result = send_monthly_summary(db, organisation, month, force=True, now=utcnow())
    elapsed = time.perf_counter() - started
    db.rollback()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "recipients": result.recipients}))
"""


def measure(env: dict[str, str]) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, MONTH],
        cwd=_support.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=_support.DEFAULT_PG_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not _support.pg_reachable(args.postgres):
        sys.exit(f"PostgreSQL does not answer at {args.postgres}")
    with (
        tempfile.TemporaryDirectory() as instance,
        _support.fresh_pg_database(args.postgres) as url,
    ):
        env = _support.app_environment(url, Path(instance))
        _support.apply_environment(env)
        seed(url, args.cases)
        child_env = {**os.environ, **env}
        results = [measure(child_env) for _ in range(args.runs + 1)]
    warm = results[1:]
    seconds = [r["seconds"] for r in warm]
    peaks = [r["peak_mb"] for r in warm]
    print(f"cold run: {results[0]['seconds']:.3f} s, peak {results[0]['peak_mb']:.1f} MB")
    print(
        f"summary of {MONTH} over {args.cases} cases to {warm[0]['recipients']} recipients: "
        f"median {statistics.median(seconds):.3f} s, worst {max(seconds):.3f} s "
        f"({'PASS' if max(seconds) <= TIME_LIMIT else 'FAIL'} at ≤ {TIME_LIMIT} s); "
        f"peak RSS median {statistics.median(peaks):.1f} MB, worst {max(peaks):.1f} MB "
        f"({'PASS' if max(peaks) <= MEMORY_LIMIT_MB else 'FAIL'} at ≤ {MEMORY_LIMIT_MB} MB)"
    )


if __name__ == "__main__":
    main()
