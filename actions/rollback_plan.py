"""Planning a rollback: what it would do, found out read-only, for an orchestrator to approve.

A plan names exact commits (HEAD, the remote's head, the target) and a fingerprint over them;
:func:`verify_plan` re-reads those just before execution, so an approval can only ever carry out
the rollback that was shown, never one against a HEAD or remote that moved meanwhile.
"""

from __future__ import annotations

import fnmatch
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import git

from actions.database_plan import DatabasePlan, is_migration_file
from actions.errors import GitError, OutOfTime
from actions.git import (
    checkpoint_tag_patterns,
    operation_in_progress,
    require_index_unlocked,
    require_no_operation,
)
from actions.gitrun import Deadline, git_ok, run_git
from actions.refs import require_ref_name
from actions.rollback_email import find_commit_before_email_removal
from actions.rollback_git import (
    changed_paths,
    contains_commit,
    directory_pathspec,
    head_and_branch,
    is_ancestor,
    remote_branch_head,
    require_on_branch,
    result_within,
    short,
    worktree_status,
)

__all__ = [
    "DiscardedCommit",
    "RollbackPlan",
    "find_commit_before_email_removal",
    "plan_fingerprint",
    "plan_rollback",
    "verify_plan",
]

MAX_DISCARDED = 50
MAX_DIRTY = 200
_REFUSED = "No rollback was planned and nothing was changed."
_LOG_FORMAT = "%H%x00%an <%ae>%x00%s%x00%cI"


@dataclass(frozen=True)
class DiscardedCommit:
    sha: str
    author: str  # "Name <email>"
    subject: str
    committed_at: datetime


@dataclass(frozen=True)
class RollbackPlan:
    branch: str
    remote: str
    target_ref: str  # as given, or the chosen checkpoint tag
    target_sha: str
    head_sha: str
    remote_head: str | None  # asked with ls-remote at planning time
    target_is_checkpoint: bool
    target_is_ancestor: bool  # False needs an explicit confirmation later
    discarded: tuple[DiscardedCommit, ...]  # target..HEAD, newest first, at most 50
    discarded_count: int
    dirty_paths: tuple[str, ...]  # porcelain status lines, capped at 200
    backup_branch: str
    migrations_crossed: tuple[str, ...]
    fingerprint: str
    #: The database step (Scenario 5), planned by the bot from the database's real state when
    #: the rollback crosses migration files; None when it does not, or no database is set.
    database: DatabasePlan | None = None
    #: Set when the procedure chose the target itself (Scenario 3: the commit before the first
    #: email removal): then "not a checkpoint tag" is no warning. The evidence: the commits
    #: that matched ("sha subject") and the email files removed since the target.
    target_reason: str = ""
    email_matches: tuple[str, ...] = ()
    email_files_removed: tuple[str, ...] = ()

    @property
    def database_waiver_needed(self) -> bool:
        """Migrations are crossed and no database step will undo them: a code-only rollback,
        which the orchestrator must waive explicitly."""
        if not self.migrations_crossed:
            return False
        return self.database is None or bool(self.database.unavailable)


def plan_fingerprint(branch: str, head_sha: str, remote_head: str | None, target_sha: str) -> str:
    """What an approval is bound to: any other HEAD, remote head or target gives another value."""
    text = "\x00".join((branch, head_sha, remote_head or "", target_sha))
    return hashlib.sha256(text.encode()).hexdigest()


def plan_rollback(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    phase: str,
    target: str | None,
    now: datetime,
    migrations_dir: str = "migrations",
    timeout_s: float = 60.0,
) -> RollbackPlan:
    """The rollback of ``branch`` to ``target`` (default: the last checkpoint before HEAD)."""
    require_ref_name(remote, what="remote name")
    require_ref_name(branch, what="branch name")
    require_ref_name(phase, what="phase name")
    backup = require_ref_name(f"{phase}-broken-{now:%Y%m%d-%H%M%S}", what="backup branch name")
    if target is not None:
        require_ref_name(target.removeprefix("refs/tags/"), what="rollback target")
    pathspec = directory_pathspec(migrations_dir)
    deadline = Deadline(timeout_s)
    try:
        return _plan(repo, remote, branch, phase, target, backup, pathspec, deadline)
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {_REFUSED} Try again.") from None


def _plan(
    repo: git.Repo,
    remote: str,
    branch: str,
    phase: str,
    target: str | None,
    backup: str,
    pathspec: str,
    deadline: Deadline,
) -> RollbackPlan:
    head = require_on_branch(repo, branch, deadline, _REFUSED)
    require_no_operation(repo, _REFUSED)
    require_index_unlocked(repo, _REFUSED)
    # The remote and the working tree are read while the history is: over a real network,
    # ls-remote is the slowest call of the plan, and status the slowest on a big tree.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rollback-plan") as pool:
        asked = pool.submit(_ask_remote, repo, remote, branch, deadline)
        statused = pool.submit(worktree_status, repo, deadline, limit=MAX_DIRTY)
        local: _Local | GitError
        try:
            local = _read_local(repo, branch, phase, target, head, pathspec, deadline)
        except GitError as error:
            local = error
        # Refusals in the order a person fixes them: the remote, conflicts, then the target.
        remote_head = result_within(asked, deadline)
        dirty, unmerged = result_within(statused, deadline)
    if unmerged:
        raise GitError(
            f"{unmerged} file(s) have unresolved conflicts. {_REFUSED} Resolve them "
            "(`git status` lists them), then try again."
        )
    if isinstance(local, GitError):
        raise local
    _require_remote_contained(repo, remote, branch, head, remote_head, deadline)
    return RollbackPlan(
        branch=branch,
        remote=remote,
        target_ref=local.target_ref,
        target_sha=local.target_sha,
        head_sha=head,
        remote_head=remote_head,
        target_is_checkpoint=local.is_checkpoint,
        target_is_ancestor=local.is_ancestor,
        discarded=local.discarded,
        discarded_count=local.discarded_count,
        dirty_paths=dirty,
        backup_branch=backup,
        migrations_crossed=local.migrations,
        fingerprint=plan_fingerprint(branch, head, remote_head, local.target_sha),
    )


def _require_remote_contained(
    repo: git.Repo,
    remote: str,
    branch: str,
    head: str,
    remote_head: str | None,
    deadline: Deadline,
) -> None:
    if (
        remote_head is None
        or remote_head == head
        or contains_commit(repo, head, remote_head, deadline)
    ):
        return
    # The lease would accept this remote head and the push would drop its commits from the
    # remote, and no backup holds them: they are not in this working copy.
    raise GitError(
        f"{remote}/{branch} is at {short(remote_head)}, which HEAD ({short(head)}) does not "
        f"contain: {remote} has commits this working copy lacks, and a rollback would drop "
        f"them from {remote} with no backup. {_REFUSED} Bring them here first "
        f"(`git pull --ff-only {remote} {branch}`), then ask again."
    )


@dataclass(frozen=True)
class _Local:
    target_ref: str
    target_sha: str
    is_checkpoint: bool
    is_ancestor: bool
    discarded: tuple[DiscardedCommit, ...]
    discarded_count: int
    migrations: tuple[str, ...]


def _read_local(
    repo: git.Repo,
    branch: str,
    phase: str,
    target: str | None,
    head: str,
    pathspec: str,
    deadline: Deadline,
) -> _Local:
    if target is None:
        target_ref, target_sha = _last_checkpoint(repo, phase, head, deadline)
        is_checkpoint, ancestor = True, True
    else:
        target_ref, target_sha = target, _resolve(repo, target, deadline)
        if target_sha == head:
            raise GitError(
                f"{branch} is already at {target} ({short(head)}): there is nothing to roll "
                f"back. {_REFUSED}"
            )
        is_checkpoint = _is_checkpoint_tag(repo, phase, target, deadline)
        ancestor = is_ancestor(repo, target_sha, head, deadline)
    discarded, count = _discarded(repo, head, target_sha, deadline)
    return _Local(
        target_ref=target_ref,
        target_sha=target_sha,
        is_checkpoint=is_checkpoint,
        is_ancestor=ancestor,
        discarded=discarded,
        discarded_count=count,
        migrations=tuple(
            path
            for path in changed_paths(repo, target_sha, head, pathspec, deadline)
            if is_migration_file(path)
        ),
    )


def _ask_remote(repo: git.Repo, remote: str, branch: str, deadline: Deadline) -> str | None:
    try:
        return remote_branch_head(repo, remote, f"refs/heads/{branch}", deadline)
    except GitError as error:
        problem = error.user_message
    # Only now list the remotes: the common case pays for no extra git call.
    configured = git_ok(repo, ["remote"], deadline.left("reading the remotes")).splitlines()
    if remote not in configured:
        raise GitError(
            f"No remote named '{remote}' is configured in this repository (configured: "
            f"{', '.join(configured) or 'none'}). {_REFUSED} Fix the remote in the bot's config."
        )
    raise GitError(
        f"{problem} {_REFUSED} A rollback needs to know where {remote} is; check that "
        f"{remote} is reachable, then ask again."
    )


def _last_checkpoint(repo: git.Repo, phase: str, head: str, deadline: Deadline) -> tuple[str, str]:
    """The checkpoint tag nearest below HEAD (fewest commits between), as (tag, commit).

    `git describe` walks back from HEAD only as far as the nearest matching tag, where listing
    the tags merged into HEAD would walk the whole history. Tags at HEAD itself are excluded
    one by one: rolling back to where you are is no rollback.
    """
    matches = [f"--match={p.removeprefix('refs/tags/')}" for p in checkpoint_tag_patterns(phase)]
    excluded: list[str] = []
    while True:
        call = run_git(
            repo,
            ["describe", "--tags", "--long", *matches, *excluded, "--end-of-options", head],
            deadline.left("finding the last checkpoint"),
        )
        if not call.ok:
            if "describe" not in call.err:  # "cannot describe anything", "No tags can describe"
                raise GitError(f"git describe failed: {call.complaint()}. {_REFUSED}")
            why = "the only ones are at HEAD itself" if excluded else "none are on this branch"
            raise GitError(
                f"There is no {phase} checkpoint before HEAD ({short(head)}) to roll back to: "
                f"{why}. {_REFUSED} Name a target with `/rollback to <tag|commit>`."
            )
        name, depth, _ = call.out.rsplit("-", 2)
        if depth != "0":
            break
        excluded.append(f"--exclude={name}")
    commit = git_ok(
        repo,
        ["rev-parse", "--verify", "--end-of-options", f"refs/tags/{name}^{{commit}}"],
        deadline.left("reading the checkpoint"),
    )
    return name, commit


def _resolve(repo: git.Repo, target: str, deadline: Deadline) -> str:
    call = run_git(
        repo,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{target}^{{commit}}"],
        deadline.left(f"resolving {target}"),
    )
    if not call.ok:
        raise GitError(
            f"Unknown rollback target '{target}': no tag, branch or commit by that name here "
            f"(a commit id needs at least 4 hex digits and must be unambiguous). {_REFUSED} "
            "`/checkpoint list` shows the checkpoints."
        )
    return call.out


def _is_checkpoint_tag(repo: git.Repo, phase: str, target: str, deadline: Deadline) -> bool:
    ref = "refs/tags/" + target.removeprefix("refs/tags/")
    if not any(fnmatch.fnmatchcase(ref, pattern) for pattern in checkpoint_tag_patterns(phase)):
        return False
    listed = git_ok(
        repo, ["for-each-ref", "--format=%(refname)", ref], deadline.left("looking up the tag")
    )
    return ref in listed.splitlines()


def _discarded(
    repo: git.Repo, head: str, target: str, deadline: Deadline
) -> tuple[tuple[DiscardedCommit, ...], int]:
    """Commits on HEAD that the target lacks (newest first, at most 50) and how many there are."""
    output = git_ok(
        repo,
        [
            "log",
            f"--max-count={MAX_DISCARDED + 1}",
            "--no-show-signature",
            f"--format={_LOG_FORMAT}",
            "--end-of-options",
            head,
            f"^{target}",
        ],
        deadline.left("listing the commits a rollback discards"),
    )
    commits = []
    for line in output.splitlines():
        sha, author, subject, when = line.split("\x00")
        commits.append(DiscardedCommit(sha, author, subject, datetime.fromisoformat(when)))
    count = len(commits)
    if count > MAX_DISCARDED:
        # Only count the whole range when the listing was cut: it walks history once more.
        counted = git_ok(
            repo,
            ["rev-list", "--count", "--end-of-options", head, f"^{target}"],
            deadline.left("counting the discarded commits"),
        )
        count = int(counted)
    return tuple(commits[:MAX_DISCARDED]), count


def verify_plan(*, repo: git.Repo, plan: RollbackPlan, timeout_s: float = 30.0) -> str | None:
    """None when HEAD and the remote's head are exactly as planned; otherwise why not."""
    deadline = Deadline(timeout_s)
    if plan.fingerprint != plan_fingerprint(
        plan.branch, plan.head_sha, plan.remote_head, plan.target_sha
    ):
        return "the plan does not match its own fingerprint"
    try:
        head, ref = head_and_branch(repo, deadline)
        if ref != f"refs/heads/{plan.branch}":
            where = "detached HEAD" if ref is None else ref.removeprefix("refs/heads/")
            return f"the working copy is on {where}, not {plan.branch}"
        if head != plan.head_sha:
            return f"HEAD moved from {short(plan.head_sha)} to {short(head)}"
        operation = operation_in_progress(repo)
        if operation is not None:
            return f"a {operation} is now in progress in the working copy"
        there = remote_branch_head(repo, plan.remote, f"refs/heads/{plan.branch}", deadline)
    except GitError as error:
        return f"the plan could not be checked: {error.user_message}"
    if there != plan.remote_head:
        return f"{plan.remote} moved from {short(plan.remote_head)} to {short(there)}"
    return None
