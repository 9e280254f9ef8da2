"""The rollback's two pushes: the backup branch (never forced) and the branch (leased).

A run repeated after a crash is harmless: the backup push asks the remote first and does
nothing when the branch is already there at our commit, and git itself reports a branch already
at the target as up to date. When git's answer is lost or unclear, the remote is asked again
instead of guessing. The branch push is forced only under an explicit lease on the exact commit
the plan saw there: a remote that moved is never overwritten."""

from __future__ import annotations

import git

from actions.errors import GitError, OutOfTime
from actions.gitrun import (
    NETWORK_ENV,
    UNDO_TIMEOUT_S,
    Deadline,
    GitCall,
    PushedRef,
    parse_porcelain,
    rejection_reason,
    run_git,
)
from actions.refs import require_ref_name
from actions.rollback_git import remote_branch_head, require_commit_id, short

_NOT_RESET = "Nothing was reset."


def push_backup_branch(
    *, repo: git.Repo, remote: str, name: str, sha: str, timeout_s: float = 120.0
) -> None:
    """Put ``sha`` on the remote as branch ``name`` (not forced); a no-op if it is there already.

    A branch of that name at another commit is left alone: GitError.
    """
    require_ref_name(remote, what="remote name")
    require_ref_name(name, what="backup branch name")
    require_commit_id(sha, what="backup commit")
    ref = f"refs/heads/{name}"
    deadline = Deadline(timeout_s)
    try:
        there = remote_branch_head(repo, remote, ref, deadline)
        if there == sha:
            return
        if there is not None:
            raise _backup_taken(remote, name, there, sha)
        call = _push(repo, ["--end-of-options", remote, f"{sha}:{ref}"], deadline)
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {_NOT_RESET} Try again.") from None
    pushed = _pushed(call, ref)
    if call.ok and pushed is not None and pushed.flag in ("*", "="):
        return
    if call.ok and pushed is not None:
        # Created by someone else between our look and our push; git's fast-forward rule
        # kept their commit inside ours, but two rollbacks sharing a name must be looked at.
        raise GitError(
            f"{remote} got a branch {name} from someone else while the backup was being "
            f"pushed ({pushed.summary}); nothing was lost, as it is contained in the backup. "
            f"{_NOT_RESET} Check who else is rolling back before going on."
        )
    answered, now = _ask_again(repo, remote, ref)
    if now == sha:
        return  # the answer was lost, or an identical push won the race: it is there
    if now is not None:
        raise _backup_taken(remote, name, now, sha)
    reason = rejection_reason(parse_porcelain(call.out)) or call.complaint()
    said = "; ".join(call.remote_lines())
    unsure = "" if answered else f" Whether {remote} got it could not be confirmed."
    raise GitError(
        f"Could not push backup branch {name} to {remote}: {reason}"
        f"{f' ({remote} said: {said})' if said else ''}. {_NOT_RESET}{unsure} The backup "
        f"exists locally; check that {remote} is reachable and accepts new branches, then "
        "try again."
    )


def push_with_lease(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    target_sha: str,
    expected_remote_sha: str | None,
    timeout_s: float = 120.0,
    backup_branch: str | None = None,
) -> str:
    """Move ``branch`` on the remote to ``target_sha``, only from ``expected_remote_sha``.

    None as expected value means "the remote has no such branch". Returns a one-line summary.
    """
    require_ref_name(remote, what="remote name")
    require_ref_name(branch, what="branch name")
    require_commit_id(target_sha, what="rollback target")
    if expected_remote_sha is not None:
        require_commit_id(expected_remote_sha, what="expected remote head")
    if backup_branch is not None:
        require_ref_name(backup_branch, what="backup branch name")
    ref = f"refs/heads/{branch}"
    deadline = Deadline(timeout_s)
    # An explicit expected value: the bare form would trust the remote-tracking ref, which a
    # background fetch can move (see the field notes). No ls-remote first: the lease is what
    # makes it safe, and git reports a remote already at the target as up to date.
    lease = f"--force-with-lease={ref}:{expected_remote_sha or ''}"
    try:
        call = _push(repo, [lease, "--end-of-options", remote, f"{target_sha}:{ref}"], deadline)
    except OutOfTime as error:
        raise GitError(
            f"{error.user_message} The local branch is reset; {remote} was not pushed. "
            "Try the push again."
        ) from None
    pushed = _pushed(call, ref)
    if call.ok and pushed is not None:
        if pushed.flag == "=":
            return f"{remote} already had {branch} at {short(target_sha)}"
        if pushed.flag == "*":
            return f"{remote} had no {branch}; it now has it as a new branch at {short(target_sha)}"
        return f"{remote} now has {branch} at {short(target_sha)} too"
    answered, now = _ask_again(repo, remote, ref)
    if now == target_sha:
        return f"{remote} already had {branch} at {short(target_sha)}"
    reason = rejection_reason(parse_porcelain(call.out)) or call.complaint()
    if not answered:
        raise GitError(
            f"Could not push {branch} to {remote}: {reason}. Whether {remote} got it could not "
            f"be confirmed; here, {branch} is already reset to {short(target_sha)}. Check that "
            f"{remote} is reachable, then push again (a repeated push is safe)."
        )
    if now != expected_remote_sha:
        raise _remote_moved(remote, branch, now, backup_branch)
    said = "; ".join(call.remote_lines())
    raise GitError(
        f"{remote} refused the push of {branch}: {reason}"
        f"{f' ({remote} said: {said})' if said else ''}. {remote} still has "
        f"{short(now)}, nothing was overwritten; here, {branch} is already reset to "
        f"{short(target_sha)}. Fix what {remote} objects to, then push again."
    )


def _push(repo: git.Repo, args: list[str], deadline: Deadline) -> GitCall:
    # --no-follow-tags: a push.followTags setting must not send tags along with a rollback.
    return run_git(
        repo,
        ["push", "--porcelain", "--no-follow-tags", *args],
        deadline.left("pushing"),
        env=NETWORK_ENV,
    )


def _pushed(call: GitCall, ref: str) -> PushedRef | None:
    return next((item for item in parse_porcelain(call.out) if item.destination == ref), None)


def _ask_again(repo: git.Repo, remote: str, ref: str) -> tuple[bool, str | None]:
    """(answered, head) after a failed push, on a budget of its own: the push's may be spent."""
    try:
        return True, remote_branch_head(repo, remote, ref, Deadline(UNDO_TIMEOUT_S))
    except GitError:
        return False, None


def _backup_taken(remote: str, name: str, there: str, sha: str) -> GitError:
    return GitError(
        f"{remote} already has a branch {name} at {short(there)}, not {short(sha)}; it was "
        f"left as it is (a backup is never overwritten). {_NOT_RESET} Plan the rollback "
        "again (it picks a new backup name)."
    )


def _remote_moved(remote: str, branch: str, now: str | None, backup: str | None) -> GitError:
    kept = f"the backup branch {backup} is on {remote}" if backup else "the backup is kept"
    return GitError(
        f"{remote} moved since the plan (now {short(now)}): nothing was overwritten; {kept}. "
        f"Here, {branch} may already be reset to the target. Look at what was pushed "
        f"(`git fetch {remote}` and `git log {remote}/{branch}`) before planning again."
    )
