"""The validation checklist's wall time beside the same checks run one after another.

Ten endpoint checks against a local test server whose endpoint answers in about 300 ms, run
through ``run_checklist`` and, in the same invocation and alternating with it, sequentially.
The slowest single check is measured in the sequential runs, where nothing else competes.

    .venv/bin/python bench/checklist.py --checks 10 --delay-ms 300 --reps 5

Target: checklist wall time at most 1.3x the slowest single check, judged on the worst
repetition. A missed target prints ``TARGET MISSED``; the exit code is still 0. Exit code 2 means
the run itself broke (a check failed, so the figures would not measure what they claim).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from actions.checks.checklist import Check, run_checklist
from actions.checks.http import check_endpoint
from actions.checks.result import CheckResult

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, percentile  # isort: skip

# The test service lives under tests/, which is not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.httpservers import HttpService, serve  # isort: skip

RATIO_TARGET = 1.3
CHECK_TIMEOUT_S = 10.0
SLOW_AFTER_S = 2.0


def _checks(service: HttpService, client: httpx.Client, count: int, delay_s: float) -> list[Check]:
    def endpoint(number: int) -> Check:
        name = f"endpoint {number}"
        url = service.url(f"/slow?s={delay_s}&n={number}")

        def run() -> CheckResult:
            return check_endpoint(
                client=client,
                name=name,
                url=url,
                timeout_s=CHECK_TIMEOUT_S,
                slow_after_s=SLOW_AFTER_S,
            )

        return Check(name, "endpoint", run)

    return [endpoint(n) for n in range(count)]


def _require_ok(results: Sequence[CheckResult]) -> None:
    failed = [f"{r.name}: {r.reason}" for r in results if not r.ok]
    if failed:
        raise BenchError("; ".join(failed))


def _concurrent(checks: Sequence[Check]) -> float:
    started = time.perf_counter()
    outcome = run_checklist(checks, timeout_s=CHECK_TIMEOUT_S * 2)
    wall = time.perf_counter() - started
    _require_ok(outcome.results)
    return wall


def _sequential(checks: Sequence[Check]) -> tuple[float, float]:
    """Wall time of the whole run, and the slowest single check in it."""
    started = time.perf_counter()
    results = [check.run() for check in checks]
    wall = time.perf_counter() - started
    _require_ok(results)
    return wall, max(r.duration_s for r in results)


def _row(label: str, values: Sequence[float], unit: str = "s") -> str:
    ordered = sorted(values)
    p50, worst = percentile(ordered, 50), ordered[-1]
    if unit == "s":
        return f"  {label:<34} p50 {p50 * 1000:8.1f} ms   max {worst * 1000:8.1f} ms"
    return f"  {label:<34} p50 {p50:8.2f} x    max {worst:8.2f} x"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=bounded_int(1, 64), default=10)
    parser.add_argument("--delay-ms", type=bounded_int(1, 3000), default=300)
    parser.add_argument("--reps", type=bounded_int(1, 50), default=5)
    args = parser.parse_args(argv)
    delay_s = args.delay_ms / 1000

    print(
        f"checklist bench: {args.checks} endpoint checks, each answering in ~{args.delay_ms} ms, "
        f"{args.reps} repetitions; python {platform.python_version()}, {platform.machine()}"
    )
    checklist_walls: list[float] = []
    sequential_walls: list[float] = []
    slowest_singles: list[float] = []
    ratios: list[float] = []
    try:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        with serve() as service, httpx.Client(trust_env=False, limits=limits) as client:
            checks = _checks(service, client, args.checks, delay_s)
            _concurrent(checks)  # warm-up: opens the pooled connections
            for rep in range(args.reps):
                # Alternate which goes first, so neither always meets a fresher server.
                if rep % 2:
                    sequential, slowest = _sequential(checks)
                    concurrent = _concurrent(checks)
                else:
                    concurrent = _concurrent(checks)
                    sequential, slowest = _sequential(checks)
                checklist_walls.append(concurrent)
                sequential_walls.append(sequential)
                slowest_singles.append(slowest)
                ratios.append(concurrent / slowest)
    except (BenchError, httpx.HTTPError, OSError) as exc:
        print(f"ABORTED, the run broke: {exc}", file=sys.stderr)
        return 2

    speedups = [s / c for s, c in zip(sequential_walls, checklist_walls, strict=True)]
    worst_ratio = max(ratios)
    verdict = "met" if worst_ratio <= RATIO_TARGET else "TARGET MISSED"
    print(_row("slowest single check (sequential)", slowest_singles))
    print(_row("run_checklist wall", checklist_walls))
    print(_row("sequential wall (baseline)", sequential_walls))
    print(_row("checklist / slowest single check", ratios, unit="x"))
    print(_row("sequential / checklist (speedup)", speedups, unit="x"))
    print(
        f"target: checklist wall <= {RATIO_TARGET}x the slowest single check "
        f"(worst repetition {worst_ratio:.2f}x): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
