"""After a crash or a failed step: find what stopped, and resume or abort it.

A plan the store still shows RUNNING when the bot starts was cut short (this process has only
just begun), so it is marked STOPPED with the step the journal shows it was in, and announced.
Resume and Abort are compare-and-sets on the plan's attempt number: two clicks, or two
orchestrators, get one resumed run or one abort.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from actions.errors import InputError
from actions.git import open_repo
from actions.rollback_git import read_head
from bot.deps import Deps
from bot.flows.checkpoint import repo_lock_name
from bot.flows.plans import REMOVAL, ROLLBACK
from bot.flows.postmortem import freeze_after_rollback
from bot.flows.rollback_run import (
    RESTORE_STEP,
    Progress,
    StepState,
    done_steps,
    last_step,
    merged_facts,
    steps_for,
)
from bot.flows.run_context import Step, lock_owner, plan_of_lock_owner
from bot.flows.run_steps import RESET_STEP
from store import IncidentState, JournalEntry, Plan, PlanState, Surface, TimelineAction

INTERRUPTED = "the bot stopped in the middle of this step (a crash or a restart)"


@dataclass(frozen=True)
class Decided:
    refusal: str | None
    record: Plan
    attempt: int | None = None  # the resumed run's attempt, for its executor


def recover_interrupted(deps: Deps) -> list[Plan]:
    """Mark plans left RUNNING by a dead process as STOPPED; release locks of finished plans.

    Returns the plans just stopped, for the bot to announce with Resume / Abort.
    """
    stopped = []
    for record in deps.store.unfinished_plans():
        if record.state is not PlanState.RUNNING:
            continue
        journal = deps.store.journal(record.id)
        if _runner_alive(record, journal):
            continue
        finished, started = last_step(journal)
        where = started or _next_after(steps_for(record), finished)
        result = {**record.result, "stopped_at": where, "error": INTERRUPTED}
        if deps.store.stop_plan(record.id, attempt=record.attempt, result=result):
            deps.store.append_event(
                actor="bot",
                surface=Surface.BOT,
                action=TimelineAction.ROLLBACK_INTERRUPTED,
                incident_id=record.incident_id,
                details={"plan": record.id, "step": where, "last_done": finished},
            )
            stopped.append(deps.store.get_plan(record.id) or record)
    _release_stale_locks(deps)
    return stopped


def _runner_alive(record: Plan, journal: Sequence[JournalEntry]) -> bool:
    """Whether another live process on this host is running the plan (a serve while a terminal
    command starts, or the other way round); a crashed one has no process left."""
    started = [
        entry for entry in journal if entry.status == "started" and entry.attempt == record.attempt
    ]
    runner = str(started[-1].before.get("runner", "")) if started else ""
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user holds that pid: assume it is the runner
    try:  # a reused pid (say, after a container restart) belongs to some other program
        return b"bot" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _next_after(steps: tuple[Step, ...], finished: str | None) -> str:
    names = [step.name for step in steps]
    if finished is None:
        return names[0]
    index = names.index(finished) + 1 if finished in names else len(names) - 1
    return names[min(index, len(names) - 1)]


#: Locks held only for a moment by a running process (a drill's or a bisect's clone, a log
#: commit): at start-up, no process holds them any more.
_MOMENTARY = ("drill:", "bisect:", "rollback-log:")


def _release_stale_locks(deps: Deps) -> None:
    # A crash between "record" and "unlock" leaves a finished plan's lock behind.
    for lock in deps.store.list_locks():
        if lock.owner.startswith(_MOMENTARY):
            deps.store.release_lock(lock.name, owner=lock.owner)
            continue
        plan_id = plan_of_lock_owner(lock.owner)
        record = deps.store.get_plan(plan_id) if plan_id is not None else None
        if record is not None and record.state.is_final:
            deps.store.release_lock(lock.name, owner=lock.owner)


#: In a progress rebuilt from the journal: whether the plan's reset step ever started.
RESET_BEGAN = "reset_began"


def progress_of(deps: Deps, record: Plan) -> Progress:
    """The card's picture of a plan, rebuilt from the journal alone."""
    journal = deps.store.journal(record.id)
    done = done_steps(journal)
    stopped_at = record.result.get("stopped_at") if record.state is PlanState.STOPPED else None
    steps = []
    for step in steps_for(record):
        if step.name in done:
            steps.append(StepState(step.name, step.title, "done"))
        elif step.name == stopped_at:
            error = str(record.result.get("error", ""))
            steps.append(StepState(step.name, step.title, "failed", error))
        else:
            steps.append(StepState(step.name, step.title, "pending"))
    # Whether the reset began, which a stop recovered after a crash cannot show by its steps
    # (it names the next step as where it stopped): Restore is offered only before it.
    began = any(entry.step == RESET_STEP for entry in journal)
    return Progress(
        plan=record,
        steps=tuple(steps),
        facts={**merged_facts(done), RESET_BEGAN: began},
        finished=record.state is PlanState.DONE,
        stopped_at=str(stopped_at) if stopped_at else None,
        error=str(record.result.get("error", "")) or None,
    )


def judge_resume(
    deps: Deps, *, plan_id: int, attempt: int, actor: str, surface: Surface
) -> Decided:
    record = _plan(deps, plan_id)
    if record.state is not PlanState.STOPPED:
        return Decided(_not_stopped(record), record)
    if any(entry.step == RESTORE_STEP for entry in deps.store.journal(plan_id)):
        return Decided(
            "The database was restored from the backup (or a restore began), so the code steps "
            "must not run now. Abort this rollback, then ask for a fresh one.",
            record,
        )
    new_attempt = deps.store.resume_plan(plan_id, expected_attempt=attempt)
    if new_attempt is None:
        latest = deps.store.get_plan(plan_id) or record
        return Decided(_not_stopped(latest), latest)
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.ROLLBACK_RESUMED,
        incident_id=record.incident_id,
        details={"plan": plan_id, "attempt": new_attempt, "from": record.result.get("stopped_at")},
    )
    return Decided(None, deps.store.get_plan(plan_id) or record, new_attempt)


def abort_plan(deps: Deps, *, plan_id: int, attempt: int, actor: str, surface: Surface) -> Decided:
    """Stop for good where it stands, release the lock and record where the repository is."""
    record = _plan(deps, plan_id)
    if record.state is not PlanState.STOPPED:
        return Decided(_not_stopped(record), record)
    facts = merged_facts(done_steps(deps.store.journal(plan_id)))
    head, _ = read_head(repo=open_repo(deps.settings.config.git.path))
    result = {**record.result, **facts, "aborted_by": actor, "head_at_abort": head}
    if not deps.store.finish_plan(plan_id, attempt=attempt, state=PlanState.ABORTED, result=result):
        latest = deps.store.get_plan(plan_id) or record
        return Decided(_not_stopped(latest), latest)
    if record.kind == ROLLBACK:
        deps.store.record_rollback(
            record.incident_id,
            state=IncidentState.ABORTED,
            from_sha=facts.get("from_sha"),
            to_sha=facts.get("to_sha"),
            target_ref=None,
            backup_branch=facts.get("backup_branch"),
            healthy=None,
        )
    elif record.kind == REMOVAL:  # what was removed so far stays; the incident says aborted
        deps.store.transition_incident(
            record.incident_id, expected=[IncidentState.STOPPED], new=IncidentState.ABORTED
        )
    journal = deps.store.journal(plan_id)
    if record.kind == ROLLBACK and any(e.step in ("db_apply", RESET_STEP) for e in journal):
        # The code (or the database) did move back: the phase is frozen as after any rollback.
        freeze_after_rollback(deps, record.incident_id, actor=actor, surface=surface)
    deps.store.release_lock(repo_lock_name(deps), owner=lock_owner(plan_id))
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.ROLLBACK_ABORTED,
        incident_id=record.incident_id,
        details={"plan": plan_id, "stopped_at": record.result.get("stopped_at"), "head": head},
    )
    return Decided(None, deps.store.get_plan(plan_id) or record)


def _plan(deps: Deps, plan_id: int) -> Plan:
    record = deps.store.get_plan(plan_id)
    if record is None:
        raise InputError("That button does not match a rollback plan; nothing was changed.")
    return record


def _not_stopped(record: Plan) -> str:
    if record.state is PlanState.RUNNING:
        return "The rollback is already running again."
    if record.state is PlanState.DONE:
        return "The rollback has finished."
    if record.state is PlanState.ABORTED:
        return "The rollback was aborted."
    return "This rollback is not stopped; there is nothing to resume or abort."
