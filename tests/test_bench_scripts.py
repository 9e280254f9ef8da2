"""The benchmarks still run, on small inputs: no figure is checked here (targets belong to the
benchmarks themselves), only that each one runs the bot's real code to the end and checks its
own result, so a benchmark cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench(script: str, *args: str) -> str:
    ran = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def test_bench_bisect_names_the_bad_commit_run_as_a_script() -> None:
    # Run as a script, bench/bisect.py sits first on sys.path, where it would stand in for
    # the standard library's bisect; the run only finishes if it does not.
    out = _bench("bisect.py", "--commits", "16", "--reps", "1")
    assert "ours: clone + bisect (4 runs)" in out
    assert "baseline: clone + git bisect run (4 runs)" in out
    assert "ours / baseline (p50):" in out


def test_bench_drill_runs_the_whole_drill_beside_the_rollback() -> None:
    out = _bench("drill.py", "--commits", "300", "--reps", "1")
    assert "built 300 commits" in out
    assert "ours / baseline (p50):" in out
