"""Do small filings to a body wait while a 100 MB upload to the same body is being stored?

Every filing to a body takes its reference number from one counter row, and appends its audit
event to the organisation's one audit head; on PostgreSQL each row stays locked from its write
to the commit. If a filing writes them before sealing and storing its attachments, every other
filing to the body waits for that upload to be stored. This measures it.

Run from the project root (PostgreSQL: SQLite's writers take turns at BEGIN IMMEDIATE anyway):

    .venv/bin/python benchmarks/bench_filing_locks.py
    .venv/bin/python benchmarks/bench_filing_locks.py --size-mb 100 --rate 8 --postgres URL

What it does:

1. A fresh PostgreSQL database (dropped afterwards), migrated and seeded like the tests' world;
   the app as a real server: .venv/bin/gunicorn -c gunicorn.conf.py -w 1 (4 threads), with
   MAX_ATTACHMENT_MB above the upload's size.
2. Warm-up: concurrent small filings, so each server thread has run Argon2id once.
3. `alone`: --small small filings (no file) to the Trade Union (CD, where kind=problem goes),
   started --rate a second, each by a reporter of its own that fetches its form and then
   posts it; only the POST is timed. The starts do not wait for earlier filings to end (an open
   loop): a filing stuck behind a lock cannot hide the waits of those after it.
4. `during`: one reporter streams a --size-mb upload (generated on the fly, never in memory) to
   the same body. As soon as its last byte is sent — the server then seals and stores the file,
   which takes seconds — small filings start again at the same rate, until the upload's
   answer arrives.

It prints p50/p95/max of the small filings alone and during the upload, and the upload's own
times. The upload and the small filings share the cores, so it slows them somewhat in any
case (CPU); a lock shows as small filings waiting until the upload's commit (max ≈ the upload's
storing time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # also puts the project root on sys.path
from bench_upload_memory import (
    MIB,
    REFERENCE,
    WRITE_QUERY,
    Browser,
    MultipartFile,
    free_port,
    start_gunicorn,
    stop,
)


def form_fields(browser: Browser, title: str) -> dict[str, str]:
    """A fresh report form's fields (its own one-time token), as the reporter would send them."""
    status, _h, page = browser.get(WRITE_QUERY)
    if status != 200:
        raise RuntimeError(f"GET {WRITE_QUERY} answered {status}")
    return {
        "csrf_token": _support.csrf_from(page),
        "form_token": _support.form_token_from(page),
        "kind": "problem",
        "identity": "anonymous",
        "body": "auto",
        "title": title,
        "text": "Đo thời gian chờ khóa.",
    }


def post_filing(browser: Browser, upload: MultipartFile, sent: threading.Event | None = None):
    """POST a filing; return (reference, seconds from the first byte to the answer)."""

    def body():
        yield from upload.body()
        if sent is not None:
            sent.set()  # the last byte is out: the server now seals and stores the file

    started = time.perf_counter()
    status, _h, data = browser.request(
        "POST",
        "/report/write",
        body(),
        {"Content-Type": upload.content_type, "Content-Length": str(upload.content_length)},
    )
    seconds = time.perf_counter() - started
    text = data.decode("utf-8", "replace")
    if status != 200:
        raise RuntimeError(f"POST /report/write answered {status}: {text[:300]}")
    _support.receipt_from(text)
    match = REFERENCE.search(text)
    if match is None:
        raise RuntimeError("the receipt page carries no reference")
    return match.group(1), seconds


class SmallFilers:
    """Small filings started at a steady rate, each by a reporter of its own, each POST timed.

    The arrivals do not wait for earlier filings to finish (an open loop, as reporters arrive):
    a filing stuck behind a lock does not hold back the ones after it, so every wait is seen.
    """

    def __init__(self, port: int, interval: float) -> None:
        self.port, self.interval = port, interval
        self.times: list[float] = []
        self.references: list[str] = []
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()

    def _one(self) -> None:
        try:
            browser = Browser(self.port)
            upload = MultipartFile(form_fields(browser, "Nhỏ"), "", 0)
            reference, seconds = post_filing(browser, upload)
        except BaseException as error:  # reported by run(), in the main thread
            self.failures.append(error)
            return
        with self._lock:
            self.times.append(seconds)
            self.references.append(reference)

    def run(self, keep_going) -> None:
        """Start a filing every `interval` while keep_going(number started) says so."""
        threads: list[threading.Thread] = []
        next_start = time.perf_counter()
        while keep_going(len(threads)):
            thread = threading.Thread(target=self._one)
            thread.start()
            threads.append(thread)
            next_start += self.interval
            time.sleep(max(0.0, next_start - time.perf_counter()))
        for thread in threads:
            thread.join()
        if self.failures:
            raise self.failures[0]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(label: str, times: list[float]) -> None:
    ms = [t * 1000 for t in times]
    print(
        f"{label}.small_filings",
        len(ms),
        f"p50 {percentile(ms, 0.5):.0f} ms",
        f"p95 {percentile(ms, 0.95):.0f} ms",
        f"max {max(ms):.0f} ms",
        f"mean {statistics.fmean(ms):.0f} ms",
    )


def measure(port: int, args) -> None:
    interval = 1 / args.rate
    warm = SmallFilers(port, 0.05)
    warm.run(lambda started: started < 12)

    alone = SmallFilers(port, interval)
    alone.run(lambda started: started < args.small)
    report("alone", alone.times)

    big_browser = Browser(port)
    big = MultipartFile(form_fields(big_browser, "Tệp lớn"), "lon.bin", args.size_mb * MIB)
    sent, answered = threading.Event(), threading.Event()
    result: dict[str, object] = {}

    def upload() -> None:
        try:
            result["reference"], result["seconds"] = post_filing(big_browser, big, sent)
            result["answered_at"] = time.perf_counter()
        except BaseException as error:  # reported below
            result["error"] = error
        finally:
            sent.set()
            answered.set()

    uploader = threading.Thread(target=upload)
    uploader.start()
    sent.wait()
    sent_at = time.perf_counter()
    during = SmallFilers(port, interval)
    during.run(lambda _started: not answered.is_set())
    uploader.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    report("during", during.times)
    stored = float(result["answered_at"]) - sent_at  # type: ignore[arg-type]
    print("upload.size_mb", args.size_mb)
    print("upload.seconds_total", round(float(result["seconds"]), 2))  # type: ignore[arg-type]
    print("upload.seconds_after_last_byte", round(stored, 2), "(sealing, storing, commit)")
    references = [*during.references, str(result["reference"])]
    print(
        "during.references",
        min(references),
        "…",
        max(references),
        "(all CD:",
        all(r.startswith("CD-") for r in references),
        ")",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=100, help="size of the upload (MiB)")
    parser.add_argument("--rate", type=float, default=8, help="small filings started per second")
    parser.add_argument("--small", type=int, default=30, help="small filings measured alone")
    parser.add_argument("--mode", default="production", help="HOMTHU_ENV of the server")
    parser.add_argument("--postgres", metavar="URL", default=_support.DEFAULT_PG_URL)
    args = parser.parse_args()
    if not _support.pg_reachable(args.postgres):
        raise SystemExit(f"PostgreSQL at {args.postgres} does not answer")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="homthu-bench-") as temp:
        database_url = stack.enter_context(_support.fresh_pg_database(args.postgres))
        instance = Path(temp) / "instance"
        os.environ["HOMTHU_INSTANCE_DIR"] = str(instance)  # read by config.py at import
        env = _support.app_environment(database_url, instance, args.mode)
        env["MAX_ATTACHMENT_MB"] = str(args.size_mb + 10)
        _support.apply_environment(env)

        from service import create_app
        from service.platform.db import get_database

        app = create_app()
        _support.migrate_and_seed(app)
        get_database(app).engine.dispose()
        port = free_port()
        server, _worker = start_gunicorn(
            {**os.environ, "PYTHONUNBUFFERED": "1"}, port, Path(temp) / "gunicorn.log", None
        )
        print("database postgresql; server gunicorn -w 1; small filings/s", args.rate)
        try:
            measure(port, args)
        finally:
            stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
