"""A drill on a long history, beside the real rollback's own time on the same repository.

Builds, with ``git fast-import``, a working copy with --commits commits (default 50,000) on its
phase branch and a bare origin holding them. Each repetition, alternating which goes first:

- ours:     the whole drill as ``/rollback drill`` runs it (the local clone with its scratch
            remote, the test branch and its break, the rollback, the git-level check), then
            its scratch folder removed;
- baseline: the real rollback's git steps on a fresh copy of the same repository (the plan, the
            backup branch pushed, the reset, the leased push), the copy made outside the timing.

    .venv/bin/python bench/drill.py --commits 50000 --reps 15

Fifteen repetitions by default: on a noisy 2-core machine the p50 of a few moves a lot.

Target: ours p50 at most 1.5x the baseline p50, the clone included. A missed target prints
``TARGET MISSED``; the exit code is still 0. Exit code 2 means the run broke.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import git

from actions.drill import (
    TEST_BRANCH,
    break_on_test_branch,
    clone_for_drill,
    remove_scratch,
    roll_back_one_commit,
    roll_back_test_branch,
    verify_at_git_level,
)
from actions.errors import RollbackBotError

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, git_out, isolate_git  # isort: skip
from harness import print_ratio, run_in_temp_folder, timing_row  # isort: skip

RATIO_TARGET = 1.5
BRANCH = "feature/phase2-module-integration"
STEP_TIMEOUT_S = 600.0


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    return git_out(cwd, *args, timeout_s=STEP_TIMEOUT_S, stdin=stdin)


def _path(i: int) -> str:
    """One of 100 files; one is server/routes.ts, the file the procedure's drill breaks."""
    return "server/routes.ts" if i % 100 == 0 else f"server/file{i % 100}.ts"


def _stream(commits: int) -> bytes:
    out = []
    for i in range(1, commits + 1):
        body = f"line {i}\n"
        message = f"change {i}\n"
        out.append(
            f"commit refs/heads/{BRANCH}\nmark :{i}\n"
            f"committer Bench <bench@localhost> {1_763_715_600 + i} +0000\n"
            f"data {len(message)}\n{message}"
            + (f"from :{i - 1}\n" if i > 1 else "")
            + f"M 644 inline {_path(i)}\ndata {len(body)}\n{body}\n"
        )
    return "".join(out).encode()


def build(folder: Path, commits: int) -> tuple[Path, Path]:
    work, origin = folder / "work", folder / "origin.git"
    _git(folder, "init", "-q", "-b", BRANCH, str(work))
    _git(work, "fast-import", "--quiet", stdin=_stream(commits))
    _git(work, "checkout", "-q", BRANCH)
    _git(folder, "init", "-q", "--bare", str(origin))
    _git(work, "remote", "add", "origin", str(origin))
    _git(work, "push", "-q", "origin", BRANCH)
    return work, origin


def ours(work: Path, folder: Path) -> dict[str, float]:
    """The drill, and how long each of its phases took (seconds)."""
    scratch = folder / "drill-scratch"
    scratch.mkdir()
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name], mark = now - mark, now

    try:
        repo = clone_for_drill(
            source=work, branch=BRANCH, scratch=scratch, timeout_s=STEP_TIMEOUT_S,
            whole_tree=False, branch_off=TEST_BRANCH,
        )  # fmt: skip
        lap("clone")
        break_on_test_branch(scratch=repo, timeout_s=STEP_TIMEOUT_S)
        lap("break")
        plan = roll_back_test_branch(
            scratch=repo, now=datetime.now(UTC), phase="phase2", timeout_s=STEP_TIMEOUT_S
        )
        lap("rollback")
        verify_at_git_level(scratch=repo, plan=plan, timeout_s=STEP_TIMEOUT_S)
        lap("verify")
    finally:
        remove_scratch(scratch)
    lap("cleanup")
    return phases


def copy_for_baseline(work: Path, origin: Path, folder: Path) -> Path:
    """A fresh working copy and remote, identical to the live ones, made outside the timing."""
    target = folder / "baseline"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    shutil.copytree(origin, target / "origin.git")
    _git(target, "clone", "-q", "--branch", BRANCH, str(target / "origin.git"), "work")
    return target / "work"


def baseline(work: Path) -> dict[str, float]:
    roll_back_one_commit(
        repo=git.Repo(work), branch=BRANCH, now=datetime.now(UTC), phase="phase2",
        timeout_s=STEP_TIMEOUT_S,
    )  # fmt: skip
    return {}


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    started = time.perf_counter()
    work, origin = build(folder, args.commits)
    print(f"built {args.commits} commits in {time.perf_counter() - started:.1f} s")
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    phases: dict[str, list[float]] = {}
    for rep in range(args.reps + 1):  # the first one warms caches and is not counted
        order = ["ours", "baseline"] if rep % 2 == 0 else ["baseline", "ours"]
        for label in order:
            if time.monotonic() > give_up:
                raise BenchError(f"--time-limit {args.time_limit} s ran out after {rep} reps")
            copy = copy_for_baseline(work, origin, folder) if label == "baseline" else None
            # The untimed copy's writeback must not land inside the next timed run.
            os.sync()
            began = time.perf_counter()
            laps = ours(work, folder) if copy is None else baseline(copy)
            if rep:
                times[label].append(time.perf_counter() - began)
                for name, seconds in laps.items():
                    phases.setdefault(name, []).append(seconds)
    print(f"drill ({args.reps} reps, alternating):")
    print(timing_row("ours: the whole drill, clone included", times["ours"], width=40))
    print(timing_row("baseline: the rollback's own git steps", times["baseline"], width=40))
    print("ours, phase by phase (the rollback inside the drill is the baseline's code):")
    for name, laps_of_phase in phases.items():
        print(timing_row(f"  {name}", laps_of_phase, width=40))
    print_ratio(
        what="drill", ours=times["ours"], baseline=times["baseline"], target=RATIO_TARGET,
        baseline_name="the rollback",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=bounded_int(10, 1_000_000), default=50_000)
    parser.add_argument("--reps", type=bounded_int(1, 100), default=15)
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=900)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    isolate_git(identity=True)
    print(
        f"drill bench: {args.commits} commits, {args.reps} reps; python {platform.python_version()}"
    )
    return run_in_temp_folder(
        "drill-bench-", args.dir, lambda folder: run(args, folder), also_broken=(RollbackBotError,)
    )


if __name__ == "__main__":
    sys.exit(main())
