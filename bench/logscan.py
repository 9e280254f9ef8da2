"""Cost of an incremental log scan on a large log: about the new bytes, not the file.

Writes a log of --size-mb (default 1 GB) of server lines to a temporary folder, records its end
offset, appends --append-mb (default 8 MB) of new lines, and also writes those same new lines to
a file of their own. Then, alternating in the same run:

- from offset: ``scan_log`` of the large file from the recorded offset;
- baseline:    ``scan_log`` of the new-lines-only file from 0 ("costs about the new bytes");

and, once, a full scan of the large file from 0 for contrast. Both files were just written and
read once for warm-up, so the timed runs are warm (page cache); one cold run of each follows
after asking the kernel to drop the files' pages (fsync, then POSIX_FADV_DONTNEED).

    .venv/bin/python bench/logscan.py --size-mb 1024 --append-mb 8 --reps 7

Target: from-offset p50 at most 1.5x the baseline p50. A missed target prints ``TARGET
MISSED``; the exit code is still 0. Exit code 2 means the run broke (no room on disk, or the two
scans disagreed about what they found). The files are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from actions.checks.logscan import LogScan, log_end_offset, scan_log

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, percentile, run_in_temp_folder  # isort: skip

RATIO_TARGET = 1.5
MB = 1 << 20
BLOCK_LINES = 100_000
DISK_MARGIN_BYTES = 512 * MB


def _block(seed: int, lines: int) -> bytes:
    """Realistic server lines; one in 2,000 an ERROR and one in 500 a slow query."""
    out = []
    for n in range(lines):
        i = seed * lines + n
        stamp = (
            f"2025-11-21T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        )
        if n % 2000 == 1999:
            out.append(f"{stamp} ERROR deals: query failed code=57014 request_id={i:012x}\n")
        elif n % 500 == 499:
            out.append(f"{stamp} WARN slow query 2314ms on customers list request={i:x}\n")
        else:
            ms = (i * 7919) % 900
            out.append(
                f"{stamp} INFO GET /api/customers?page={i % 50} 200 {ms}ms user=u{i % 977}\n"
            )
    return "".join(out).encode()


def _write(path: Path, size: int, block: bytes) -> float:
    """Write ``size`` bytes (whole lines) of ``block`` repeated; returns seconds taken."""
    started = time.perf_counter()
    written = 0
    with path.open("ab") as handle:
        for _ in range(size // len(block) + 1):  # bounded: whole blocks, then a cut at a line end
            if written >= size:
                break
            piece = block if written + len(block) <= size else block[: size - written]
            if piece is not block:
                piece = piece[: piece.rfind(b"\n") + 1] or block[: block.find(b"\n") + 1]
            handle.write(piece)
            written += len(piece)
        handle.flush()
        os.fsync(handle.fileno())
    return time.perf_counter() - started


def _evict(*paths: Path) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _timed(scan: Callable[[], LogScan]) -> tuple[float, LogScan]:
    started = time.perf_counter()
    result = scan()
    return time.perf_counter() - started, result


def _same_findings(a: LogScan, b: LogScan) -> None:
    if (a.error_count, a.warning_count, a.errors) != (b.error_count, b.warning_count, b.errors):
        found_a, found_b = (
            f"{a.error_count}/{a.warning_count}",
            f"{b.error_count}/{b.warning_count}",
        )
        raise BenchError(f"scans disagree: {found_a} vs {found_b} error/warning lines")


def _row(label: str, values: Sequence[float], new_bytes: int) -> str:
    ordered = sorted(values)
    p50, worst = percentile(ordered, 50), ordered[-1]
    rate = new_bytes / MB / p50 if p50 else float("inf")
    return f"  {label:<30} p50 {p50 * 1000:9.1f} ms   max {worst * 1000:9.1f} ms   {rate:7.0f} MB/s"


def run(args: argparse.Namespace, folder: Path) -> None:
    size, new = args.size_mb * MB, args.append_mb * MB
    free = shutil.disk_usage(folder).free
    if free < size + 2 * new + DISK_MARGIN_BYTES:
        raise BenchError(f"not enough disk in {folder}: {free // MB} MB free")
    big, only_new = folder / "server.log", folder / "new-only.log"
    old_block, new_block = _block(0, BLOCK_LINES), _block(1, BLOCK_LINES)

    write_s = _write(big, size, old_block)
    offset = log_end_offset(big)
    _write(big, new, new_block)
    _write(only_new, new, new_block)
    appended = log_end_offset(big) - offset
    print(
        f"wrote {offset / MB:.0f} MB in {write_s:.1f} s ({offset / MB / write_s:.0f} MB/s), "
        f"then appended {appended / MB:.1f} MB; folder {folder}"
    )

    def from_offset() -> LogScan:
        return scan_log(path=big, since_offset=offset)

    def baseline() -> LogScan:
        return scan_log(path=only_new, since_offset=0)

    _same_findings(from_offset(), baseline())  # warm-up, and both find the same lines
    warm_offset: list[float] = []
    warm_base: list[float] = []
    for rep in range(args.reps):
        order = (from_offset, baseline) if rep % 2 == 0 else (baseline, from_offset)
        for scan in order:
            seconds, result = _timed(scan)
            if result.bytes_read != appended:
                raise BenchError(f"read {result.bytes_read} bytes, expected {appended}")
            (warm_offset if scan is from_offset else warm_base).append(seconds)

    full_s, full = _timed(lambda: scan_log(path=big, since_offset=0))
    _evict(big, only_new)
    cold_offset, _ = _timed(from_offset)
    cold_base, _ = _timed(baseline)

    print("warm (page cache; files just written and read once for warm-up):")
    print(_row("from offset", warm_offset, appended))
    print(_row("baseline: new bytes only", warm_base, appended))
    print("cold (after fsync + POSIX_FADV_DONTNEED on both files), one run each:")
    print(_row("from offset", [cold_offset], appended))
    print(_row("baseline: new bytes only", [cold_base], appended))
    print(f"contrast, full scan of all {full.bytes_read / MB:.0f} MB from 0 (warm, just written):")
    print(_row("full scan", [full_s], full.bytes_read))
    print(f"  full scan found {full.error_count} ERROR and {full.warning_count} warning lines")
    ratio = percentile(sorted(warm_offset), 50) / percentile(sorted(warm_base), 50)
    cold_ratio = cold_offset / cold_base if cold_base else float("inf")
    verdict = "met" if ratio <= RATIO_TARGET else "TARGET MISSED"
    print(f"from offset / baseline: warm p50 {ratio:.2f}x, cold {cold_ratio:.2f}x")
    print(
        f"full scan / from offset (warm p50): {full_s / percentile(sorted(warm_offset), 50):.0f}x"
    )
    target = f"from-offset time <= {RATIO_TARGET}x the new-bytes-only baseline (warm p50)"
    print(f"target: {target}: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=bounded_int(1, 16384), default=1024)
    parser.add_argument("--append-mb", type=bounded_int(1, 1024), default=8)
    parser.add_argument("--reps", type=bounded_int(1, 50), default=7)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    print(
        f"logscan bench: {args.size_mb} MB log, {args.append_mb} MB appended, {args.reps} reps; "
        f"python {platform.python_version()}, {platform.machine()}"
    )
    return run_in_temp_folder("logscan-bench-", args.dir, lambda folder: run(args, folder))


if __name__ == "__main__":
    sys.exit(main())
