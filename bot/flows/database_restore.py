"""Restore database from backup: the way back when a rollback stopped after its database step.

Once the down SQL is committed, a rollback that stops before its reset leaves the database at
the target's schema and the code still at HEAD. Resume finishes the code steps; this is the
other way out: ``pg_restore`` of the backup the rollback took (checked against the sha256 the
journal recorded), then the rollback is aborted, so database and code are both as they were
before it. It is offered only until the reset: after it, a restore would leave the database
ahead of the code again, and Resume is the way on.

The same four eyes as an approval: an orchestrator, not the one who asked for the rollback
(unless ``slack.requester_can_approve``). pg_restore runs ``--clean --single-transaction``, so
a restore that fails or is killed changes nothing, and one run again gives the same database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from actions.database_steps import file_sha256, restore_database
from actions.errors import DatabaseError
from actions.git import open_repo
from actions.rollback_git import read_head
from bot.deps import Deps
from bot.flows.approval import own_request_refusal
from bot.flows.rollback_resume import Decided, abort_plan
from bot.flows.rollback_run import RESTORE_STEP, done_steps, merged_facts, runner_id
from bot.flows.run_steps import RESET_STEP
from store import JournalEntry, Plan, PlanState, Surface, TimelineAction

RESTORE_TIMEOUT_S = 30 * 60.0


def restorable(record: Plan, facts: Mapping[str, object], *, reset_touched: bool) -> bool:
    """The stopped rollback committed its database step, and its reset never even began."""
    return (
        record.state is PlanState.STOPPED
        and bool(facts.get("db_rolled_back"))
        and bool(facts.get("db_backup"))
        and not reset_touched
    )


def reset_began(journal: Sequence[JournalEntry]) -> bool:
    return any(entry.step == RESET_STEP for entry in journal)


def restore_and_abort(
    deps: Deps, *, plan_id: int, attempt: int, actor: str, surface: Surface
) -> Decided:
    """Restore the database from the rollback's backup, then abort the rollback."""
    record = deps.store.get_plan(plan_id)
    if record is None:
        raise DatabaseError("That button does not match a rollback plan; nothing was changed.")
    journal = deps.store.journal(plan_id)
    facts = merged_facts(done_steps(journal))
    if not restorable(record, facts, reset_touched=reset_began(journal)):
        return Decided(_why_not(record, facts), record)
    refusal = own_request_refusal(deps, record, actor=actor)
    if refusal is not None:
        return Decided(refusal.replace("approve it", "restore the database"), record)
    backup = Path(str(facts["db_backup"]))
    if _sha256(backup) != facts.get("db_backup_sha256"):
        return Decided(
            f"The backup {backup} is missing or not the file the rollback wrote. Nothing was "
            "restored; Resume, or restore by hand.",
            record,
        )
    url = deps.settings.database_url
    if url is None:
        return Decided("The database URL is not set here, so nothing was restored.", record)
    head, _ = read_head(repo=open_repo(deps.settings.config.git.path))
    if head != record.body.get("head_sha"):
        return Decided(
            f"HEAD is at {str(head)[:7]}, not where this rollback found it: restoring the "
            "database now could leave it ahead of the code. Nothing was restored.",
            record,
        )
    # Claimed like a Resume (compare-and-set on the attempt): one restore at a time, and no
    # Resume while it runs.
    claimed = deps.store.resume_plan(plan_id, expected_attempt=attempt)
    if claimed is None:
        return Decided("Someone else is resuming or restoring this rollback.", record)
    problem = _restore_journaled(deps, record, claimed, backup, url.reveal())
    stopped = {**record.result, "stopped_at": RESTORE_STEP, "error": problem or "restored"}
    deps.store.stop_plan(plan_id, attempt=claimed, result=stopped)
    if problem is not None:
        return Decided(problem, deps.store.get_plan(plan_id) or record)
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.DATABASE_RESTORED,
        incident_id=record.incident_id,
        details={"plan": plan_id, "backup": str(backup)},
    )
    return abort_plan(deps, plan_id=plan_id, attempt=claimed, actor=actor, surface=surface)


def _restore_journaled(
    deps: Deps, record: Plan, attempt: int, backup: Path, url: str
) -> str | None:
    """pg_restore between its "started" and "done" journal entries; the problem, if any."""
    store, plan_id = deps.store, record.id
    before = {"runner": runner_id(), "backup": str(backup)}
    store.journal_step(
        plan_id=plan_id, attempt=attempt, step=RESTORE_STEP, status="started", before=before
    )
    try:
        restore_database(
            url=url,
            path=deps.settings.tool_path,
            backup=backup,
            timeout_s=RESTORE_TIMEOUT_S,
        )
    except DatabaseError as error:
        store.journal_step(
            plan_id=plan_id,
            attempt=attempt,
            step=RESTORE_STEP,
            status="failed",
            before=before,
            message=error.user_message,
        )
        return error.user_message
    store.journal_step(
        plan_id=plan_id,
        attempt=attempt,
        step=RESTORE_STEP,
        status="done",
        before=before,
        after={"db_restored": str(backup)},
    )
    return None


def _why_not(record: Plan, facts: Mapping[str, object]) -> str:
    if record.state is not PlanState.STOPPED:
        return "This rollback is not stopped; there is nothing to restore."
    if "db_rolled_back" in facts and "db_backup" in facts:
        return (
            "The code's reset has begun: restoring the database alone could leave it ahead of "
            "the code. Resume to finish the rollback."
        )
    return "This rollback has not changed the database; there is nothing to restore."


def _sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None
