"""Applying a cherry-pick plan: its commits picked one at a time with ``git cherry-pick -x``.

A run repeated after a crash finds the picks already made (by their "(cherry picked from
commit …)" line) and keeps them. Nothing here pushes: the caller uses
:func:`actions.rollback_push.push_with_lease`.
"""

from __future__ import annotations

import git

from actions.cherry_pick import (
    CherryPickPlan,
    CherryPickResult,
    PickedCommit,
    changed_tracked_paths,
    listed_paths,
    log_picks,
    pick_fingerprint,
    require_clean_tree,
)
from actions.errors import GitError, OutOfTime
from actions.git import operation_in_progress, require_no_operation
from actions.gitrun import UNDO_TIMEOUT_S, Deadline, GitCall, identity_config, run_git
from actions.refs import require_ref_name
from actions.rollback_git import (
    NOTHING,
    head_and_branch,
    is_ancestor,
    require_commit_id,
    require_on_branch,
    short,
)

# --end-of-options works for cherry-pick on git 2.39; the ids are verified full hex ids anyway.
_PICK = ("cherry-pick", "-x", "--no-edit", "--no-gpg-sign", "--no-rerere-autoupdate")


def apply_cherry_pick(
    *, repo: git.Repo, plan: CherryPickPlan, timeout_s: float = 120.0
) -> CherryPickResult:
    """Pick the plan's commits onto its branch with ``git cherry-pick -x``, one at a time.

    HEAD must be where the plan saw it, or on picks of the plan's first commits (an earlier run
    that stopped): those are kept and the rest applied. A pick that fails is aborted, leaving
    the branch at the last good pick with a clean tree, and GitError says how far it got.
    """
    _check_plan(plan)
    deadline = Deadline(timeout_s)
    try:
        head = require_on_branch(repo, plan.branch, deadline, f"{NOTHING} Plan again.")
        require_no_operation(repo, NOTHING)
        done = _already_applied(repo, plan, head, deadline)
        require_clean_tree(repo, deadline)
        identity = identity_config(repo, deadline.left("reading the identity"))
    except OutOfTime as error:
        raise GitError(f"{error.user_message} {NOTHING} Try again.") from None
    applied = [(pick.sha, new) for pick, new in zip(plan.commits, done, strict=False)]
    for pick in plan.commits[len(done) :]:
        try:
            call = run_git(
                repo,
                [*_PICK, "--end-of-options", pick.sha],
                deadline.left(f"picking {short(pick.sha)}"),
                env={"GIT_EDITOR": "true", "GIT_REFLOG_ACTION": "rollback-bot: cherry-pick"},
                config=identity,
            )
        except OutOfTime as error:
            raise GitError(
                f"{error.user_message} {_progress(plan, head, len(applied))} Run the same "
                "plan again to pick the rest."
            ) from None
        if not call.ok:
            raise _pick_failed(repo, plan, pick, call, head, len(applied))
        picked = run_git(repo, ["rev-parse", "HEAD"], UNDO_TIMEOUT_S)
        if not picked.ok:
            raise GitError(
                f"{short(pick.sha)} was picked, but HEAD could not be read after it "
                f"({picked.complaint()}): {len(applied) + 1} of {len(plan.commits)} picks are "
                f"on {plan.branch}, nothing was pushed, and every commit is still on "
                f"{plan.backup_branch}. Run the same plan again to check and pick the rest."
            )
        head = picked.out
        applied.append((pick.sha, head))
    return CherryPickResult(head_sha=head, applied=tuple(applied), already_applied=len(done))


def _check_plan(plan: CherryPickPlan) -> None:
    require_ref_name(plan.branch, what="branch name")
    require_ref_name(plan.remote, what="remote name")
    require_ref_name(plan.backup_branch, what="backup branch name")
    shas = [pick.sha for pick in plan.commits]
    for sha in (plan.head_sha, plan.backup_sha, plan.remote_head, *shas):
        if sha is not None:  # full hex ids only: nothing option-like can reach git's argv
            require_commit_id(sha, what="commit in the plan")
    expected = pick_fingerprint(plan.branch, plan.head_sha, plan.remote_head, plan.backup_sha, shas)
    if plan.fingerprint != expected:
        raise GitError(f"The plan does not match its own fingerprint. {NOTHING} Plan again.")


def _already_applied(
    repo: git.Repo, plan: CherryPickPlan, head: str, deadline: Deadline
) -> list[str]:
    """The picks an earlier run made (new ids, in plan order), or GitError if HEAD moved."""
    if head == plan.head_sha:
        return []
    moved = GitError(
        f"HEAD moved since the plan: {plan.branch} is at {short(head)}, which is neither "
        f"{short(plan.head_sha)} nor picks of the planned commits on top of it. {NOTHING} "
        "Plan again."
    )
    if not is_ancestor(repo, plan.head_sha, head, deadline):
        raise moved
    # One more than can match, to see a HEAD that has more than the plan's picks on top.
    since = [f"--max-count={len(plan.commits) + 1}", "--end-of-options", head, f"^{plan.head_sha}"]
    found = log_picks(repo, ["--reverse", "--topo-order", *since], deadline.left("reading picks"))
    done: list[str] = []
    for (sha, parents, source), pick in zip(found, (*plan.commits, None), strict=False):
        if pick is None or parents != [done[-1] if done else plan.head_sha] or source != pick.sha:
            raise moved
        done.append(sha)
    if done[-1:] != [head]:
        raise moved
    return done


def _progress(plan: CherryPickPlan, head: str, count: int) -> str:
    return (
        f"{plan.branch} is at {short(head)} with {count} of {len(plan.commits)} picks applied; "
        f"nothing was pushed, and every commit is still on {plan.backup_branch}."
    )


def _pick_failed(
    repo: git.Repo, plan: CherryPickPlan, pick: PickedCommit, call: GitCall, last: str, count: int
) -> GitError:
    """Abort the failed pick only, and say what went wrong and where the branch is now."""
    budget = Deadline(UNDO_TIMEOUT_S)  # its own: the operation's may be spent
    conflicted = run_git(
        repo, ["diff", "--name-only", "--diff-filter=U", "-z"], budget.left("listing conflicts")
    ).out.split("\x00")
    paths = [path for path in conflicted if path]
    untracked = [line.strip() for line in call.err.splitlines() if line.startswith("\t")]
    if paths:
        reason = f"it conflicts with {plan.branch} in {listed_paths(paths)}"
    elif "would be overwritten" in call.err and untracked:
        reason = (
            f"it would overwrite untracked files here ({listed_paths(untracked)}); move them away"
        )
    elif "now empty" in call.err:
        reason = f"its changes are already on {plan.branch} (the pick would be empty)"
    else:
        reason = f"git cherry-pick failed: {call.complaint()}"
    subject = pick.subject if len(pick.subject) <= 72 else pick.subject[:71] + "…"
    what = f"Cherry-picking {short(pick.sha)} ({subject!r}) onto {plan.branch} stopped: {reason}."
    problem = ""
    try:
        if operation_in_progress(repo) == "cherry-pick":
            aborted = run_git(repo, ["cherry-pick", "--abort"], budget.left("aborting the pick"))
            problem = "" if aborted.ok else f" ({aborted.complaint()})"
        now, _ = head_and_branch(repo, budget)
        clean = (
            now == last
            and operation_in_progress(repo) is None
            and not changed_tracked_paths(repo, budget)
        )
    except GitError as error:  # also running out of the undo's own budget
        now, clean, problem = None, False, f" ({error.user_message})"
    if clean:
        return GitError(
            f"{what} That pick was undone, and the working tree is clean: "
            f"{_progress(plan, last, count)} Pick {short(pick.sha)} by hand "
            f"(`git cherry-pick -x {pick.sha}`) and resolve it, or plan again without it."
        )
    return GitError(
        f"{what} It could not be undone cleanly{problem}: the working copy is at "
        f"{short(now) if now else 'an unknown commit'} (the last good pick is {short(last)}) "
        "and may be mid-pick or have "
        f"changes. {count} of {len(plan.commits)} picks were applied before it; nothing was "
        f"pushed, and every commit is still on {plan.backup_branch}. Look at `git status`, "
        "and run `git cherry-pick --abort` by hand if a pick is in progress."
    )
