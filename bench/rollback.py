"""Cost of the bot's rollback git sequence on a big repository, next to raw git doing the same.

Builds, with `git fast-import`, a bare origin holding --commits commits (default 50,000) on the
phase branch with a checkpoint tag every few thousand commits (the last one 12 commits below
the head) and a phase migration after it, then a working copy cloned from it with uncommitted
work: a tracked edit, an untracked file and an ignored log.

Each repetition runs both sides, alternating which goes first, each on a fresh copy of the
origin and working copy (the copying is not timed):

- ours:     ``plan_rollback`` (default target) + ``snapshot_uncommitted`` +
            ``create_backup_branch`` + ``push_backup_branch`` + ``reset_to_target`` +
            ``push_with_lease``, opening the repository as the bot does;
- baseline: the raw git commands an operator would type for the same thing: symbolic-ref,
            rev-parse, ls-remote, describe (the last checkpoint below HEAD) and rev-parse of
            it, log target..HEAD, status, diff of the migrations, the temporary-index snapshot
            (read-tree, add -A, write-tree, commit-tree), update-ref, push of the backup,
            reset --hard, push --force-with-lease.

Service restart and cache clearing are not part of either side; the checks that both sides
left the origin as they should (branch at the target, backup branch with the old HEAD as first
parent and the same tree on both sides) run after the timing.

    .venv/bin/python bench/rollback.py --commits 50000 --reps 7

Target: ours p50 at most 1.3x the baseline p50. A missed target prints ``TARGET MISSED``; the
exit code is still 0. Exit code 2 means the run broke (git failed, a check failed, or
--time-limit ran out). The temporary folder is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from actions.errors import RollbackBotError
from actions.git import checkpoint_tag_patterns, open_repo
from actions.rollback_plan import plan_rollback
from actions.rollback_steps import (
    create_backup_branch,
    push_backup_branch,
    push_with_lease,
    reset_to_target,
    snapshot_uncommitted,
)

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, lean_git, print_ratio, run_in_temp_folder, timing_row  # isort: skip

RATIO_TARGET = 1.3
PHASE = "phase2"
BRANCH = "feature/phase2-module-integration"
BASE_EPOCH = 1_763_715_600  # 2025-11-21T09:00:00Z, the phase start
TAG_EVERY = 4_000
BELOW_HEAD = 12  # the last checkpoint is this many commits below the head
GIT_TIMEOUT_S = 300
STEP_TIMEOUT_S = 120.0
NOW = datetime(2025, 11, 22, 14, 30, 0, tzinfo=UTC)
BACKUP = f"{PHASE}-broken-{NOW:%Y%m%d-%H%M%S}"


def _git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise BenchError(f"git {args[0]} failed: {result.stderr.decode(errors='replace')[:500]}")
    return result.stdout.decode().strip()


def _fast_import_stream(commits: int) -> bytes:
    out: list[str] = []
    tagged = {commits - BELOW_HEAD} | set(range(TAG_EVERY, commits - BELOW_HEAD, TAG_EVERY))
    for i in range(1, commits + 1):
        when = BASE_EPOCH + i * 60
        body = f"export const step = {i}\n"
        message = f"stabilize(phase2): step {i}\n"
        out.append(
            f"commit refs/heads/{BRANCH}\nmark :{i}\n"
            f"committer Bench <bench@example.com> {when} +0000\n"
            f"data {len(message.encode())}\n{message}"
            + (f"from :{i - 1}\n" if i > 1 else "")
            + f"M 100644 inline server/module{i % 97}.ts\ndata {len(body.encode())}\n{body}"
        )
        if i == 1:
            out.append("M 100644 inline .gitignore\ndata 6\n*.log\n")
        if i == commits - BELOW_HEAD // 2:
            sql = "ALTER TABLE deals ADD x int;\n"
            out.append(f"M 100644 inline migrations/phase2_0002.sql\ndata {len(sql)}\n{sql}")
        out.append("\n")
        if i in tagged:
            name = f"{PHASE}-checkpoint-T+{i // 1000}h"
            tag_message = f"Phase 2 Checkpoint: step {i}\n"
            out.append(
                f"tag {name}\nfrom :{i}\ntagger Bench <bench@example.com> {when} +0000\n"
                f"data {len(tag_message.encode())}\n{tag_message}\n"
            )
    return "".join(out).encode()


def build(folder: Path, commits: int) -> Path:
    """The template: origin.git and work beside it, work's remote given relative to itself."""
    template = folder / "template"
    origin, work = template / "origin.git", template / "work"
    template.mkdir()
    _git(template, "init", "-q", "--bare", "-b", BRANCH, str(origin))
    _git(origin, "fast-import", "--quiet", stdin=_fast_import_stream(commits))
    _git(origin, "pack-refs", "--all")
    _git(template, "clone", "-q", "--branch", BRANCH, str(origin), str(work))
    # Relative to the working copy, so every copy of the pair talks to its own origin.
    _git(work, "remote", "set-url", "origin", "../origin.git")
    _git(work, "config", "user.name", "Bench")
    _git(work, "config", "user.email", "bench@example.com")
    (work / "server" / "module1.ts").write_text("export const step = 'edited, uncommitted'\n")
    (work / "notes").mkdir()
    (work / "notes" / "plan.md").write_text("untracked notes\n")
    (work / "debug.log").write_text("ignored\n")
    return template


def ours(work: Path) -> None:
    repo = open_repo(work)
    plan = plan_rollback(
        repo=repo, remote="origin", branch=BRANCH, phase=PHASE, target=None, now=NOW
    )
    tip = snapshot_uncommitted(repo=repo, head_sha=plan.head_sha) or plan.head_sha
    create_backup_branch(repo=repo, name=plan.backup_branch, sha=tip)
    push_backup_branch(repo=repo, remote="origin", name=plan.backup_branch, sha=tip)
    reset_to_target(
        repo=repo,
        branch=BRANCH,
        expected_head=plan.head_sha,
        target_sha=plan.target_sha,
        backup_branch=plan.backup_branch,
    )
    push_with_lease(
        repo=repo,
        remote="origin",
        branch=BRANCH,
        target_sha=plan.target_sha,
        expected_remote_sha=plan.remote_head,
        backup_branch=plan.backup_branch,
    )


def _lean_git(cwd: Path, args: Sequence[str], env: dict[str, str] | None) -> str:
    code, out, err = lean_git(cwd, args, timeout_s=GIT_TIMEOUT_S, env=env)
    if code != 0:
        raise BenchError(f"git {args[0]} failed: {err.decode(errors='replace')[:500]}")
    return out.decode().strip()


def baseline(work: Path, scratch: Path) -> None:
    def run(*args: str, env: dict[str, str] | None = None) -> str:
        return _lean_git(work, args, env)

    run("symbolic-ref", "HEAD")
    head = run("rev-parse", "--verify", "HEAD")
    remote_head = run("ls-remote", "origin", f"refs/heads/{BRANCH}").split()[0]
    matches = [f"--match={p.removeprefix('refs/tags/')}" for p in checkpoint_tag_patterns(PHASE)]
    tag = run("describe", "--tags", "--abbrev=0", *matches, "HEAD~1")  # no tag sits at HEAD here
    target = run("rev-parse", f"refs/tags/{tag}^{{commit}}")
    run("log", "--max-count=51", "--format=%H%x00%an <%ae>%x00%s%x00%cI", head, f"^{target}")
    run("status", "--porcelain=v1", "-z", "--untracked-files=all")
    run("diff", "--name-only", "-z", target, head, "--", "migrations")
    index = {"GIT_INDEX_FILE": str(scratch / "index")}
    run("read-tree", head, env=index)
    run("add", "-A", env=index)
    tree = run("write-tree", env=index)
    tip = run("commit-tree", "-p", head, "-m", "snapshot before rollback", tree)
    run("update-ref", f"refs/heads/{BACKUP}", tip, "")
    run("push", "--porcelain", "origin", f"{tip}:refs/heads/{BACKUP}")
    run("reset", "--quiet", "--hard", target)
    lease = f"--force-with-lease=refs/heads/{BRANCH}:{remote_head}"
    run("push", "--porcelain", lease, "origin", f"{target}:refs/heads/{BRANCH}")


def check(pair: Path, expected_target: str, old_head: str) -> str:
    """The origin as a rollback must leave it; returns the backup's tree for comparison."""
    origin = pair / "origin.git"
    if _git(origin, "rev-parse", f"refs/heads/{BRANCH}") != expected_target:
        raise BenchError("the branch on the origin is not at the target")
    if _git(origin, "rev-parse", f"refs/heads/{BACKUP}^1") != old_head:
        raise BenchError("the backup branch's first parent is not the old HEAD")
    if "edited, uncommitted" not in _git(origin, "show", f"refs/heads/{BACKUP}:server/module1.ts"):
        raise BenchError("the backup branch lacks the uncommitted edit")
    if _git(pair / "work", "rev-parse", "HEAD") != expected_target:
        raise BenchError("the working copy is not at the target")
    return _git(origin, "rev-parse", f"refs/heads/{BACKUP}^{{tree}}")


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    started = time.perf_counter()
    template = build(folder, args.commits)
    old_head = _git(template / "work", "rev-parse", "HEAD")
    target = _git(template / "work", "rev-parse", f"HEAD~{BELOW_HEAD}")
    print(f"built {args.commits} commits in {time.perf_counter() - started:.1f} s")

    sides: dict[str, Callable[[Path], None]] = {
        "ours": lambda pair: ours(pair / "work"),
        "baseline": lambda pair: baseline(pair / "work", pair),
    }
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for rep in range(args.reps + 1):  # the first one warms caches and is not counted
        order = list(sides.items()) if rep % 2 == 0 else list(sides.items())[::-1]
        trees = set()
        for label, side in order:
            if time.monotonic() > give_up:
                raise BenchError(f"--time-limit {args.time_limit} s ran out after {rep} reps")
            pair = folder / f"{label}-{rep}"
            shutil.copytree(template, pair, symlinks=True)
            # A copy has new inodes and ctimes, so every index entry looks stale; refresh it as
            # a live working copy's index would be (untimed), or a reset would rewrite every
            # file on one side and the other side's `git status` would pay for it instead.
            _git(pair / "work", "update-index", "-q", "--refresh")
            began = time.perf_counter()
            side(pair)
            elapsed = time.perf_counter() - began
            trees.add(check(pair, target, old_head))
            shutil.rmtree(pair)
            if rep:
                times[label].append(elapsed)
        if len(trees) != 1:
            raise BenchError("the two sides' backup branches hold different trees")

    print(f"sequence (fresh copies each time, {args.reps} reps, alternating):")
    print(
        timing_row("ours: plan + snapshot + backup + push + reset + lease", times["ours"], width=58)
    )
    print(timing_row("baseline: the same with raw git commands", times["baseline"], width=58))
    print_ratio(
        what="rollback sequence",
        ours=times["ours"],
        baseline=times["baseline"],
        target=RATIO_TARGET,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=bounded_int(100, 1_000_000), default=50_000)
    parser.add_argument("--reps", type=bounded_int(1, 100), default=7)
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=600)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    # Both sides run with the same, predictable git configuration.
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    version = _git(Path.cwd(), "--version")
    print(
        f"rollback bench: {args.commits} commits, {args.reps} reps; "
        f"{version}, python {platform.python_version()}, {platform.machine()}"
    )
    return run_in_temp_folder(
        "rollback-bench-",
        args.dir,
        lambda folder: run(args, folder),
        also_broken=(RollbackBotError,),
    )


if __name__ == "__main__":
    sys.exit(main())
