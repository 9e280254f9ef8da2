"""The rollback's local steps: snapshot, backup branch, reset, cache clearing.

Each step first reads the state it would change and does nothing when its work is already done,
so the bot can run it again after a crash without a second effect; and none of them destroys
anything that is not already kept elsewhere (the reset refuses unless the backup branch holds
HEAD and everything the working tree has). The pushes live in :mod:`actions.rollback_push`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import git

from actions.errors import GitError, InputError, OutOfTime
from actions.git import require_index_unlocked, require_no_operation
from actions.gitrun import (
    UNDO_TIMEOUT_S,
    Deadline,
    git_ok,
    identity_config,
    run_git,
)
from actions.refs import require_ref_name
from actions.rollback_caches import clear_caches
from actions.rollback_git import (
    NOTHING,
    BranchTip,
    branch_tips,
    head_and_branch,
    index_tree,
    is_ancestor,
    local_ref,
    require_commit_id,
    require_on_branch,
    result_within,
    short,
    worktree_tree,
)
from actions.rollback_push import push_backup_branch, push_with_lease

__all__ = [
    "clear_caches",
    "create_backup_branch",
    "push_backup_branch",
    "push_with_lease",
    "reset_to_target",
    "snapshot_uncommitted",
]

_NOT_RESET = "Nothing was reset."
# A concurrent creator holds refs/heads/<name>.lock for milliseconds; wait that long, no more.
_CREATE_ATTEMPTS = 10
_CREATE_PAUSE_S = 0.05


def snapshot_uncommitted(
    *,
    repo: git.Repo,
    head_sha: str,
    timeout_s: float = 60.0,
    taken_at: datetime | None = None,
) -> str | None:
    """A commit (parent ``head_sha``) of all tracked changes and untracked files; None if the
    working tree equals HEAD. Neither the real index nor the working tree is touched.

    The commit's dates are ``taken_at`` (default: HEAD's commit date), so the same HEAD and the
    same work always give the same commit: a run repeated after a crash finds the backup branch
    already pointing at it instead of conflicting with it.
    """
    require_commit_id(head_sha, what="HEAD commit")
    deadline = Deadline(timeout_s)
    try:
        # HEAD and the identity are read while the working tree is hashed into a temporary
        # index; nothing real is written before HEAD has been checked.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollback-snapshot") as pool:
            about = pool.submit(_head_index_identity, repo, deadline)
            tree = worktree_tree(repo, head_sha, deadline)
            (head, head_tree, head_date), staged, identity = result_within(about, deadline)
        if head != head_sha:
            raise GitError(
                f"HEAD is at {short(head)}, not at {short(head_sha)} as planned, so a snapshot "
                f"would describe other work. {NOTHING} Plan the rollback again."
            )
        if tree == head_tree and staged in (None, head_tree):
            return None
        when = f"{int(taken_at.timestamp())} +0000" if taken_at is not None else head_date
        commit = _Committer(repo, head_sha, when, identity, deadline)
        parents = [head_sha]
        if staged is not None and staged not in (head_tree, tree):
            # Staged content that the working tree has changed again (e.g. after `git add -p`)
            # is kept as a second parent, the way `git stash` keeps the index.
            parents.append(commit(staged, [head_sha], "staged changes (the index)"))
        return commit(tree, parents, "uncommitted and untracked work")
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {NOTHING} Try again.") from None


@dataclass(frozen=True)
class _Committer:
    """commit-tree with everything a snapshot commit shares: fixed dates, identity, message."""

    repo: git.Repo
    head_sha: str
    when: str
    identity: tuple[str, ...]
    deadline: Deadline

    def __call__(self, tree: str, parents: list[str], what: str) -> str:
        message = (
            f"rollback-bot: {what} on top of {self.head_sha[:12]}\n\n"
            "Saved before a rollback reset the working copy. The first parent is the branch\n"
            "head the work was found on; ignored files are left out."
        )
        return git_ok(
            self.repo,
            [
                "commit-tree",
                "--no-gpg-sign",
                *(option for parent in parents for option in ("-p", parent)),
                "-m",
                message,  # ours, not from chat
                "--end-of-options",
                tree,
            ],
            self.deadline.left("committing the snapshot"),
            config=self.identity,
            env={"GIT_AUTHOR_DATE": self.when, "GIT_COMMITTER_DATE": self.when},
        )


def _head_index_identity(
    repo: git.Repo, deadline: Deadline
) -> tuple[tuple[str, str, str], str | None, tuple[str, ...]]:
    """(HEAD's commit, tree, raw committer date), the index's tree, and the identity options."""
    head, tree, date = git_ok(
        repo,
        [
            "log",
            "-1",
            "--no-show-signature",
            "--date=raw",
            "--format=%H%x00%T%x00%cd",
            "--end-of-options",
            "HEAD",
        ],
        deadline.left("reading HEAD"),
    ).split("\x00")
    return (
        (head, tree, date),
        index_tree(repo, deadline),
        identity_config(repo, deadline.left("identity")),
    )


def create_backup_branch(*, repo: git.Repo, name: str, sha: str, timeout_s: float = 30.0) -> None:
    """Create ``refs/heads/<name>`` at ``sha``, never moving an existing branch.

    Already there at ``sha``: nothing to do (a resumed run). There at another commit: GitError.
    """
    require_ref_name(name, what="backup branch name")
    require_commit_id(sha, what="backup commit")
    ref = f"refs/heads/{name}"
    deadline = Deadline(timeout_s)
    complaint = "it did not succeed"
    try:
        for _ in range(_CREATE_ATTEMPTS):
            # Compare-and-swap from "absent": of two creators, exactly one can succeed.
            created = run_git(
                repo,
                [
                    "update-ref",
                    "-m",
                    "rollback-bot: backup before rollback",
                    "--create-reflog",
                    "--end-of-options",
                    ref,
                    sha,
                    "",  # the old value: empty means "must not exist yet"
                ],
                deadline.left("creating the backup branch"),
            )
            if created.ok:
                return
            complaint = created.complaint()
            existing = local_ref(repo, ref, deadline)
            if existing == sha:
                return  # made by an earlier run, or by a concurrent one with the same commit
            if existing is not None:
                raise GitError(
                    f"A branch {name} already exists here at {short(existing)}, not at "
                    f"{short(sha)}; it was left as it is. {_NOT_RESET} {NOTHING} "
                    "Plan the rollback again (it picks a new backup name)."
                )
            # Not there yet: another creator may hold its lock for a moment.
            time.sleep(min(_CREATE_PAUSE_S, deadline.left("creating the backup branch")))
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {_NOT_RESET} Try again.") from None
    raise GitError(f"Could not create backup branch {name}: {complaint}. {_NOT_RESET} {NOTHING}")


def reset_to_target(
    *,
    repo: git.Repo,
    branch: str,
    expected_head: str,
    target_sha: str,
    backup_branch: str,
    timeout_s: float = 120.0,
) -> None:
    """``git reset --hard`` to ``target_sha``, only once the backup branch holds all it drops.

    Refuses unless HEAD is on ``branch`` at ``expected_head`` (or already at ``target_sha``: a
    resumed run, nothing to do), and the local backup branch contains ``expected_head`` and has
    the working tree's exact content (or the working tree is clean).
    """
    require_ref_name(branch, what="branch name")
    require_ref_name(backup_branch, what="backup branch name")
    require_commit_id(expected_head, what="expected HEAD")
    require_commit_id(target_sha, what="rollback target")
    if backup_branch == branch:
        raise InputError(f"The backup branch cannot be {branch} itself. {_NOT_RESET} {NOTHING}")
    deadline = Deadline(timeout_s)
    try:
        if _already_reset(repo, branch, expected_head, target_sha, backup_branch, deadline):
            return
        # `reset --end-of-options` is refused by git 2.39's reset; the revision is a verified
        # full hex id (never option-like), and `--` makes git read it as a revision only.
        call = run_git(
            repo,
            ["reset", "--quiet", "--hard", target_sha, "--"],
            deadline.left("resetting"),
            env={"GIT_REFLOG_ACTION": f"rollback-bot: reset to {target_sha[:12]}"},
        )
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {_NOT_RESET} Try again.") from None
    if not call.ok:
        where = _after_failed_reset(repo, expected_head, target_sha, backup_branch)
        raise GitError(f"git reset failed: {call.complaint()}. {where}")


def _already_reset(
    repo: git.Repo,
    branch: str,
    expected_head: str,
    target_sha: str,
    backup_branch: str,
    deadline: Deadline,
) -> bool:
    """True when HEAD is at the target already; False when the reset may run because the backup
    branch holds everything it would drop; GitError saying what is missing otherwise."""
    refused = f"{_NOT_RESET} {NOTHING}"
    branch_ref, backup_ref = f"refs/heads/{branch}", f"refs/heads/{backup_branch}"
    # The working tree is hashed (into a temporary index) while the branches are read;
    # the tree is only used once HEAD has been found at expected_head.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollback-reset") as pool:
        tips_read = pool.submit(_tips_and_index, repo, (branch_ref, backup_ref), deadline)
        tree = worktree_tree(repo, expected_head, deadline)
        tips, staged = result_within(tips_read, deadline)
    on_branch = tips.get(branch_ref)
    if on_branch is None or not on_branch.checked_out:
        require_on_branch(repo, branch, deadline, refused)  # raises, saying where HEAD is
        raise GitError(f"HEAD is not on {branch}. {refused}")  # it moved meanwhile
    backup = _backup_holding(repo, tips.get(backup_ref), expected_head, backup_branch, deadline)
    head = on_branch.commit
    if head == target_sha:
        return True
    if head != expected_head:
        raise GitError(
            f"HEAD moved from {short(expected_head)} to {short(head)} since the plan. "
            f"{refused} Plan the rollback again."
        )
    require_no_operation(repo, refused)
    require_index_unlocked(repo, refused)
    # Re-checked just before the reset: the snapshot may be minutes old, and a file
    # edited or staged since then would be lost by the reset.
    if tree not in (on_branch.tree, backup.tree) or not _staged_saved(
        repo, staged, (on_branch.tree, tree, backup.tree), backup.parents, deadline
    ):
        raise GitError(
            f"The working copy has changes that are not on {backup_branch} (made after "
            f"the snapshot). {refused} Plan the rollback again to snapshot them too."
        )
    return False


def _backup_holding(
    repo: git.Repo,
    backup: BranchTip | None,
    expected_head: str,
    backup_branch: str,
    deadline: Deadline,
) -> BranchTip:
    """The backup branch's tip, once it is known to contain the HEAD being rolled back."""
    refused = f"{_NOT_RESET} {NOTHING}"
    if backup is None:
        raise GitError(
            f"There is no backup branch {backup_branch} here, and a reset without one "
            f"could lose work. {refused} Create the backup branch first."
        )
    # The usual shapes (backup = HEAD, or a snapshot on top of it) need no history walk.
    contained = expected_head == backup.commit or expected_head in backup.parents
    if not (contained or is_ancestor(repo, expected_head, backup.commit, deadline)):
        raise GitError(
            f"Backup branch {backup_branch} ({short(backup.commit)}) does not contain "
            f"{short(expected_head)}, the HEAD being rolled back. {refused}"
        )
    return backup


def _after_failed_reset(
    repo: git.Repo, expected_head: str, target_sha: str, backup_branch: str
) -> str:
    """Exactly where a failed reset left the working copy, read again rather than guessed."""
    try:
        head, _ = head_and_branch(repo, Deadline(UNDO_TIMEOUT_S))
    except GitError:
        head = None
    kept = f"Everything it had is on {backup_branch}."
    if head == expected_head:
        return f"HEAD is still at {short(head)}: nothing was reset. {kept} Resume tries again."
    if head == target_sha:
        return (
            f"HEAD is at the target {short(head)}, but the working tree may be only partly "
            f"updated. {kept} Look at `git status` before going on."
        )
    return (
        f"HEAD is at {short(head) if head else 'an unknown commit'}, neither where it was nor "
        f"the target. {kept} Look at `git status` before going on."
    )


def _tips_and_index(
    repo: git.Repo, refs: tuple[str, ...], deadline: Deadline
) -> tuple[dict[str, BranchTip], str | None]:
    return branch_tips(repo, refs, deadline), index_tree(repo, deadline)


def _staged_saved(
    repo: git.Repo,
    staged: str | None,
    kept: tuple[str, ...],
    backup_parents: tuple[str, ...],
    deadline: Deadline,
) -> bool:
    """Whether the index's content is HEAD's, the working tree's, or the snapshot's index
    parent (only that last case costs a git call)."""
    if staged is None or staged in kept:
        return True
    if len(backup_parents) < 2:
        return False
    index_parent = local_ref(repo, backup_parents[1], deadline, peel="tree")
    return index_parent == staged
