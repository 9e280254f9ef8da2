"""The high-risk removal's git side: its plan, and one file removed in one commit.

The procedure removes the email system one file at a time: `git rm`, commit
`stabilize(<phase>): remove <path>`, test, and `git reset --hard HEAD~1` when it broke. The
plan is read-only and bound by its fingerprint to HEAD, the remote's head and the exact list
of files, so an approval carries out exactly what was shown. Each removal checks the state
it would change first: run again after a crash, it finds its commit made and does nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import git

from actions.errors import GitError, OutOfTime
from actions.git import require_index_unlocked, require_no_operation
from actions.gitrun import NETWORK_ENV, Deadline, git_ok, identity_config, run_git
from actions.refs import require_ref_name
from actions.removal_paths import expand_paths
from actions.rollback_email import is_email_path
from actions.rollback_git import (
    contains_commit,
    remote_branch_head,
    require_commit_id,
    require_on_branch,
    short,
    worktree_status,
)

_REFUSED = "Nothing was removed."
_DIRTY_SHOWN = 5


@dataclass(frozen=True)
class RemovalPlan:
    branch: str
    remote: str
    phase: str
    head_sha: str
    remote_head: str | None
    asked: tuple[str, ...]  # as typed
    paths: tuple[str, ...]  # the tracked files they name, in order: one commit each
    email_paths: tuple[str, ...]  # those that are email files: the email checks run after them
    backup_prefix: str  # a file that breaks is kept on <prefix>-<n> before it is reset
    fingerprint: str

    def message_of(self, path: str) -> str:
        return removal_message(self.phase, path)

    def backup_of(self, index: int) -> str:
        return f"{self.backup_prefix}-{index + 1}"


def removal_fingerprint(
    branch: str, head_sha: str, remote_head: str | None, paths: Sequence[str]
) -> str:
    """What an approval is bound to: another HEAD, remote head or file list gives another."""
    text = "\x00".join((branch, head_sha, remote_head or "", *paths))
    return hashlib.sha256(("removal\x00" + text).encode()).hexdigest()


def removal_message(phase: str, path: str) -> str:
    return f"stabilize({phase}): remove {path}"


def plan_removal(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    phase: str,
    asked: Sequence[str],
    now: datetime,
    timeout_s: float = 60.0,
) -> RemovalPlan:
    """The removal of the tracked files ``asked`` names from ``branch``, one commit each."""
    require_ref_name(remote, what="remote name")
    require_ref_name(branch, what="branch name")
    require_ref_name(phase, what="phase name")
    prefix = require_ref_name(f"{phase}-removal-{now:%Y%m%d-%H%M%S}", what="backup branch name")
    deadline = Deadline(timeout_s)
    try:
        head = require_on_branch(repo, branch, deadline, _REFUSED)
        require_no_operation(repo, _REFUSED)
        require_index_unlocked(repo, _REFUSED)
        paths = expand_paths(repo=repo, asked=asked, deadline=deadline)
        dirty, _ = worktree_status(repo, deadline, limit=_DIRTY_SHOWN)
        if dirty:
            raise GitError(
                f"The working tree has uncommitted or untracked work ({', '.join(dirty)}). "
                f"{_REFUSED} Commit it, stash it or take a checkpoint first: each removal must "
                "be a commit of its own and nothing else."
            )
        remote_head = remote_branch_head(repo, remote, f"refs/heads/{branch}", deadline)
        if remote_head is not None and not contains_commit(repo, head, remote_head, deadline):
            raise GitError(
                f"{remote} has {branch} at {short(remote_head)}, which HEAD does not contain. "
                f"{_REFUSED} Pull (or look at what was pushed), then ask again."
            )
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {_REFUSED} Try again.") from None
    return RemovalPlan(
        branch=branch,
        remote=remote,
        phase=phase,
        head_sha=head,
        remote_head=remote_head,
        asked=tuple(asked),
        paths=paths,
        email_paths=tuple(path for path in paths if is_email_path(path)),
        backup_prefix=prefix,
        fingerprint=removal_fingerprint(branch, head, remote_head, paths),
    )


def remove_and_commit(
    *,
    repo: git.Repo,
    branch: str,
    path: str,
    parent_sha: str,
    message: str,
    timeout_s: float = 60.0,
) -> str:
    """``git rm`` one tracked file and commit only that, on top of ``parent_sha``; the commit.

    HEAD already one removal commit of ``path`` past ``parent_sha`` is an earlier run's work:
    its commit is returned and nothing is done. Any other HEAD is refused.
    """
    require_commit_id(parent_sha, what="parent commit")
    deadline = Deadline(timeout_s)
    consequence = f"`{path}` was not removed."
    try:
        head = require_on_branch(repo, branch, deadline, consequence)
        if head != parent_sha:
            if _removed_by(repo, head, parent_sha, path, message, deadline):
                return head
            raise GitError(
                f"HEAD moved from {short(parent_sha)} to {short(head)} during the removal. "
                f"{consequence} Look at what moved it, then abort or resume."
            )
        require_no_operation(repo, consequence)
        require_index_unlocked(repo, consequence)
        _require_only_staged(repo, path, deadline, consequence)
        literal = ":(literal)" + path
        if _tracked(repo, literal, deadline):
            git_ok(repo, ["rm", "--quiet", "--", literal], deadline.left("removing the file"))
        identity = identity_config(repo, deadline.left("reading the identity"))
        # Only this path goes into the commit, and hooks do not run: the commit is the
        # procedure's step, and the checklist after it is the test.
        git_ok(
            repo,
            ["commit", "--quiet", "--no-verify", "-m", message, "--", literal],
            deadline.left("committing the removal"),
            config=identity,
        )
        return git_ok(repo, ["rev-parse", "HEAD"], deadline.left("reading HEAD"))
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {consequence} Resume to try again.") from None


def _tracked(repo: git.Repo, literal: str, deadline: Deadline) -> bool:
    listed = git_ok(
        repo, ["ls-files", "-z", "--cached", "--", literal], deadline.left("reading the index")
    )
    return bool(listed.strip("\x00"))


def _require_only_staged(repo: git.Repo, path: str, deadline: Deadline, consequence: str) -> None:
    """Nothing but ``path``'s removal may be staged: the commit must hold that and nothing else."""
    staged = git_ok(
        repo,
        ["diff", "--cached", "--name-only", "-z", "--no-renames"],
        deadline.left("reading the index"),
    )
    others = [name for name in staged.split("\x00") if name and name != path]
    if others:
        raise GitError(
            f"Other changes are staged ({', '.join(others[:5])}). {consequence} Unstage them "
            "(`git restore --staged`), then resume."
        )


def _removed_by(
    repo: git.Repo, head: str, parent_sha: str, path: str, message: str, deadline: Deadline
) -> bool:
    """Whether ``head`` is the removal commit of ``path`` on ``parent_sha``."""
    about = run_git(
        repo, ["log", "-1", "--format=%P%x00%s", head, "--"], deadline.left("reading HEAD")
    )
    if not about.ok:
        return False
    parents, _, subject = about.out.partition("\x00")
    if parents.split() != [parent_sha] or subject != message:
        return False
    listed = git_ok(
        repo,
        ["ls-tree", "-z", "--name-only", head, "--", ":(literal)" + path],
        deadline.left("reading HEAD's tree"),
    )
    return not listed.strip("\x00")


def ensure_tag_pushed(
    *, repo: git.Repo, remote: str, tag: str, sha: str, timeout_s: float = 60.0
) -> bool:
    """Whether the local tag ``tag`` is at ``sha`` (peeled) and now on the remote too.

    A checkpoint cut short between its local tag and its push is finished here: the tag is
    pushed as a new ref, never over one the remote already has. False: no such local tag.
    """
    require_ref_name(tag, what="checkpoint tag name")
    require_ref_name(remote, what="remote name")
    require_commit_id(sha, what="checkpoint commit")
    ref = f"refs/tags/{tag}"
    deadline = Deadline(timeout_s)
    try:
        here = run_git(
            repo,
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            deadline.left("reading the checkpoint tag"),
        )
        if not here.ok:
            return False
        if here.out != sha:
            raise GitError(
                f"Checkpoint tag {tag} already exists at {short(here.out)}, not at {short(sha)}. "
                f"{_REFUSED} Look at the tag, then abort and ask again."
            )
        if remote_branch_head(repo, remote, ref, deadline) is None:
            git_ok(
                repo,
                ["push", "--quiet", "--no-follow-tags", "--end-of-options", remote, f"{ref}:{ref}"],
                deadline.left("pushing the checkpoint tag"),
                env=NETWORK_ENV,
            )
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {_REFUSED} Resume to try again.") from None
    return True
