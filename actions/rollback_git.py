"""Git helpers shared by the rollback plan and its steps.

The rollback reads the same few facts over and over (which branch HEAD is on, where a branch is
on the remote, what the working tree holds as a tree object), and each step re-reads them rather
than trusting an earlier answer: that is what makes a step safe to run again after a crash.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import git

from actions.errors import GitError, InputError, OutOfTime, RefNameError
from actions.gitrun import NETWORK_ENV, Deadline, git_ok, run_git

T = TypeVar("T")
NOTHING = "Nothing was changed."
# Past the deadline, for git's own kill timeout to end a call running in the background.
_GRACE_S = 5.0
# Full object ids only: what the plan recorded, never an abbreviation that could grow ambiguous.
_FULL_ID_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_UNMERGED = frozenset({"DD", "AU", "UD", "UA", "DU", "AA", "UU"})


def result_within(future: Future[T], deadline: Deadline) -> T:
    """The result of git work run alongside other git work, waited for no longer than the
    operation's deadline (and a grace for the call's own kill timeout)."""
    try:
        return future.result(timeout=max(0.0, deadline.end - time.monotonic()) + _GRACE_S)
    except FutureTimeout:
        raise OutOfTime("A git command did not finish in time.") from None


def short(sha: str | None) -> str:
    return sha[:7] if sha else "nothing (no such branch)"


def require_commit_id(value: str, *, what: str) -> str:
    """A full hex object id, so it can never be read as an option or a different object."""
    if not _FULL_ID_RE.match(value):
        shown = repr(value[:60])
        raise RefNameError(f"{shown} is not a full commit id for the {what}. {NOTHING}")
    return value


def head_and_branch(repo: git.Repo, deadline: Deadline) -> tuple[str | None, str | None]:
    """(HEAD's commit, ``refs/heads/<name>`` HEAD is on) in one call; None for no commit yet
    or a detached HEAD."""
    call = run_git(
        repo, ["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"], deadline.left("reading HEAD")
    )
    if not call.ok:  # an unborn branch has a name but no commit
        named = run_git(repo, ["symbolic-ref", "--quiet", "HEAD"], deadline.left("reading HEAD"))
        return None, named.out if named.ok else None
    sha, _, ref = call.out.partition("\n")
    return sha, ref if ref.startswith("refs/heads/") else None


def local_ref(repo: git.Repo, ref: str, deadline: Deadline, *, peel: str = "commit") -> str | None:
    """The ``peel`` (commit or tree) ``ref`` names here, or None when there is none."""
    call = run_git(
        repo,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{{peel}}}"],
        deadline.left(f"reading {ref}"),
    )
    return call.out if call.ok else None


def find_ref(repo: git.Repo, ref: str, timeout_s: float) -> str | None:
    """:func:`local_ref` for a branch (``refs/heads/...``), read without a git process when it
    can be: a branch git has just written is a loose file holding its commit's id (written by
    rename, so one read sees one whole id). Anything else (a packed ref, a symbolic one,
    another ref storage, a name that is not a plain branch) is asked of git."""
    held = ""
    if ref.startswith("refs/heads/") and ".." not in ref and "\\" not in ref:
        try:
            held = (Path(repo.git_dir) / ref).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError, ValueError):
            held = ""
    if _FULL_ID_RE.match(held):
        return held
    return local_ref(repo, ref, Deadline(timeout_s))


def resolve_ref(repo: git.Repo, ref: str, timeout_s: float) -> str:
    """:func:`find_ref`, for a branch that must be there: GitError when it is not."""
    found = find_ref(repo, ref, timeout_s)
    if found is None:
        raise GitError(f"git rev-parse found no {ref.removeprefix('refs/heads/')}")
    return found


def is_ancestor(repo: git.Repo, ancestor: str, descendant: str, deadline: Deadline) -> bool:
    call = run_git(
        repo,
        ["merge-base", "--is-ancestor", "--end-of-options", ancestor, descendant],
        deadline.left("comparing commits"),
    )
    if call.status not in (0, 1):
        raise GitError(f"git merge-base failed: {call.complaint()}")
    return call.ok


def contains_commit(repo: git.Repo, head: str, commit: str, deadline: Deadline) -> bool:
    """Whether ``commit`` (a full id from ls-remote) is here and in ``head``'s history."""
    known = run_git(
        repo, ["cat-file", "-e", f"{commit}^{{commit}}"], deadline.left("reading the remote head")
    )
    return known.ok and is_ancestor(repo, commit, head, deadline)


def require_on_branch(repo: git.Repo, branch: str, deadline: Deadline, consequence: str) -> str:
    """The commit HEAD is at, or GitError when HEAD is detached or on another branch."""
    head, ref = head_and_branch(repo, deadline)
    if ref is None:
        raise GitError(
            f"HEAD is detached, not on {branch}. {consequence} "
            f"Switch to {branch} in the working copy (`git switch {branch}`), then try again."
        )
    if ref != f"refs/heads/{branch}":
        raise GitError(
            f"The working copy is on '{ref.removeprefix('refs/heads/')}', not '{branch}'. "
            f"{consequence} Switch to {branch} (`git switch {branch}`), then try again."
        )
    if head is None:
        raise GitError(f"{branch} has no commits yet. {consequence}")
    return head


def remote_branch_head(repo: git.Repo, remote: str, ref: str, deadline: Deadline) -> str | None:
    """Where ``ref`` is on the remote right now (None: no such ref); GitError when unreachable.

    Asked with ls-remote every time: a remote-tracking ref is only as fresh as the last fetch.
    """
    call = run_git(
        repo,
        ["ls-remote", "--end-of-options", remote, ref],
        deadline.left(f"asking {remote} for {ref}"),
        env=NETWORK_ENV,
    )
    if not call.ok:
        raise GitError(
            f"Could not ask {remote} about {ref.removeprefix('refs/heads/')}: {call.complaint()}."
        )
    for line in call.out.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def worktree_tree(repo: git.Repo, head_sha: str, deadline: Deadline) -> str:
    """The tree of everything in the working copy (tracked and untracked, not ignored).

    Built in a temporary index so the real index and the working tree stay exactly as they are:
    `git stash create` would leave untracked files out (see the field notes).
    """
    with tempfile.TemporaryDirectory(prefix="rollback-bot-index-") as folder:
        # The file must not exist yet: git refuses an empty file as an index.
        env = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        git_ok(
            repo,
            ["read-tree", "--end-of-options", head_sha],
            deadline.left("reading HEAD into a temporary index"),
            env=env,
        )
        git_ok(repo, ["add", "--all"], deadline.left("adding the working tree"), env=env)
        return git_ok(repo, ["write-tree"], deadline.left("writing the snapshot tree"), env=env)


def index_tree(repo: git.Repo, deadline: Deadline) -> str | None:
    """The tree the real index holds (what was staged), or None when there is no index yet.

    Written from a copy of the index file, since `git write-tree` may rewrite the one it reads.
    """
    with tempfile.TemporaryDirectory(prefix="rollback-bot-index-") as folder:
        copy = Path(folder) / "index"
        try:
            # git replaces the index by rename, so one copy sees one whole version of it.
            shutil.copyfile(Path(repo.git_dir) / "index", copy)
        except FileNotFoundError:
            return None
        call = run_git(
            repo,
            ["write-tree"],
            deadline.left("reading the index"),
            env={"GIT_INDEX_FILE": str(copy)},
        )
    if not call.ok:
        raise GitError(
            f"The index cannot be saved ({call.complaint()}); if files have unresolved "
            "conflicts, resolve them (`git status` lists them). Nothing was changed."
        )
    return call.out


@dataclass(frozen=True)
class BranchTip:
    commit: str
    tree: str
    parents: tuple[str, ...]
    checked_out: bool  # HEAD points at this branch


def branch_tips(repo: git.Repo, refs: tuple[str, ...], deadline: Deadline) -> dict[str, BranchTip]:
    """Commit, tree, parents of each of ``refs`` that exists (full names), and whether HEAD is
    on it: everything a reset checks, in one call."""
    output = git_ok(
        repo,
        [
            "for-each-ref",
            "--format=%(HEAD)%00%(refname)%00%(objectname)%00%(tree)%00%(parent)",
            *refs,
        ],
        deadline.left("reading branches"),
    )
    tips = {}
    for line in output.splitlines():
        mark, ref, commit, tree, parents = line.split("\x00")
        if ref in refs:  # for-each-ref also lists refs below a name; only exact ones count
            tips[ref] = BranchTip(commit, tree, tuple(parents.split()), mark == "*")
    return tips


def worktree_status(
    repo: git.Repo, deadline: Deadline, *, limit: int
) -> tuple[tuple[str, ...], int]:
    """Porcelain lines of uncommitted and untracked work (capped), and how many are unmerged."""
    # --no-optional-locks: planning only reads, so git must not refresh and rewrite the index.
    output = git_ok(
        repo,
        ["status", "--porcelain=v1", "-z", "--untracked-files=all"],
        deadline.left("reading uncommitted changes"),
        config=("--no-optional-locks",),
    )
    entries = iter(output.split("\x00"))
    lines = []
    unmerged = 0
    for entry in entries:
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        unmerged += status in _UNMERGED
        if "R" in status or "C" in status:
            path = f"{next(entries, '')} -> {path}"  # -z puts the source after the target
        lines.append(f"{status} {path}")
    if len(lines) > limit:
        return (*lines[: limit - 1], f"… and {len(lines) - limit + 1} more"), unmerged
    return tuple(lines), unmerged


def changed_paths(
    repo: git.Repo, target: str, head: str, pathspec: str, deadline: Deadline
) -> tuple[str, ...]:
    """Paths matching ``pathspec`` whose content differs between two commits."""
    output = git_ok(
        repo,
        [
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--no-relative",
            "--end-of-options",
            target,
            head,
            "--",
            pathspec,
        ],
        deadline.left("listing the migrations crossed"),
    )
    return tuple(path for path in output.split("\x00") if path)


def directory_pathspec(directory: str) -> str:
    """A literal pathspec for a directory inside the repository; InputError for anything else."""
    parts = directory.strip("/").split("/")
    if directory.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InputError(
            f"The directory {directory!r} must be a plain path inside the repository.",
            valid_forms=("migrations", "db/migrations"),
        )
    # Literal: a directory name is never a glob, whatever characters it has.
    return ":(literal)" + "/".join(parts)


def read_head(*, repo: git.Repo, timeout_s: float = 10.0) -> tuple[str | None, str | None]:
    """(HEAD's commit, the branch name HEAD is on or None): what a journal entry records."""
    head, ref = head_and_branch(repo, Deadline(timeout_s))
    return head, ref.removeprefix("refs/heads/") if ref else None
