"""``postmortem.commit_log``: ROLLBACK_LOG.md committed on the phase branch, and only it.

The commit is made with plumbing on a temporary index (HEAD's tree plus the file), so nothing
else a person has staged or changed goes with it, and no hook rewrites the working tree. The
branch moves by compare-and-swap and is pushed without force: a remote that moved refuses it,
and the local move is then taken back, so a failed push leaves the repository as it was.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

import git

from actions.errors import GitError, OutOfTime
from actions.gitrun import (
    NETWORK_ENV,
    UNDO_TIMEOUT_S,
    Deadline,
    checkpoint_lock,
    git_ok,
    identity_config,
    parse_porcelain,
    rejection_reason,
    run_git,
)
from actions.refs import require_ref_name
from actions.rollback_git import remote_branch_head

#: A person's git command may hold index.lock for a moment; the index is tried this often.
INDEX_ATTEMPTS = 5
INDEX_RETRY_S = 0.1


@dataclass(frozen=True)
class LogCommit:
    commit: str | None  # None: the branch already held exactly this file
    pushed: str
    index_updated: bool = True


def commit_log_file(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    path: str,
    message: str,
    timeout_s: float = 60.0,
) -> LogCommit:
    """Commit the working copy's ``path`` alone on ``branch`` and push it, never forced."""
    require_ref_name(remote, what="remote name")
    require_ref_name(branch, what="branch name")
    if path.startswith(("/", "-")) or ".." in path.split("/") or "\n" in message:
        raise GitError("Refused to commit the log: its path or message is not plain.")
    deadline = Deadline(timeout_s)
    try:
        with checkpoint_lock(repo, wait_s=timeout_s / 2):
            return _commit_and_push(repo, remote, branch, path, message, deadline)
    except OutOfTime as error:
        raise GitError(f"{error.user_message} The log was not committed.") from None


def _commit_and_push(
    repo: git.Repo, remote: str, branch: str, path: str, message: str, deadline: Deadline
) -> LogCommit:
    ref = f"refs/heads/{branch}"
    current = git_ok(repo, ["symbolic-ref", "-q", "HEAD"], deadline.left("reading HEAD"))
    if current != ref:
        raise GitError(f"The working copy is not on {branch}; the log was not committed.")
    previous = git_ok(repo, ["rev-parse", "--verify", ref], deadline.left("reading the branch"))
    blob = git_ok(
        repo,
        ["hash-object", "-w", "--no-filters", "--", path],
        deadline.left("storing the log"),
    )
    held = run_git(repo, ["rev-parse", "--verify", "-q", f"{previous}:{path}"], UNDO_TIMEOUT_S)
    if held.ok and held.out == blob:
        return LogCommit(None, "the branch already holds this log")
    # Only the log may travel: a branch ahead of the remote would push someone's commits too.
    there = remote_branch_head(repo, remote, ref, deadline)
    if there != previous:
        where = f"at {there[:7]}" if there else "without this branch"
        raise GitError(
            f"{remote} is {where} while {branch} is at {previous[:7]}: committing the log would "
            "push more than the log, or be refused. It stays in the working copy, uncommitted."
        )
    commit = _commit(repo, previous, path, blob, message, deadline)
    moved = run_git(
        repo,
        ["update-ref", "-m", "rollback-bot: rollback log", ref, commit, previous],
        deadline.left("moving the branch"),
    )
    if not moved.ok:
        raise GitError(
            f"{branch} moved meanwhile ({moved.complaint()}); the log was not committed."
        )
    _push_or_take_back(repo, remote, branch, previous, commit, deadline)
    return _stage_in_index(repo, branch, remote, commit, blob, path)


def _push_or_take_back(
    repo: git.Repo, remote: str, branch: str, previous: str, commit: str, deadline: Deadline
) -> None:
    """Push the branch, never forced; a refused push moves the local branch back."""
    ref = f"refs/heads/{branch}"
    pushed = run_git(
        repo,
        ["push", "--porcelain", "--end-of-options", remote, f"{ref}:{ref}"],
        deadline.left("pushing the log"),
        env=NETWORK_ENV,
    )
    if not pushed.ok and remote_branch_head(repo, remote, ref, Deadline(UNDO_TIMEOUT_S)) == commit:
        return  # git gave up waiting, yet the remote has it
    if not pushed.ok:
        run_git(
            repo,
            ["update-ref", "-m", "rollback-bot: log not pushed", ref, previous, commit],
            UNDO_TIMEOUT_S,
        )
        reason = rejection_reason(parse_porcelain(pushed.out)) or pushed.complaint()
        raise GitError(
            f"{remote} refused the log commit ({reason}); the branch is back where it was and "
            "the log stays in the working copy."
        )


def _stage_in_index(
    repo: git.Repo, branch: str, remote: str, commit: str, blob: str, path: str
) -> LogCommit:
    """The index must now match the new commit for this one file: otherwise the next ordinary
    `git commit` would take the log back out of the branch. A held index.lock is retried."""
    cacheinfo = f"100644,{blob},{path}"
    for attempt in range(INDEX_ATTEMPTS):
        staged = run_git(repo, ["update-index", "--add", "--cacheinfo", cacheinfo], UNDO_TIMEOUT_S)
        if staged.ok:
            return LogCommit(commit, f"pushed {branch} to {remote}")
        time.sleep(INDEX_RETRY_S * (attempt + 1))
    return LogCommit(
        commit,
        f"pushed {branch} to {remote}, but the index could not be updated ({staged.complaint()}): "
        f"run `git add -- {path}` before your next commit",
        index_updated=False,
    )


def _commit(
    repo: git.Repo, parent: str, path: str, blob: str, message: str, deadline: Deadline
) -> str:
    handle, index = tempfile.mkstemp(prefix="rollback-bot-index-")
    os.close(handle)
    os.unlink(index)  # git creates it; an empty file is not an index
    env = {"GIT_INDEX_FILE": index}
    fd, message_path = tempfile.mkstemp(prefix="rollback-bot-message-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(message + "\n")
        git_ok(repo, ["read-tree", parent], deadline.left("reading the tree"), env=env)
        git_ok(
            repo,
            ["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"],
            deadline.left("adding the log"),
            env=env,
        )
        tree = git_ok(repo, ["write-tree"], deadline.left("writing the tree"), env=env)
        return git_ok(
            repo,
            ["commit-tree", "-p", parent, "-F", message_path, "--end-of-options", tree],
            deadline.left("committing the log"),
            config=identity_config(repo, deadline.left("reading the identity")),
        )
    finally:
        for leftover in (index, message_path):
            if os.path.exists(leftover):
                os.unlink(leftover)
