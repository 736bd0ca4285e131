"""Timings of the crypto package with the PRODUCTION profile (a script, not a test).

Run from the project root: .venv/bin/python benchmarks/bench_crypto.py
Prints one "name value" pair per line: medians in the unit the name says, throughput in MB/s
(10**6 bytes per second) over 50 MiB sealed and opened in STREAM_CHUNK_SIZE chunks.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project is not installed

import crypto

STREAM_BYTES = 50 * 1024 * 1024


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
    """Median MB/s of sealing and of opening 50 MiB in STREAM_CHUNK_SIZE chunks."""
    key = crypto.new_data_key()
    chunk = secrets.token_bytes(crypto.STREAM_CHUNK_SIZE)
    count = STREAM_BYTES // crypto.STREAM_CHUNK_SIZE
    header, sealed = crypto.seal_stream(key, b"bench", (chunk for _ in range(count)))
    stored = list(sealed)

    def seal_all() -> None:
        _, chunks = crypto.seal_stream(key, b"bench", (chunk for _ in range(count)))
        for _ in chunks:
            pass

    def open_all() -> None:
        for _ in crypto.open_stream(key, header, b"bench", stored):
            pass

    seal_time = median_seconds(seal_all, runs)
    open_time = median_seconds(open_all, runs)
    return STREAM_BYTES / seal_time / 1e6, STREAM_BYTES / open_time / 1e6


def main() -> None:
    profile = crypto.PRODUCTION
    salt = secrets.token_bytes(16)
    receipt = crypto.new_receipt()
    private, public = crypto.generate_keypair()
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key(public, data_key, b"bench")
    kib = secrets.token_bytes(1024)

    print("profile", profile.encode())
    derive = median_seconds(lambda: crypto.derive_key(b"secret", salt, profile), 15)
    print("derive_key_ms", round(derive * 1e3, 1))
    reporter = median_seconds(lambda: crypto.derive_reporter_keys(receipt, salt, profile), 15)
    print("derive_reporter_keys_ms", round(reporter * 1e3, 1))
    wrap = median_seconds(lambda: crypto.wrap_key(public, data_key, b"bench"), 500)
    print("wrap_key_us", round(wrap * 1e6, 1))
    unwrap = median_seconds(lambda: crypto.unwrap_key(private, wrapped, b"bench"), 500)
    print("unwrap_key_us", round(unwrap * 1e6, 1))
    seal = median_seconds(lambda: crypto.seal(data_key, kib, b"bench"), 2000)
    print("seal_1kib_us", round(seal * 1e6, 1))
    seal_rate, open_rate = stream_throughput()
    print("stream_seal_mb_per_s", round(seal_rate))
    print("stream_open_mb_per_s", round(open_rate))


if __name__ == "__main__":
    main()
