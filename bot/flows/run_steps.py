"""The steps an approved plan runs, as a table per kind of plan: rollback and cherry-pick
(the removal's are in :mod:`bot.flows.removal_steps`).

Each step is a function of the run's context that does one thing through an action and returns
what it produced (a commit id, a push summary) for the journal. Every action checks the state it
would change first, so a step run again after a crash finds its work done and does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.cherry_pick_apply import apply_cherry_pick
from actions.errors import GitError
from actions.git import require_index_unlocked
from actions.rollback_clean import remove_untracked_kept_in
from actions.rollback_plan import verify_plan
from actions.rollback_steps import (
    clear_caches,
    create_backup_branch,
    push_backup_branch,
    push_with_lease,
    reset_to_target,
    snapshot_uncommitted,
)
from bot.flows.database import (
    back_up_database,
    check_database,
    dry_run_down_sql,
    roll_database_back,
)
from bot.flows.plans import CHERRY_PICK, REMOVAL, ROLLBACK
from bot.flows.postmortem import after_rollback
from bot.flows.removal_steps import removal_steps
from bot.flows.run_context import LOCK, UNLOCK, RunContext, Step
from bot.flows.validation import run_validation
from store import IncidentState, PlanState, TimelineAction

#: The step after which the code no longer matches the database's backup.
RESET_STEP = "reset"


# -- the rollback's steps ------------------------------------------------------------------------


def _verify(run: RunContext) -> Mapping[str, Any]:
    problem = verify_plan(repo=run.repo, plan=run.rollback)
    if problem is not None:
        raise GitError(
            f"The plan no longer holds: {problem}. Nothing was changed; abort this one and "
            "ask again for a fresh plan."
        )
    # Before the backup is pushed: a held index lock would stop the reset after it.
    require_index_unlocked(run.repo, "Nothing was changed; Resume once it is gone.")
    return {}


def _snapshot(run: RunContext) -> Mapping[str, Any]:
    plan = run.rollback
    # Dated by the plan, so a repeated snapshot of the same work is the same commit.
    snapshot = snapshot_uncommitted(
        repo=run.repo, head_sha=plan.head_sha, taken_at=run.plan.created_at
    )
    return {"snapshot": snapshot, "backup_sha": snapshot or plan.head_sha}


def _backup_branch(run: RunContext) -> Mapping[str, Any]:
    plan = run.rollback
    create_backup_branch(repo=run.repo, name=plan.backup_branch, sha=run.facts["backup_sha"])
    return {"backup_branch": plan.backup_branch}


def _push_backup(run: RunContext) -> Mapping[str, Any]:
    plan = run.rollback
    push_backup_branch(
        repo=run.repo, remote=plan.remote, name=plan.backup_branch, sha=run.facts["backup_sha"]
    )
    return {"backup_pushed": True}


def _reset(run: RunContext) -> Mapping[str, Any]:
    plan = run.rollback
    reset_to_target(
        repo=run.repo,
        branch=plan.branch,
        expected_head=plan.head_sha,
        target_sha=plan.target_sha,
        backup_branch=plan.backup_branch,
    )
    return {"from_sha": plan.head_sha, "to_sha": plan.target_sha}


def _clean_untracked(run: RunContext) -> Mapping[str, Any]:
    if not run.deps.settings.config.git.clean_untracked:
        return {"untracked_removed": [], "untracked_cleaning": "off"}
    cleaned = remove_untracked_kept_in(repo=run.repo, backup_sha=run.facts["backup_sha"])
    return {"untracked_removed": list(cleaned.removed), "untracked_kept": list(cleaned.kept)}


def _push(run: RunContext) -> Mapping[str, Any]:
    plan = run.rollback
    summary = push_with_lease(
        repo=run.repo,
        remote=plan.remote,
        branch=plan.branch,
        target_sha=plan.target_sha,
        expected_remote_sha=plan.remote_head,
        backup_branch=plan.backup_branch,
    )
    return {"push": summary}


def _clear_caches(run: RunContext) -> Mapping[str, Any]:
    config = run.deps.settings.config
    removed = clear_caches(repo_root=config.git.path, paths=config.service.clear_cache)
    return {"caches_removed": list(removed)}


def _validate(run: RunContext) -> Mapping[str, Any]:
    incident = run.deps.store.get_incident(run.plan.incident_id)
    report = run_validation(
        run.deps,
        actor=run.actor,
        surface=run.surface,
        restart=True,
        on_result=run.note_check,
        email=incident is not None and incident.scenario == "email",
    )
    return {
        "healthy": report.ok,
        "failing": [result.name for result in report.checklist.failing],
        "checks": len(report.checklist.results),
    }


def _record(run: RunContext) -> Mapping[str, Any]:
    plan, store = run.rollback, run.deps.store
    healthy = run.facts.get("healthy")
    store.record_rollback(
        run.plan.incident_id,
        state=IncidentState.ROLLED_BACK,
        from_sha=plan.head_sha,
        to_sha=plan.target_sha,
        target_ref=plan.target_ref,
        backup_branch=plan.backup_branch,
        healthy=healthy if isinstance(healthy, bool) else None,
    )
    after_rollback(run.deps, run.plan.incident_id, actor=run.actor, surface=run.surface)
    store.finish_plan(run.plan.id, attempt=run.attempt, state=PlanState.DONE, result=run.facts)
    store.append_event(
        actor=run.actor,
        surface=run.surface,
        action=TimelineAction.ROLLBACK_DONE,
        incident_id=run.plan.incident_id,
        details={
            "plan": run.plan.id,
            "from": plan.head_sha,
            "to": plan.target_sha,
            "target": plan.target_ref,
            "backup_branch": plan.backup_branch,
            "healthy": healthy,
            "failing": run.facts.get("failing", []),
        },
    )
    return {"recorded": True}


_VALIDATE = Step("validate", "Restart and run the checklist", _validate)
_BEFORE_DATABASE = (
    LOCK,
    Step("verify", "Check the plan still holds", _verify),
    Step("snapshot", "Snapshot uncommitted and untracked work", _snapshot),
    Step("backup_branch", "Create the backup branch", _backup_branch),
    Step("push_backup", "Push the backup branch", _push_backup),
)
_AFTER_DATABASE = (
    Step(RESET_STEP, "Reset to the target", _reset),
    Step("clean_untracked", "Remove untracked files the backup holds", _clean_untracked),
    Step("push", "Push with lease", _push),
    Step("clear_caches", "Clear caches", _clear_caches),
    _VALIDATE,
    Step("record", "Record the result", _record),
    UNLOCK,
)
ROLLBACK_STEPS: tuple[Step, ...] = _BEFORE_DATABASE + _AFTER_DATABASE
STEP_NAMES = tuple(step.name for step in ROLLBACK_STEPS)
# Scenario 5: the database is checked before anything changes, and rolled back (backed up
# first) after the code's backup is safe on the remote and before the code is reset, so a
# failure before its COMMIT leaves both as they were.
_DB_CHECK = Step("db_check", "Check the database is as planned", check_database)
_DB_BACKUP = Step("db_backup", "Back up the database (pg_dump)", back_up_database)
_DB_DRY_RUN = Step("db_dry_run", "Dry-run the down SQL (then roll it back)", dry_run_down_sql)
_DB_APPLY = Step("db_apply", "Roll the database back", roll_database_back)
_DB_COMMAND = Step("db_apply", "Run the database rollback command", roll_database_back)
ROLLBACK_DB_STEPS: tuple[Step, ...] = (
    *_BEFORE_DATABASE[:2],
    _DB_CHECK,
    *_BEFORE_DATABASE[2:],
    _DB_BACKUP,
    _DB_DRY_RUN,
    _DB_APPLY,
    *_AFTER_DATABASE,
)
ROLLBACK_DB_COMMAND_STEPS: tuple[Step, ...] = tuple(
    _DB_COMMAND if step is _DB_APPLY else step
    for step in ROLLBACK_DB_STEPS
    if step is not _DB_DRY_RUN
)


def _pick(run: RunContext) -> Mapping[str, Any]:
    result = apply_cherry_pick(repo=run.repo, plan=run.picks)
    return {
        "picked_head": result.head_sha,
        "applied": [list(pair) for pair in result.applied],
        "already_applied": result.already_applied,
    }


def _push_picks(run: RunContext) -> Mapping[str, Any]:
    plan = run.picks
    summary = push_with_lease(
        repo=run.repo,
        remote=plan.remote,
        branch=plan.branch,
        target_sha=run.facts["picked_head"],
        expected_remote_sha=plan.remote_head,
    )
    return {"push": summary}


def _record_picks(run: RunContext) -> Mapping[str, Any]:
    plan, store = run.picks, run.deps.store
    store.finish_plan(run.plan.id, attempt=run.attempt, state=PlanState.DONE, result=run.facts)
    store.append_event(
        actor=run.actor,
        surface=run.surface,
        action=TimelineAction.CHERRY_PICK_DONE,
        incident_id=run.plan.incident_id,
        details={
            "plan": run.plan.id,
            "backup_branch": plan.backup_branch,
            "applied": run.facts.get("applied", []),
            "head": run.facts.get("picked_head"),
            "healthy": run.facts.get("healthy"),
        },
    )
    return {"recorded": True}


CHERRY_PICK_STEPS: tuple[Step, ...] = (
    LOCK,
    Step("pick", "Cherry-pick onto the branch", _pick),
    Step("push", "Push with lease", _push_picks),
    _VALIDATE,
    Step("record", "Record the result", _record_picks),
    UNLOCK,
)
STEPS_BY_KIND: Mapping[str, tuple[Step, ...]] = {
    ROLLBACK: ROLLBACK_STEPS,
    CHERRY_PICK: CHERRY_PICK_STEPS,
}


def steps_of(kind: str, body: Mapping[str, Any]) -> tuple[Step, ...]:
    """The steps a stored plan runs: a rollback with a database step runs its steps too, and a
    removal has four steps per file."""
    if kind == REMOVAL:
        return removal_steps(body)
    database = body.get("database") if kind == ROLLBACK else None
    needed = isinstance(database, Mapping) and database.get("migrations")
    if needed and isinstance(database, Mapping) and not database.get("unavailable"):
        return ROLLBACK_DB_COMMAND_STEPS if database.get("command") else ROLLBACK_DB_STEPS
    return STEPS_BY_KIND[kind]
