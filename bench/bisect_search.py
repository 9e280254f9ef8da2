"""The bisect's search beside ``git bisect run``, with the same test script, in the same run.

Builds a repository of --commits commits (default 64) on top of a good base; the commit at
--at (a fraction, default 0.5) adds a ``BROKEN`` line, which stays. The test script is what a
checklist is to the bot, made cheap so the search itself is measured: it fails when the line
is there. Each repetition runs both sides on their own clone, alternating which goes first:

- ours:     ``actions.bisect.bisect``, each judgement a ``git checkout --detach`` and the script;
- baseline: ``git bisect start <bad> <good>`` then ``git bisect run <script>``.

Both must name the same commit (checked every repetition), and the judgement counts print.

    .venv/bin/python bench/bisect_search.py --commits 64 --reps 10

Target: ours p50 at most 1.3x the baseline p50. A missed target prints ``TARGET MISSED``; the
exit code is still 0. Exit code 2 means the run broke. The temporary folder is deleted.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from actions.bisect import Verdict, bisect

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, git_out, isolate_git  # isort: skip
from harness import print_ratio, run_in_temp_folder, timing_row  # isort: skip

RATIO_TARGET = 1.3
GIT_TIMEOUT_S = 120
SCRIPT = "#!/bin/sh\n! grep -q BROKEN state.txt\n"


def _git(cwd: Path, *args: str) -> str:
    return git_out(cwd, *args, timeout_s=GIT_TIMEOUT_S)


def build(folder: Path, commits: int, bad_at: int) -> tuple[Path, list[str], Path]:
    repo = folder / "repo"
    _git(folder, "init", "-q", "-b", "main", str(repo))
    (repo / "state.txt").write_text("good\n")
    _git(repo, "add", "state.txt")
    _git(repo, "commit", "-q", "-m", "base")
    made = []
    for number in range(commits):
        with (repo / "state.txt").open("a") as out:
            out.write("BROKEN\n" if number == bad_at else f"change {number}\n")
        _git(repo, "commit", "-q", "-am", f"change {number}")
        made.append(_git(repo, "rev-parse", "HEAD"))
    script = folder / "test.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return repo, made, script


def ours(clone: Path, commits: list[str], script: Path) -> tuple[str, int]:
    def judge(sha: str) -> Verdict:
        _git(clone, "checkout", "-q", "--detach", sha)
        passed = subprocess.run([str(script)], cwd=clone, timeout=GIT_TIMEOUT_S).returncode == 0
        return Verdict.GOOD if passed else Verdict.BAD

    found = bisect(commits, judge)
    if found.first_bad is None:
        raise BenchError("ours named no commit")
    return found.first_bad, found.runs


def baseline(clone: Path, commits: list[str], script: Path) -> tuple[str, int]:
    _git(clone, "bisect", "start", commits[-1], f"{commits[0]}^")
    try:
        out = _git(clone, "bisect", "run", str(script))
    finally:
        _git(clone, "bisect", "reset")
    for line in out.splitlines():
        if line.endswith("is the first bad commit"):
            return line.split()[0], out.count("running")
    raise BenchError("git bisect run named no commit")


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    bad_at = max(0, min(args.commits - 1, int(args.commits * args.at)))
    repo, commits, script = build(folder, args.commits, bad_at)
    sides = {"ours": ours, "baseline": baseline}
    clones = {}
    for label in sides:
        clones[label] = folder / label
        _git(folder, "clone", "-q", str(repo), str(clones[label]))
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    runs: dict[str, int] = {}
    for rep in range(args.reps + 1):  # the first one warms caches and is not counted
        order = list(sides.items()) if rep % 2 == 0 else list(sides.items())[::-1]
        for label, side in order:
            if time.monotonic() > give_up:
                raise BenchError(f"--time-limit {args.time_limit} s ran out after {rep} reps")
            began = time.perf_counter()
            found, runs[label] = side(clones[label], commits, script)
            elapsed = time.perf_counter() - began
            if found != commits[bad_at]:
                raise BenchError(f"{label} named {found[:12]}, not {commits[bad_at][:12]}")
            if rep:
                times[label].append(elapsed)
    print(f"bisect ({args.reps} reps, alternating; the bad commit at {bad_at} of {args.commits}):")
    print(timing_row(f"ours: actions.bisect ({runs['ours']} runs)", times["ours"], width=40))
    print(timing_row(f"baseline: git bisect run ({runs['baseline']} runs)", times["baseline"],
                     width=40))  # fmt: skip
    print_ratio(
        what="bisect", ours=times["ours"], baseline=times["baseline"], target=RATIO_TARGET,
        baseline_name="git bisect run",
    )  # fmt: skip


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=bounded_int(2, 100_000), default=64)
    parser.add_argument("--reps", type=bounded_int(1, 100), default=10)
    parser.add_argument("--at", type=_fraction, default=0.5, help="where the bad commit sits")
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=600)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    isolate_git(identity=True)
    print(
        f"bisect bench: {args.commits} commits, {args.reps} reps; "
        f"{_git(Path.cwd(), '--version')}, python {platform.python_version()}"
    )
    return run_in_temp_folder("bisect-bench-", args.dir, lambda folder: run(args, folder))


if __name__ == "__main__":
    sys.exit(main())
