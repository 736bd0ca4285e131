"""Peak memory of a gunicorn worker while a 50 MB attachment is uploaded and downloaded.

Goal (b): uploading a 50 MB attachment grows the worker's peak memory by at most 64 MB.

Run from the project root:

    .venv/bin/python benchmarks/bench_upload_memory.py
    .venv/bin/python benchmarks/bench_upload_memory.py --size-mb 50 --mode development

What it does:

1. Builds a fresh SQLite database under a temporary directory with the migrations and seeds one
   organisation (both bodies, a chair and a handler in each; PRODUCTION Argon2id profile).
2. Starts the application as a real server: .venv/bin/gunicorn with one sync worker (-w 1) on a
   free port, with the repository's gunicorn.conf.py if there is one, MAX_ATTACHMENT_MB=60 and
   HOMTHU_ENV=production (--mode to change it).
3. As an anonymous reporter (the form is public): GET the form for a CSRF token and the session
   cookie, file one warm-up report with a 1 MB file and one without a file (the latter's peak is
   printed as the cost of a filing without any file: mostly Argon2id's 19 MiB), then stream a
   50 MB multipart upload with http.client, Content-Length computed beforehand and the body
   written in 64 KiB pieces generated on the fly (the benchmark never holds the file either).
4. As the chair of the receiving body: log in at /board/login, find the case on /board/, open it,
   download the small file once (warm-up), then the 50 MB one, checking its SHA-256.

Memory is read from /proc/<worker pid>/status. Before each measured request the worker's peak
(VmHWM) is reset to its current RSS by writing 5 to /proc/<pid>/clear_refs, so after the request
VmHWM - baseline VmRSS is exactly how far that request pushed the peak. If the kernel refuses the
reset, the script says so and uses VmHWM(after) - VmRSS(before), which over-reports if an earlier
request had a higher peak. VmRSS is also sampled every 5 ms during each request as a cross-check.
MB here means MiB (2**20 bytes), as MAX_ATTACHMENT_MB counts.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # also puts the project root on sys.path

MIB = 1024 * 1024
LIMIT_MB = 64
PIECE = 64 * 1024
WRITE_QUERY = "/report/write?kind=problem&identity=anonymous&body=auto"
REFERENCE = re.compile(r"\b([A-Z]+-\d{4}-\d{4})\b")


# --- the worker's memory -------------------------------------------------------------------


def status_kib(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if the kernel refuses."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples the worker's VmRSS every few milliseconds while a request runs."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, status_kib(self.pid)["VmRSS"])
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, status_kib(self.pid)["VmRSS"])


@dataclass
class PeakReport:
    label: str
    baseline_rss_kib: int
    hwm_before_kib: int
    hwm_after_kib: int
    rss_after_kib: int
    sampled_peak_kib: int
    reset: bool
    seconds: float

    @property
    def growth_mb(self) -> float:
        return (self.hwm_after_kib - self.baseline_rss_kib) / 1024

    def print(self, limit: float | None = None) -> bool:
        mb = 1 / 1024
        p = self.label
        print(f"{p}.seconds", round(self.seconds, 2))
        print(f"{p}.baseline_rss_mb", round(self.baseline_rss_kib * mb, 1))
        print(f"{p}.peak_mb", round(self.hwm_after_kib * mb, 1), "(VmHWM after)")
        print(f"{p}.rss_after_mb", round(self.rss_after_kib * mb, 1))
        print(f"{p}.sampled_peak_mb", round(self.sampled_peak_kib * mb, 1), "(VmRSS every 5 ms)")
        verdict = ""
        ok = True
        if limit is not None:
            ok = self.growth_mb <= limit
            verdict = f"{'PASS' if ok else 'FAIL'} (limit {limit})"
        how = "peak reset before" if self.reset else "no reset: VmHWM(after) - VmRSS(before)"
        print(f"{p}.peak_growth_mb", round(self.growth_mb, 1), verdict, f"[{how}]")
        return ok


def measure(label: str, pid: int, action) -> tuple[PeakReport, Any]:
    before = status_kib(pid)
    reset = reset_peak(pid)
    if reset:
        before = status_kib(pid)
    started = time.perf_counter()
    with RssSampler(pid) as sampler:
        result = action()
    seconds = time.perf_counter() - started
    after = status_kib(pid)
    report = PeakReport(
        label,
        baseline_rss_kib=before["VmRSS"],
        hwm_before_kib=before["VmHWM"],
        hwm_after_kib=after["VmHWM"],
        rss_after_kib=after["VmRSS"],
        sampled_peak_kib=sampler.peak_kib,
        reset=reset,
        seconds=seconds,
    )
    return report, result


# --- HTTP ----------------------------------------------------------------------------------


class Browser:
    """Just enough of a browser: one cookie jar, fresh connections, bodies read in pieces."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    def _remember(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
        sink=None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send; return status, headers and body (or feed the body to `sink` piece by piece)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in self._headers(headers).items():
                connection.putheader(name, value)
            if isinstance(body, bytes):
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
            else:
                connection.endheaders()
                for piece in body or ():
                    connection.send(piece)
            response = connection.getresponse()
            self._remember(response)
            if sink is None:
                data = response.read()
            else:
                data = b""
                while piece := response.read(PIECE):
                    sink(piece)
            return response.status, dict(response.headers.items()), data
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        status, headers, data = self.request("GET", path)
        return status, headers, data.decode("utf-8", "replace")

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, dict[str, str], str]:
        body = urlencode(fields).encode()
        status, headers, data = self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return status, headers, data.decode("utf-8", "replace")


class MultipartFile:
    """A multipart/form-data body with one file, generated piece by piece; length known ahead."""

    def __init__(self, fields: dict[str, str], filename: str, size: int) -> None:
        self.boundary = "----homthubench" + secrets.token_hex(16)
        self.size = size
        # One random MiB, repeated with a counter mixed in: incompressible and cheap to make.
        self._block = secrets.token_bytes(MIB)
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n"
            )
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self._head = "".join(parts).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.sha256 = hashlib.sha256()

    @property
    def content_length(self) -> int:
        return len(self._head) + self.size + len(self._tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def content(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.size:
            offset = sent % MIB
            piece = self._block[offset : offset + min(PIECE, self.size - sent, MIB - offset)]
            if offset == 0:  # make every MiB different
                piece = (sent // MIB).to_bytes(8, "big") + piece[8:]
            yield piece
            sent += len(piece)

    def body(self) -> Iterator[bytes]:
        self.sha256 = hashlib.sha256()
        yield self._head
        for piece in self.content():
            self.sha256.update(piece)
            yield piece
        yield self._tail


def csrf_of(page: str) -> str:
    return _support.csrf_from(page)


def file_report(browser: Browser, title: str, size: int, filename: str) -> tuple[str, str]:
    """Post the reporter's form with a generated file; return (reference, sha256 hex)."""
    status, _h, page = browser.get(WRITE_QUERY)
    if status != 200:
        raise RuntimeError(f"GET {WRITE_QUERY} answered {status}")
    fields = {
        "csrf_token": csrf_of(page),
        "form_token": _support.form_token_from(page),
        "kind": "problem",
        "identity": "anonymous",
        "body": "auto",
        "title": title,
        "text": "Tệp đính kèm để đo bộ nhớ.",
    }
    upload = MultipartFile(fields, filename, size)
    status, _h, data = browser.request(
        "POST",
        "/report/write",
        upload.body(),
        {"Content-Type": upload.content_type, "Content-Length": str(upload.content_length)},
    )
    text = data.decode("utf-8", "replace")
    if status != 200:
        raise RuntimeError(f"POST /report/write answered {status}: {text[:300]}")
    _support.receipt_from(text)
    match = REFERENCE.search(text)
    if match is None:
        raise RuntimeError("the receipt page carries no reference")
    return match.group(1), upload.sha256.hexdigest()


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(p) for p in children.read().split()]
    except OSError:
        return []


def start_gunicorn(
    env: dict[str, str], port: int, log_path: Path, threads: int | None
) -> tuple[subprocess.Popen, int]:
    """gunicorn -w 1, with the repository's gunicorn.conf.py if any (its other settings kept)."""
    gunicorn = _support.ROOT / ".venv" / "bin" / "gunicorn"
    command = [str(gunicorn if gunicorn.exists() else "gunicorn")]
    config = _support.ROOT / "gunicorn.conf.py"
    if config.exists():
        command += ["-c", str(config)]
    else:
        command += ["-k", "sync"]
    if threads is not None:  # 1 gives a plain sync worker even if the config asks for threads
        command += ["--threads", str(threads)]
    command += ["-w", "1", "-b", f"127.0.0.1:{port}", "--timeout", "600", "wsgi:app"]
    print("command", Path(command[0]).name, " ".join(command[1:]))
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        command, cwd=_support.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log_path}")
        workers = children_of(server.pid)
        if workers:
            try:
                status, _h, _page = Browser(port).get("/")
            except OSError:
                status = None
            if status is not None:
                return server, workers[0]
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log_path}")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- the scenario --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=50, help="size of the big file (MiB)")
    parser.add_argument("--mode", default="production", help="HOMTHU_ENV of the server")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--threads",
        type=int,
        help="gunicorn --threads (default: as gunicorn.conf.py says; 1 forces a sync worker)",
    )
    parser.add_argument(
        "--warmup-concurrency",
        type=int,
        default=4,
        help="concurrent filings per warm-up round (default 4: gunicorn.conf.py's threads)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="use a fresh database on this PostgreSQL server instead of SQLite",
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        database_url = None
        if args.postgres:
            database_url = stack.enter_context(_support.fresh_pg_database(args.postgres))
        return run(args, database_url)


def run(args, database_url: str | None) -> int:
    size = args.size_mb * MIB
    temp_dir = Path(tempfile.mkdtemp(prefix="homthu-bench-"))
    instance = temp_dir / "instance"
    os.environ["HOMTHU_INSTANCE_DIR"] = str(instance)  # read by config.py at import
    database_url = database_url or _support.sqlite_url(temp_dir)
    env = _support.app_environment(database_url, instance, args.mode)
    env["MAX_ATTACHMENT_MB"] = "60"
    _support.apply_environment(env)

    from service import create_app
    from service.platform.db import get_database

    app = create_app()
    seeded = _support.migrate_and_seed(app)
    get_database(app).engine.dispose()
    chair_email = "cd_chair@homthu.bench"  # kind=problem goes to the Trade Union (CD)

    server_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    port = free_port()
    log_path = temp_dir / "gunicorn.log"
    server, worker = start_gunicorn(server_env, port, log_path, args.threads)
    ok = True
    try:
        used = re.search(r"Using worker: (\S+)", log_path.read_text(errors="replace"))
        worker_class = used.group(1) if used else "?"
        print("server", "gunicorn -w 1", "worker", worker_class, "mode", args.mode)
        print("database", database_url.split(":", 1)[0])
        print("worker_pid", worker)
        print("upload_size_mb", args.size_mb)
        started = status_kib(worker)
        print("worker_rss_at_start_mb", round(started["VmRSS"] / 1024, 1))
        reporter = Browser(port)
        warm_ref, warm_sha = file_report(reporter, "Khởi động", MIB, "warmup.bin")
        # Concurrent warm-up filings, so that every thread of a threaded worker has run Argon2id
        # once (glibc keeps its 19 MiB in that thread's malloc arena; see the README).
        failures: list[BaseException] = []

        def warm() -> None:
            try:
                file_report(Browser(port), "Khởi động", 0, "")
            except BaseException as error:  # reported below, in the main thread
                failures.append(error)

        for _round in range(3):
            warmers = [threading.Thread(target=warm) for _ in range(args.warmup_concurrency)]
            for warmer in warmers:
                warmer.start()
            for warmer in warmers:
                warmer.join()
        if failures:
            raise failures[0]
        file_report(reporter, "Khởi động 2", 0, "")  # no file: what a filing costs by itself
        idle = status_kib(worker)
        print("worker_rss_after_warmup_mb", round(idle["VmRSS"] / 1024, 1))
        print("worker_peak_during_warmup_mb", round(idle["VmHWM"] / 1024, 1))

        plain, _ = measure("no_file", worker, lambda: file_report(reporter, "Không tệp", 0, ""))
        plain.print()
        upload, (big_ref, big_sha) = measure(
            "upload",
            worker,
            lambda: file_report(reporter, "Tệp lớn", size, f"tep-{args.size_mb}mb.bin"),
        )
        ok &= upload.print(LIMIT_MB)
        print("upload.goal_b", "PASS" if upload.growth_mb <= LIMIT_MB else "FAIL")

        staff = Browser(port)
        status, _h, page = staff.get("/board/login")
        if status != 200:
            raise RuntimeError(f"GET /board/login answered {status}")
        status, _h, page = staff.post_form(
            "/board/login", seeded.login_form(chair_email, csrf_of(page))
        )
        if status != 302:
            raise RuntimeError(f"login answered {status}")
        status, _h, cases = staff.get("/board/")
        if status != 200:
            raise RuntimeError(f"GET /board/ answered {status}")
        links = {
            ref: case_id
            for case_id, ref in re.findall(r'href="/board/cases/([0-9a-f]{32})">([^<]+)</a>', cases)
        }

        def file_link(reference: str) -> str:
            status, _h, case_page = staff.get(f"/board/cases/{links[reference]}")
            found = re.findall(r'href="(/board/cases/[0-9a-f]{32}/files/[0-9a-f]{32})"', case_page)
            if status != 200 or len(found) != 1:
                raise RuntimeError(f"case {reference}: status {status}, {len(found)} file links")
            return found[0]

        def download(path: str) -> tuple[int, str]:
            digest, count = hashlib.sha256(), 0

            def sink(piece: bytes) -> None:
                nonlocal count
                digest.update(piece)
                count += len(piece)

            status, _h, _data = staff.request("GET", path, sink=sink)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
            return count, digest.hexdigest()

        warm_path, big_path = file_link(warm_ref), file_link(big_ref)
        if download(warm_path) != (MIB, warm_sha):
            raise RuntimeError("the warm-up file came back different")
        fetched, (got_size, got_sha) = measure("download", worker, lambda: download(big_path))
        fetched.print(LIMIT_MB)
        print("download.intact", got_size == size and got_sha == big_sha)
        if children_of(server.pid) != [worker]:
            print("warning: the worker was replaced during the run; numbers are not valid")
            ok = False
    finally:
        stop(server)
        if args.keep:
            print("kept", temp_dir)
        else:
            import shutil

            shutil.rmtree(temp_dir, ignore_errors=True)
    print("goal_b", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
