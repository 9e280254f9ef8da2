"""The high-risk removal's steps: a table built from the plan's files, four steps to a file.

Before any file: the lock, the plan checked again, the checklist green to begin with (a red
service would make every file look guilty), and the pre-change checkpoint. Then, for each
file in order: remove and commit it, restart and check; when the check is red, back the
commit up (branch pushed) and reset exactly it, restart and confirm health. After the first
red file the rest are left untouched. The push of what was kept comes last, leased on the
remote head the checkpoint left; then the record and the unlock.

Every step reads the state it would change first (see :mod:`actions.removal`), and what a
file's steps decided ("broke_at") is in the journal, so a resumed run goes on exactly where
the crash left it and never removes, resets or pushes twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from actions.checkpoint import create_checkpoint
from actions.checkpoint_names import checkpoint_names
from actions.errors import GitError
from actions.removal import ensure_tag_pushed, plan_removal, remove_and_commit
from actions.rollback_git import read_head, short
from actions.rollback_steps import (
    create_backup_branch,
    push_backup_branch,
    push_with_lease,
    reset_to_target,
    snapshot_uncommitted,
)
from bot.flows.run_context import LOCK, UNLOCK, RunContext, Step
from bot.flows.validation import ValidationReport, run_validation
from store import IncidentState, PlanState, TimelineAction

BROKE_AT = "broke_at"


def removal_steps(body: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps of a stored removal plan: the same table for the same list of files."""
    paths = body.get("paths")
    count = len(paths) if isinstance(paths, list) else 0
    per_file = tuple(step for index in range(count) for step in _file_steps(index))
    return (*_BEFORE, *per_file, *_AFTER)


def file_step_index(name: str) -> int | None:
    """Which file a step is for ("check:2" is the third file's), None for the others."""
    _, _, number = name.partition(":")
    return int(number) if number.isdigit() else None


def _file_steps(index: int) -> tuple[Step, ...]:
    def bound(step: Callable[[RunContext, int], Mapping[str, Any]]) -> Callable[..., Any]:
        return lambda run: step(run, index)

    number = index + 1
    return (
        Step(f"remove:{index}", f"File {number}: git rm and commit", bound(_remove)),
        Step(f"check:{index}", f"File {number}: restart and run the checklist", bound(_check)),
        Step(
            f"restore:{index}", f"File {number}: back up and reset it if it broke", bound(_restore)
        ),
        Step(f"confirm:{index}", f"File {number}: restart and confirm health", bound(_confirm)),
    )


def _broke_at(run: RunContext) -> int | None:
    value = run.facts.get(BROKE_AT)
    return value if isinstance(value, int) else None


def _parent_of(run: RunContext, index: int) -> str:
    """The commit file ``index`` is removed on top of: the previous file's, or the plan's HEAD."""
    if index == 0:
        return run.removal.head_sha
    return str(run.facts[f"commit:{index - 1}"])


# -- before the first file ----------------------------------------------------------------------


def _verify(run: RunContext) -> Mapping[str, Any]:
    plan = run.removal
    # Planning again is the check: the same files on the same HEAD and remote head give the
    # same fingerprint; a dirty tree, a moved HEAD or a changed glob is refused or differs.
    again = plan_removal(
        repo=run.repo,
        remote=plan.remote,
        branch=plan.branch,
        phase=plan.phase,
        asked=plan.asked,
        now=run.deps.clock(),
    )
    if again.fingerprint != plan.fingerprint:
        moved = (
            f"HEAD moved from {short(plan.head_sha)} to {short(again.head_sha)}"
            if again.head_sha != plan.head_sha
            else "the files or the remote's head changed"
        )
        raise GitError(f"The plan no longer holds: {moved}. Nothing was removed; abort it.")
    return {}


def _baseline(run: RunContext) -> Mapping[str, Any]:
    report = _validate(run, email=bool(run.removal.email_paths), restart=True)
    if not report.ok:
        failing = ", ".join(result.name for result in report.checklist.failing)
        raise GitError(
            f"The checklist is already failing before any removal ({failing}), so it could not "
            "tell which file breaks what. Nothing was removed; fix the service, then resume."
        )
    return {"baseline_checks": len(report.checklist.results)}


def _checkpoint(run: RunContext) -> Mapping[str, Any]:
    plan, config = run.removal, run.deps.settings.config
    # Named after the approval, so a resumed run looks for the same tag.
    when: datetime = run.plan.approved_at or run.plan.created_at
    names = checkpoint_names(
        phase=plan.phase,
        kind="before",
        hours=None,
        message=f"removing {len(plan.paths)} file(s)",
        started_at=config.project.started_at,
        now=when,
    )
    kept = ensure_tag_pushed(repo=run.repo, remote=plan.remote, tag=names.tag, sha=plan.head_sha)
    if not kept:
        result = create_checkpoint(
            repo=run.repo, remote=plan.remote, branch=plan.branch, names=names
        )
        run.deps.store.record_checkpoint(
            tag=names.tag,
            commit=result.commit,
            healthy=True,
            requested_by=run.plan.requested_by,
            forced_by=None,
        )
    # The checkpoint pushed the branch at HEAD: that is what the final push is leased on.
    return {"checkpoint": names.tag, "remote_base": plan.head_sha}


# -- each file ------------------------------------------------------------------------------------


def _remove(run: RunContext, index: int) -> Mapping[str, Any]:
    if _broke_at(run) is not None:
        return {}
    plan = run.removal
    path = plan.paths[index]
    commit = remove_and_commit(
        repo=run.repo,
        branch=plan.branch,
        path=path,
        parent_sha=_parent_of(run, index),
        message=plan.message_of(path),
    )
    return {f"commit:{index}": commit}


def _check(run: RunContext, index: int) -> Mapping[str, Any]:
    if _broke_at(run) is not None:
        return {}
    plan = run.removal
    path = plan.paths[index]
    run.checks.clear()  # the card shows this file's checks as they come
    report = _validate(run, email=path in plan.email_paths, restart=True)
    failing = [result.name for result in report.checklist.failing]
    run.deps.store.append_event(
        actor=run.actor,
        surface=run.surface,
        action=TimelineAction.REMOVAL_FILE,
        incident_id=run.plan.incident_id,
        details={"plan": run.plan.id, "path": path, "ok": report.ok, "failing": failing},
    )
    produced: dict[str, Any] = {f"failing:{index}": failing}
    if report.ok:
        return {**produced, "healthy": True}
    return {**produced, BROKE_AT: index, "healthy": False}


def _restore(run: RunContext, index: int) -> Mapping[str, Any]:
    if _broke_at(run) != index:
        return {}
    plan, commit = run.removal, str(run.facts[f"commit:{index}"])
    parent, backup = _parent_of(run, index), plan.backup_of(index)
    head, _ = read_head(repo=run.repo)
    if head != parent:  # not reset yet (HEAD at the parent: an earlier attempt got this far)
        # The rollback's backup rule: what the reset drops is on a branch, here and on the
        # remote, before the reset.
        snapshot = snapshot_uncommitted(
            repo=run.repo, head_sha=commit, taken_at=run.plan.created_at
        )
        backup_sha = snapshot or commit
        create_backup_branch(repo=run.repo, name=backup, sha=backup_sha)
        push_backup_branch(repo=run.repo, remote=plan.remote, name=backup, sha=backup_sha)
    reset_to_target(
        repo=run.repo,
        branch=plan.branch,
        expected_head=commit,
        target_sha=parent,
        backup_branch=backup,
    )
    return {"restored_backup": backup, "restored_to": parent}


def _confirm(run: RunContext, index: int) -> Mapping[str, Any]:
    if _broke_at(run) != index:
        return {}
    run.checks.clear()
    report = _validate(run, email=bool(run.removal.email_paths), restart=True)
    failing = [result.name for result in report.checklist.failing]
    return {"healthy": report.ok, "failing_after_restore": failing}


# -- after the last file --------------------------------------------------------------------------


def kept_head(plan_head: str, facts: Mapping[str, Any], count: int) -> str:
    """The commit the branch ends at: the last removal kept, or the plan's HEAD if none was."""
    broke = facts.get(BROKE_AT)
    kept = broke if isinstance(broke, int) else count
    return str(facts[f"commit:{kept - 1}"]) if kept > 0 else plan_head


def _push(run: RunContext) -> Mapping[str, Any]:
    plan = run.removal
    final = kept_head(plan.head_sha, run.facts, len(plan.paths))
    if final == plan.head_sha:
        return {"push": "nothing to push: no removal was kept", "final_head": final}
    summary = push_with_lease(
        repo=run.repo,
        remote=plan.remote,
        branch=plan.branch,
        target_sha=final,
        expected_remote_sha=str(run.facts.get("remote_base") or plan.head_sha),
    )
    return {"push": summary, "final_head": final}


def _record(run: RunContext) -> Mapping[str, Any]:
    plan, store, incident_id = run.removal, run.deps.store, run.plan.incident_id
    broke = _broke_at(run)
    kept = broke if broke is not None else len(plan.paths)
    healthy = run.facts.get("healthy") is True
    outcome = {
        "removed": list(plan.paths[:kept]),
        "broke": plan.paths[broke] if broke is not None else None,
        "untouched": list(plan.paths[kept + 1 :]) if broke is not None else [],
        "healthy": healthy,
    }
    store.finish_plan(run.plan.id, attempt=run.attempt, state=PlanState.DONE, result=run.facts)
    store.append_event(
        actor=run.actor,
        surface=run.surface,
        action=TimelineAction.REMOVAL_DONE,
        incident_id=incident_id,
        details={"plan": run.plan.id, **outcome},
    )
    if healthy:
        said = f"removed {kept} of {len(plan.paths)} file(s)"
        if broke is not None:
            said += f"; {plan.paths[broke]} broke the checklist and was restored"
        store.resolve_incident(
            incident_id,
            expected=[IncidentState.ROLLING_BACK],
            resolution=said,
            resolved_by=run.actor,
            lesson="",
        )
    else:  # the service is not healthy even so: the incident stays open for a decision
        store.transition_incident(
            incident_id, expected=[IncidentState.ROLLING_BACK], new=IncidentState.OPEN
        )
    return {"recorded": True}


def _validate(run: RunContext, *, email: bool, restart: bool) -> ValidationReport:
    return run_validation(
        run.deps,
        actor=run.actor,
        surface=run.surface,
        restart=restart,
        on_result=run.note_check,
        email=email,
    )


_BEFORE = (
    LOCK,
    Step("verify", "Check the plan still holds", _verify),
    Step("baseline", "Run the checklist before any removal", _baseline),
    Step("checkpoint", "Take the pre-change checkpoint", _checkpoint),
)
_AFTER = (
    Step("push", "Push the removals with lease", _push),
    Step("record", "Record the result", _record),
    UNLOCK,
)
