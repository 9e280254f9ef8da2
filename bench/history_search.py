"""Scenario 3's target in a long history: the bot's search beside the procedure's `git log --grep`.

Builds, with `git fast-import`, a repository of --commits commits (default 100,000) on the phase
branch. Commit messages are varied and many mention email (or a removal) in their body or in
one of the two words only, so git's grep lets many through and the subject check has work to
do; the first real email-removal commit sits at --at (a fraction of the history, default 0.6).

Each repetition runs both sides, alternating which goes first:

- ours:     ``find_commit_before_email_removal`` (git's --grep narrows, the subject decides),
            opening the repository as the bot does;
- baseline: what the procedure's operator types, `git log --grep=email --grep=remov
            --all-match --reverse --format=%H %s` on the branch, read to the first line, then
            `git rev-parse <that>^`.

Both must find the same parent commit (checked every repetition).

    .venv/bin/python bench/history_search.py --commits 100000 --reps 5

Target: ours p50 at most 1.5x the baseline p50. A missed target prints ``TARGET MISSED``; the
exit code is still 0. Exit code 2 means the run broke. The temporary folder is deleted.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from actions.errors import RollbackBotError
from actions.git import open_repo
from actions.rollback_email import find_commit_before_email_removal

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, git_out, isolate_git, lean_git  # isort: skip
from harness import print_ratio, run_in_temp_folder, timing_row  # isort: skip

RATIO_TARGET = 1.5
BRANCH = "feature/phase2-module-integration"
BASE_EPOCH = 1_763_715_600
GIT_TIMEOUT_S = 300
# Near misses, so git's grep lets them through and only the subject check tells them apart.
_DECOYS = (
    "feat(phase2): email templates for the new module",
    "chore: remove unused imports",
    "docs: explain the email plan\n\nWe will remove the legacy email sender later.",
    "fix(phase2): e-mail header parsing",
    "refactor: delete dead code in deals",
)


def _stream(commits: int, removal_at: int) -> bytes:
    out: list[str] = []
    for i in range(1, commits + 1):
        if i == removal_at:
            message = "stabilize(phase2): remove legacy email sender\n"
        elif i % 7 == 0:
            message = _DECOYS[i % len(_DECOYS)] + f" ({i})\n"
        else:
            message = f"feat(phase2): step {i}\n"
        body = f"export const step = {i}\n"
        out.append(
            f"commit refs/heads/{BRANCH}\nmark :{i}\n"
            f"committer Bench <bench@example.com> {BASE_EPOCH + i * 60} +0000\n"
            f"data {len(message.encode())}\n{message}"
            + (f"from :{i - 1}\n" if i > 1 else "")
            + f"M 100644 inline server/module{i % 97}.ts\ndata {len(body.encode())}\n{body}\n"
        )
    return "".join(out).encode()


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    return git_out(cwd, *args, timeout_s=GIT_TIMEOUT_S, stdin=stdin)


def ours(repo_path: Path) -> str:
    found = find_commit_before_email_removal(
        repo=open_repo(repo_path), branch=BRANCH, timeout_s=GIT_TIMEOUT_S
    )
    if found is None:
        raise BenchError("ours found no email-removal commit")
    return found[0]


def baseline(repo_path: Path) -> str:
    code, out, err = lean_git(
        repo_path,
        [
            "log",
            "--reverse",
            "--regexp-ignore-case",
            "--all-match",
            "--grep=email",
            "--grep=remov",
            "--format=%H %s",
            f"refs/heads/{BRANCH}",
        ],
        timeout_s=GIT_TIMEOUT_S,
    )
    if code != 0:
        raise BenchError(f"git log failed: {err.decode(errors='replace')[:300]}")
    # The operator reads the list and picks the first real removal: a subject naming both.
    for line in out.decode().splitlines():
        sha, _, subject = line.partition(" ")
        lowered = subject.lower()
        if "email" in lowered and "remov" in lowered:
            code, parent, err = lean_git(repo_path, ["rev-parse", f"{sha}^"])
            if code != 0:
                raise BenchError(f"git rev-parse failed: {err.decode(errors='replace')[:300]}")
            return parent.decode().strip()
    raise BenchError("the baseline found no email-removal commit")


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    started = time.perf_counter()
    repo = folder / "repo"
    _git(folder, "init", "-q", "-b", BRANCH, str(repo))
    removal_at = max(2, int(args.commits * args.at))
    _git(repo, "fast-import", "--quiet", stdin=_stream(args.commits, removal_at))
    _git(repo, "checkout", "-q", BRANCH)
    expected = _git(repo, "rev-parse", f"{BRANCH}~{args.commits - removal_at + 1}")
    print(f"built {args.commits} commits in {time.perf_counter() - started:.1f} s")
    sides: dict[str, Callable[[Path], str]] = {"ours": ours, "baseline": baseline}
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for rep in range(args.reps + 1):  # the first one warms caches and is not counted
        order = list(sides.items()) if rep % 2 == 0 else list(sides.items())[::-1]
        for label, side in order:
            if time.monotonic() > give_up:
                raise BenchError(f"--time-limit {args.time_limit} s ran out after {rep} reps")
            began = time.perf_counter()
            found = side(repo)
            elapsed = time.perf_counter() - began
            if found != expected:
                raise BenchError(f"{label} found {found[:12]}, not {expected[:12]}")
            if rep:
                times[label].append(elapsed)
    print(f"search ({args.reps} reps, alternating; the removal at commit {removal_at}):")
    print(timing_row("ours: find_commit_before_email_removal", times["ours"], width=42))
    print(timing_row("baseline: git log --grep, then rev-parse", times["baseline"], width=42))
    print_ratio(
        what="history search", ours=times["ours"], baseline=times["baseline"], target=RATIO_TARGET
    )


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=bounded_int(100, 1_000_000), default=100_000)
    parser.add_argument("--reps", type=bounded_int(1, 100), default=5)
    parser.add_argument("--at", type=_fraction, default=0.6, help="where the removal sits")
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=600)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    isolate_git()
    version = _git(Path.cwd(), "--version")
    print(
        f"history search bench: {args.commits} commits, {args.reps} reps; "
        f"{version}, python {platform.python_version()}, {platform.machine()}"
    )
    return run_in_temp_folder(
        "history-search-bench-",
        args.dir,
        lambda folder: run(args, folder),
        also_broken=(RollbackBotError,),
    )


if __name__ == "__main__":
    sys.exit(main())
