"""The bot's bisect beside ``git bisect run``, with the same test script, in the same run.

Builds a repository of --commits commits (default 64) on top of a good base; the commit at
--at (a fraction, default 0.5) adds a ``BROKEN`` line, which stays. The test script is what a
checklist is to the bot, made cheap so the bisecting itself is measured: it fails when the line
is there. Each repetition runs both sides, alternating which goes first, and times all of it:

- ours:     the bot's isolated clone (``actions.drill.clone_for_drill``), then
            ``actions.bisect.bisect`` with the bot's judgement of each commit
            (``check_out_clean``: a forced detached checkout and a clean) and the script, then
            the scratch folder removed;
- baseline: ``git clone --local`` of the same repository, ``git bisect start <bad> <good>``,
            ``git bisect run <script>``, ``git bisect reset``, then the clone removed.

Both must name the same commit (checked every repetition), and the judgement counts print.

    .venv/bin/python bench/bisect.py --commits 64 --reps 10   (this file's main)

Target: ours p50 at most 1.3x the baseline p50. A missed target prints ``TARGET MISSED``; the
exit code is still 0. Exit code 2 means the run broke. The temporary folder is deleted.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from actions.bisect import Verdict, bisect
from actions.drill import check_out_clean, clone_for_drill

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


def ours(repo: Path, commits: list[str], script: Path, scratch: Path) -> tuple[str, int]:
    scratch.mkdir()
    try:
        cloned = clone_for_drill(
            source=repo, branch="main", scratch=scratch, timeout_s=GIT_TIMEOUT_S
        )

        def judge(sha: str) -> Verdict:
            if not check_out_clean(clone=cloned.clone, sha=sha, timeout_s=GIT_TIMEOUT_S):
                return Verdict.SKIP
            test = subprocess.run([str(script)], cwd=cloned.clone, timeout=GIT_TIMEOUT_S)
            return Verdict.GOOD if test.returncode == 0 else Verdict.BAD

        found = bisect(commits, judge)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if found.first_bad is None:
        raise BenchError("ours named no commit")
    return found.first_bad, found.runs


def baseline(repo: Path, commits: list[str], script: Path, scratch: Path) -> tuple[str, int]:
    scratch.mkdir()
    try:
        clone = scratch / "clone"
        _git(scratch, "clone", "-q", "--local", "--no-checkout", "--", str(repo), str(clone))
        _git(clone, "bisect", "start", commits[-1], f"{commits[0]}^")
        try:
            out = _git(clone, "bisect", "run", str(script))
        finally:
            _git(clone, "bisect", "reset")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for line in out.splitlines():
        if line.endswith("is the first bad commit"):
            return line.split()[0], out.count("running")
    raise BenchError("git bisect run named no commit")


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    bad_at = max(0, min(args.commits - 1, int(args.commits * args.at)))
    repo, commits, script = build(folder, args.commits, bad_at)
    sides = {"ours": ours, "baseline": baseline}
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    runs: dict[str, int] = {}
    for rep in range(args.reps + 1):  # the first one warms caches and is not counted
        order = list(sides.items()) if rep % 2 == 0 else list(sides.items())[::-1]
        for label, side in order:
            if time.monotonic() > give_up:
                raise BenchError(f"--time-limit {args.time_limit} s ran out after {rep} reps")
            began = time.perf_counter()
            found, runs[label] = side(repo, commits, script, folder / label)
            elapsed = time.perf_counter() - began
            if found != commits[bad_at]:
                raise BenchError(f"{label} named {found[:12]}, not {commits[bad_at][:12]}")
            if rep:
                times[label].append(elapsed)
    print(f"bisect ({args.reps} reps, alternating; the bad commit at {bad_at} of {args.commits}):")
    print(timing_row(f"ours: clone + bisect ({runs['ours']} runs)", times["ours"], width=44))
    print(timing_row(f"baseline: clone + git bisect run ({runs['baseline']} runs)",
                     times["baseline"], width=44))  # fmt: skip
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
