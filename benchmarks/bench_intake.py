"""Filing a report and following one up, against one Argon2id derivation (a script, not a test).

Goal (a): POST /report/write (no attachment) and POST /follow-up each cost at most 1.2 times one
`receipts.derive_reporter_keys` (service/sealing/receipts.py) with the PRODUCTION profile;
everything else together adds at most 20 %.

Run from the project root:

    .venv/bin/python benchmarks/bench_intake.py    # SQLite, and PostgreSQL if it answers
    .venv/bin/python benchmarks/bench_intake.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/bench_intake.py --no-postgres --runs 40

For each backend the script builds a fresh database with the migrations (SQLite under a temporary
directory; on PostgreSQL a database homthu_bench_<random>, dropped afterwards), seeds one
organisation with a chair and a handler in each body (PRODUCTION profile throughout), and drives
the real application through Flask's test client with HOMTHU_ENV=development and
ARGON2_PROFILE=production. The request is posted as a browser posts it (multipart, with the empty
file part of an unused file input).

"Server time" is measured inside the WSGI call (a middleware around app.wsgi_app, perf_counter
from the call to the close of the response), so building the request in the test client is not
counted. Each round runs one derivation, one filing and one follow-up, in an order that rotates
from round to round, so drift affects all three alike. Medians of --runs rounds after --warmup
rounds. The Argon2id time inside each request is also measured (a timing wrapper around
receipts.derive_reporter_keys, which the service calls through the module), giving a second,
per-request breakdown: request time minus the derivation that request actually ran.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # also puts the project root on sys.path

LIMIT = 1.2
WRITE_QUERY = "/report/write?kind=problem&identity=anonymous&body=auto"


class ServerTimer:
    """WSGI middleware: wall time from the call into the app to the close of its response."""

    def __init__(self, app) -> None:
        self.inner = app.wsgi_app
        app.wsgi_app = self
        self.last: float | None = None

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        body = self.inner(environ, start_response)
        return _TimedBody(body, started, self)


class _TimedBody:
    def __init__(self, body, started: float, timer: ServerTimer) -> None:
        self._body, self._started, self._timer = body, started, timer

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
        self._timer.last = time.perf_counter() - self._started


class DerivationMeter:
    """Wraps receipts.derive_reporter_keys to time and count the derivations a request runs."""

    def __init__(self, receipts_module) -> None:
        self._receipts = receipts_module
        self.original = receipts_module.derive_reporter_keys
        self.seconds = 0.0
        self.calls = 0
        receipts_module.derive_reporter_keys = self._timed

    def _timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.original(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0

    def restore(self) -> None:
        self._receipts.derive_reporter_keys = self.original


def measure_backend(label: str, database_url: str, instance_dir: Path, runs: int, warmup: int):
    from service import create_app
    from service.platform.db import get_database
    from service.sealing import receipts as sealing_receipts
    from service.sealing.profiles import PRODUCTION

    _support.apply_environment(_support.app_environment(database_url, instance_dir))
    app = create_app()
    if app.extensions["homthu.kdf"] != PRODUCTION:
        raise SystemExit("the application is not using the PRODUCTION Argon2id profile")
    seeded = _support.migrate_and_seed(app)
    timer = ServerTimer(app)
    meter = DerivationMeter(sealing_receipts)

    writer = app.test_client()
    write_token = _support.csrf_from(writer.get(WRITE_QUERY).get_data(as_text=True))
    follower = app.test_client()
    follow_token = _support.csrf_from(follower.get("/follow-up").get_data(as_text=True))
    receipts: list[str] = []
    samples: dict[str, list[float]] = {"derive": [], "write": [], "follow": []}
    inside: dict[str, list[float]] = {"write": [], "follow": []}
    calls: dict[str, set[int]] = {"write": set(), "follow": set()}

    def derive() -> float:
        receipt = sealing_receipts.new_receipt()
        started = time.perf_counter()
        meter.original(receipt, seeded.receipt_salt, PRODUCTION)
        return time.perf_counter() - started

    def server_time(kind: str, send: Callable[[], object]) -> float:
        meter.reset()
        timer.last = None
        send()
        if timer.last is None:
            raise RuntimeError("the response was not closed")
        inside[kind].append(meter.seconds)
        calls[kind].add(meter.calls)
        return timer.last

    def file_report() -> float:
        # A form of its own for each filing (one filing per form), fetched outside the timing.
        form_token = _support.form_token_from(writer.get(WRITE_QUERY).get_data(as_text=True))

        def send():
            response = writer.post(
                "/report/write",
                data={
                    "csrf_token": write_token,
                    "form_token": form_token,
                    "kind": "problem",
                    "identity": "anonymous",
                    "body": "auto",
                    "title": "Máy lạnh phòng họp hỏng",
                    "text": "Máy lạnh phòng họp tầng 2 hỏng từ tuần trước. " * 20,
                    "attachments": (io.BytesIO(b""), ""),  # the browser's unused file input
                },
                content_type="multipart/form-data",
                buffered=True,  # the body is read and the response closed inside the call
            )
            if response.status_code != 200:
                raise RuntimeError(f"POST /report/write answered {response.status_code}")
            receipts.append(_support.receipt_from(response.get_data(as_text=True)))

        return server_time("write", send)

    def follow_up() -> float:
        receipt = receipts[len(samples["follow"]) % len(receipts)]

        def send():
            response = follower.post(
                "/follow-up", data={"csrf_token": follow_token, "receipt": receipt}, buffered=True
            )
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not location.endswith("/follow-up/case"):
                raise RuntimeError(f"POST /follow-up answered {response.status_code}")

        return server_time("follow", send)

    actions = [("derive", derive), ("write", file_report), ("follow", follow_up)]
    for _ in range(warmup):
        for _name, action in actions:
            action()
    for kind in inside:
        inside[kind].clear()
        calls[kind].clear()
    for round_number in range(runs):
        shift = round_number % len(actions)
        for name, action in actions[shift:] + actions[:shift]:
            samples[name].append(action())

    meter.restore()
    get_database(app).engine.dispose()
    return report(label, samples, inside, calls)


def report(label, samples, inside, calls) -> bool:
    ms = 1e3
    derive = statistics.median(samples["derive"])
    print(f"[{label}]")
    print(f"{label}.runs", len(samples["derive"]))
    print(f"{label}.derive_reporter_keys_ms", round(derive * ms, 1))
    ok = True
    for kind, path in (("write", "POST /report/write"), ("follow", "POST /follow-up")):
        request = statistics.median(samples[kind])
        in_request = [s - d for s, d in zip(samples[kind], inside[kind], strict=True)]
        ratio = request / derive
        passed = ratio <= LIMIT
        ok &= passed
        prefix = f"{label}.{kind}"
        print(f"# {path}")
        print(f"{prefix}_server_ms", round(request * ms, 1))
        print(f"{prefix}_server_p90_ms", round(_quantile(samples[kind], 0.9) * ms, 1))
        print(f"{prefix}_ratio", round(ratio, 3), "PASS" if passed else "FAIL", f"(limit {LIMIT})")
        print(f"{prefix}_outside_argon2_ms", round((request - derive) * ms, 1), "(median - median)")
        print(
            f"{prefix}_outside_argon2_pct",
            round((request - derive) / derive * 100, 1),
            f"(limit {round((LIMIT - 1) * 100)})",
        )
        print(f"{prefix}_argon2_in_request_ms", round(statistics.median(inside[kind]) * ms, 1))
        print(
            f"{prefix}_rest_of_request_ms",
            round(statistics.median(in_request) * ms, 1),
            "(per request: request - its own derivation)",
        )
        print(f"{prefix}_derivations_per_request", ",".join(map(str, sorted(calls[kind]))))
    return ok


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30, help="measured rounds (at least 20)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="an administrative URL of a PostgreSQL server (default: "
        f"{_support.DEFAULT_PG_URL} if it answers)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if args.runs < 20:
        parser.error("--runs must be at least 20")

    with tempfile.TemporaryDirectory(prefix="homthu-bench-") as temp:
        temp_dir = Path(temp)
        # config.py reads the instance directory once, at import.
        os.environ["HOMTHU_INSTANCE_DIR"] = str(temp_dir / "instance")
        from service.sealing.profiles import PRODUCTION

        print("profile", PRODUCTION.encode())
        print("cpus", os.cpu_count())
        ok = True
        ok &= measure_backend(
            "sqlite", _support.sqlite_url(temp_dir), temp_dir / "instance", args.runs, args.warmup
        )

        pg_url = args.postgres or _support.DEFAULT_PG_URL
        if args.no_postgres:
            print("[postgresql] skipped (--no-postgres)")
        elif not _support.pg_reachable(pg_url):
            if args.postgres:
                raise SystemExit(f"PostgreSQL at {args.postgres} does not answer")
            print(f"[postgresql] skipped: nothing answers at {pg_url}")
        else:
            with _support.fresh_pg_database(pg_url) as url:
                ok &= measure_backend(
                    "postgresql", url, temp_dir / "instance", args.runs, args.warmup
                )
    print("goal_a", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
