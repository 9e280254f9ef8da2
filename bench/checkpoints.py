"""Cost of the bot's `/checkpoint list` data on a big repository, next to raw git doing the same.

Builds, with `git fast-import`, a bare origin holding --commits commits (default 20,000) on the
phase branch and --tags tags (default 5,000): annotated `phase2-checkpoint-T+Nh`,
`phase2-complete-T+Nh` and `checkpoint-YYYYmmdd-HHMMSS` tags, plus unrelated ones (annotated
release tags, another phase's checkpoints, lightweight tags). A working copy is cloned from it,
and a few of its checkpoint tags are then deleted on the origin so that some are local-only.

Then, alternating in the same run (one warm-up each, then --reps each):

- ours:     ``list_checkpoints(...)``, opening the repository each time as the bot does, the
            remote asked for its tags (on_remote is part of the answer);
- baseline: the same two git commands run raw through subprocess, output captured, not parsed:
            ``git for-each-ref --sort=-creatordate`` with actions.git's format and patterns,
            and ``git ls-remote --tags origin`` with the same patterns.

    .venv/bin/python bench/checkpoints.py --commits 20000 --tags 5000 --reps 9

Target: ours p50 at most 1.5x the baseline p50. A missed target prints ``TARGET MISSED``; the
exit code is still 0. Exit code 2 means the run broke (git failed, the two listings disagree,
or --time-limit ran out). The temporary folder is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from actions.checkpoint import CheckpointInfo, list_checkpoints
from actions.git import _TAG_FORMAT, checkpoint_tag_patterns, open_repo

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, lean_git, print_ratio, run_in_temp_folder, timing_row  # isort: skip

RATIO_TARGET = 1.5
PHASE = "phase2"
BRANCH = "feature/phase2-module-integration"
LOCAL_ONLY = 25  # checkpoint tags deleted on the origin after cloning
BASE_EPOCH = 1_763_715_600  # 2025-11-21T09:00:00Z, the phase start
GIT_TIMEOUT_S = 300


def _git(cwd: Path, *args: str, stdin: bytes | None = None, timeout: float = GIT_TIMEOUT_S) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"git {args[0]} failed: {result.stderr.decode(errors='replace')[:500]}")
    return result.stdout.decode()


def _tag_names(count: int) -> Iterator[tuple[str, bool]]:
    """(name, annotated) for a realistic mix; 60% of them are this phase's checkpoints."""
    shares: list[tuple[float, Callable[[int], str]]] = [
        (0.30, lambda n: f"{PHASE}-checkpoint-T+{n + 1}h"),
        (0.02, lambda n: f"{PHASE}-complete-T+{24 * (n + 1)}h"),
        (0.28, _stamp_name),
        (0.16, lambda n: f"v{n // 100}.{n // 10 % 10}.{n % 10}"),
        (0.14, lambda n: f"phase1-checkpoint-T+{n + 1}h"),
    ]
    made = 0
    for share, name in shares:
        for n in range(int(count * share)):
            yield name(n), True
            made += 1
    for n in range(count - made):  # the rest: lightweight release markers
        yield f"release-{n}", False


def _stamp_name(n: int) -> str:
    stamp = time.gmtime(BASE_EPOCH + n * 617)
    return time.strftime("checkpoint-%Y%m%d-%H%M%S", stamp)


def _fast_import_stream(commits: int, tags: int) -> bytes:
    out: list[str] = []
    for i in range(1, commits + 1):
        when = BASE_EPOCH + i * 60
        body = f"export const step = {i}\n"
        message = f"stabilize(phase2): step {i}\n"
        out.append(
            f"commit refs/heads/{BRANCH}\nmark :{i}\n"
            f"committer Bench <bench@example.com> {when} +0000\n"
            f"data {len(message.encode())}\n{message}"
            + (f"from :{i - 1}\n" if i > 1 else "")
            + f"M 100644 inline server/module{i % 97}.ts\ndata {len(body.encode())}\n{body}\n"
        )
    for k, (name, annotated) in enumerate(_tag_names(tags)):
        mark = 1 + (k * 7919) % commits  # spread over history, creation dates shuffled
        if annotated:
            when = BASE_EPOCH + ((k * 104_729) % (commits * 60))
            message = f"Checkpoint {name}\n"
            out.append(
                f"tag {name}\nfrom :{mark}\ntagger Bench <bench@example.com> {when} +0000\n"
                f"data {len(message.encode())}\n{message}\n"
            )
        else:
            out.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n")
    return "".join(out).encode()


def build(folder: Path, commits: int, tags: int) -> tuple[Path, int]:
    """The bare origin and a clone of it; returns the clone and how many tags are local-only."""
    origin, work = folder / "origin.git", folder / "work"
    _git(folder, "init", "-q", "--bare", "-b", BRANCH, str(origin))
    _git(origin, "fast-import", "--quiet", stdin=_fast_import_stream(commits, tags))
    _git(origin, "pack-refs", "--all")
    _git(folder, "clone", "-q", "--branch", BRANCH, str(origin), str(work))
    names = _git(work, "for-each-ref", "--format=%(refname)", f"refs/tags/{PHASE}-checkpoint-*")
    doomed = names.split()[:LOCAL_ONLY]
    _git(origin, "update-ref", "--stdin", stdin="".join(f"delete {r}\n" for r in doomed).encode())
    return work, len(doomed)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    started = time.perf_counter()
    work, local_only = build(folder, args.commits, args.tags)
    print(
        f"built {args.commits} commits and {args.tags} tags in "
        f"{time.perf_counter() - started:.1f} s ({local_only} checkpoint tags local-only)"
    )
    patterns = checkpoint_tag_patterns(PHASE)
    local_cmd = ["for-each-ref", "--sort=-creatordate", f"--format={_TAG_FORMAT}", *patterns]
    remote_cmd = ["ls-remote", "--tags", "origin", *patterns]

    def ours() -> tuple[CheckpointInfo, ...]:
        return list_checkpoints(repo=open_repo(work), remote="origin", phase=PHASE, timeout_s=60)

    def baseline() -> tuple[bytes, bytes]:
        # The leanest way to run the same two git commands (see harness.lean_git).
        results = [lean_git(work, cmd) for cmd in (local_cmd, remote_cmd)]
        if any(code != 0 for code, _, _ in results):
            raise BenchError("the baseline's git commands failed")
        return results[0][1], results[1][1]

    listed, (raw_local, raw_remote) = ours(), baseline()  # warm-up, and a parity check
    raw_names = [line.split(b"\x00", 1)[0].decode() for line in raw_local.splitlines()]
    remote_names = {
        line.split(b"\t")[1].decode().removeprefix("refs/tags/")
        for line in raw_remote.splitlines()
        if not line.endswith(b"^{}")
    }
    if [info.tag for info in listed] != raw_names:
        raise BenchError(f"listings disagree: {len(listed)} tags vs {len(raw_names)} from git")
    if sum(not info.on_remote for info in listed) != local_only or not remote_names:
        raise BenchError("on_remote does not match the tags deleted on the origin")
    print(f"listing: {len(listed)} checkpoint tags, {len(remote_names)} of them on the origin")

    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for rep in range(args.reps):
        if time.monotonic() > give_up:
            raise BenchError(f"--time-limit {args.time_limit} s ran out after {rep} reps")
        order = (("ours", ours), ("baseline", baseline))
        for label, call in order if rep % 2 == 0 else order[::-1]:
            times[label].append(_timed(call))

    print("warm, alternating:")
    print(timing_row("ours: list_checkpoints (open repo + 2 gits)", times["ours"], width=46))
    print(timing_row("baseline: raw for-each-ref + ls-remote --tags", times["baseline"], width=46))
    print_ratio(
        what="list_checkpoints", ours=times["ours"], baseline=times["baseline"], target=RATIO_TARGET
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=bounded_int(100, 1_000_000), default=20_000)
    parser.add_argument("--tags", type=bounded_int(100, 100_000), default=5_000)
    parser.add_argument("--reps", type=bounded_int(1, 100), default=9)
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=600)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    # Both sides run with the same, predictable git configuration.
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    version = _git(Path.cwd(), "--version").strip()
    print(
        f"checkpoints bench: {args.commits} commits, {args.tags} tags, {args.reps} reps; "
        f"{version}, python {platform.python_version()}, {platform.machine()}"
    )
    return run_in_temp_folder("checkpoints-bench-", args.dir, lambda folder: run(args, folder))


if __name__ == "__main__":
    sys.exit(main())
