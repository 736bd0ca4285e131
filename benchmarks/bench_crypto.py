"""Timings of the sealing operations with the PRODUCTION profile (a script, not a test).

Each line times what the service calls through service/sealing/ (which the crypto package does
the work of): unlocking a staff private key (one Argon2id run), deriving a reporter's keys from a
receipt, wrapping and unwrapping a case key, sealing a 1 KiB field, and the STREAM construction
that seals files (through the upload spool's sealer).

Run from the project root: .venv/bin/python benchmarks/bench_crypto.py
Prints one "name value" pair per line: medians in the unit the name says, throughput in MB/s
(10**6 bytes per second) over 50 MiB sealed and opened in chunks of the stored chunk size.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project is not installed

from service.models import KeyPurpose
from service.sealing import keyring, receipts, staff_keys
from service.sealing.casefiles import seal_text
from service.sealing.profiles import PRODUCTION
from service.sealing.spool import SPOOL_CHUNK_SIZE, SpoolSealer

STREAM_BYTES = 50 * 1024 * 1024
CASE_ID = secrets.token_hex(16)


def median_seconds(action: Callable[[], object], runs: int) -> float:
    """Median wall time of `runs` calls, after one warm-up call."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def stream_throughput(runs: int = 3) -> tuple[float, float]:
    """Median MB/s of sealing and of opening 50 MiB in SPOOL_CHUNK_SIZE chunks."""
    chunk = secrets.token_bytes(SPOOL_CHUNK_SIZE)
    count = STREAM_BYTES // SPOOL_CHUNK_SIZE
    sealer = SpoolSealer()
    stored = [sealer.seal_chunk(chunk, last=i == count - 1) for i in range(count)]

    def seal_all() -> None:
        other = SpoolSealer()
        for i in range(count):
            other.seal_chunk(chunk, last=i == count - 1)

    def open_all() -> None:
        opener = sealer.opener()
        for i, sealed in enumerate(stored):
            opener.open_chunk(sealed, last=i == count - 1)
        opener.finish()

    seal_time = median_seconds(seal_all, runs)
    open_time = median_seconds(open_all, runs)
    return STREAM_BYTES / seal_time / 1e6, STREAM_BYTES / open_time / 1e6


def main() -> None:
    salt = secrets.token_bytes(16)
    receipt = receipts.new_receipt()
    staff = staff_keys.new_staff_keys("a benchmark password", PRODUCTION)
    case_key = keyring.CaseKeys.generate(with_identity=False).case
    wrapped = keyring.wrap_case_key(staff.public_key, case_key, CASE_ID, KeyPurpose.CASE)
    kib = "x" * 1024

    print("profile", PRODUCTION.encode())
    unlock = median_seconds(
        lambda: staff_keys.unlock_private_key(staff.locked_private_key, "a benchmark password"), 15
    )
    print("unlock_private_key_ms", round(unlock * 1e3, 1))
    reporter = median_seconds(lambda: receipts.derive_reporter_keys(receipt, salt, PRODUCTION), 15)
    print("derive_reporter_keys_ms", round(reporter * 1e3, 1))
    wrap = median_seconds(
        lambda: keyring.wrap_case_key(staff.public_key, case_key, CASE_ID, KeyPurpose.CASE), 500
    )
    print("wrap_key_us", round(wrap * 1e6, 1))
    unwrap = median_seconds(
        lambda: keyring.unwrap_case_key(staff.private_key, wrapped, CASE_ID, KeyPurpose.CASE), 500
    )
    print("unwrap_key_us", round(unwrap * 1e6, 1))
    seal = median_seconds(lambda: seal_text(case_key, CASE_ID, "text", kib), 2000)
    print("seal_1kib_us", round(seal * 1e6, 1))
    seal_rate, open_rate = stream_throughput()
    print("stream_seal_mb_per_s", round(seal_rate))
    print("stream_open_mb_per_s", round(open_rate))


if __name__ == "__main__":
    main()
