"""Carrying out an approved plan: one step at a time, each journaled before and after.

The journal is what makes a crash survivable. A step is written "started" with the repository's
state before it, then "done" with the state after and what it produced (the snapshot commit,
the push summary). A resumed run skips every step the journal shows done, takes their results
from it, and runs the first unfinished one again; every step's action reads the state it would
change first and does nothing when its work is already there, so "again" never means "twice".

A step that fails stops the plan (state STOPPED, the lock kept: the repository may be half
way) and the orchestrator chooses Resume or Abort. A failing service after the rollback is not
a failed step: the rollback is done, and the card says separately that the service is not
healthy.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import git

from actions.checks.result import CheckResult
from actions.errors import RollbackBotError
from actions.git import open_repo
from actions.rollback_git import read_head
from bot.deps import Deps
from bot.flows.plans import body_of
from bot.flows.run_context import RunContext, Step
from bot.flows.run_steps import steps_of
from store import JournalEntry, Plan, Surface, TimelineAction

log = logging.getLogger("rollback_bot.rollback")

Status = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True)
class StepState:
    name: str
    title: str
    status: Status
    note: str = ""


@dataclass(frozen=True)
class Progress:
    """Where a run stands; handed to the card after every change."""

    plan: Plan
    steps: tuple[StepState, ...]
    facts: Mapping[str, Any]
    checks: tuple[CheckResult, ...] = ()
    finished: bool = False
    stopped_at: str | None = None
    error: str | None = None

    @property
    def healthy(self) -> bool | None:
        value = self.facts.get("healthy")
        return value if isinstance(value, bool) else None


OnProgress = Callable[[Progress], None]


# -- running -------------------------------------------------------------------------------------


def execute_plan(
    deps: Deps,
    plan: Plan,
    *,
    attempt: int,
    actor: str,
    surface: Surface,
    on_progress: OnProgress | None = None,
) -> Progress:
    """Run (or resume) an approved plan whose run this caller won with ``attempt``."""
    steps = steps_for(plan)
    run = RunContext(
        deps=deps,
        plan=plan,
        body=body_of(plan),
        repo=open_repo(deps.settings.config.git.path),
        attempt=attempt,
        actor=actor,
        surface=surface,
    )
    done = done_steps(deps.store.journal(plan.id))
    run.facts.update(merged_facts(done))
    states = [StepState(s.name, s.title, "done" if s.name in done else "pending") for s in steps]

    def show(**extra: Any) -> Progress:
        progress = Progress(plan, tuple(states), dict(run.facts), tuple(run.checks), **extra)
        if on_progress is not None:
            try:
                on_progress(progress)
            except Exception:  # a card that cannot be drawn must not stop a rollback
                log.exception("could not show the rollback's progress")
        return progress

    run.on_check = show
    # Read once per step boundary: under the lock, nothing but the steps moves the repository.
    state = _repo_state(run.repo)
    for index, step in enumerate(steps):
        if step.name in done:
            continue
        states[index] = replace(states[index], status="running")
        show()
        try:
            produced, state = _run_journaled(run, step, state)
        except _StepFailed as failed:
            states[index] = replace(states[index], status="failed", note=failed.message)
            _stop(run, step.name, failed.message)
            return show(stopped_at=step.name, error=failed.message)
        run.facts.update(produced)
        states[index] = replace(states[index], status="done")
        _failpoint(deps, step.name)
    return show(finished=True)


class _StepFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _run_journaled(
    run: RunContext, step: Step, state: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One step between its "started" and "done" journal entries: (what it produced, the
    repository's state after it). A failure is journaled "failed" and raised as _StepFailed."""
    store, plan_id, attempt = run.deps.store, run.plan.id, run.attempt
    # Who runs the step, so a bot starting up can tell a crashed run from a live one.
    before = {**state, "runner": runner_id()}
    store.journal_step(
        plan_id=plan_id, attempt=attempt, step=step.name, status="started", before=before
    )
    try:
        produced = dict(step.run(run))
    except Exception as error:
        message = _message_of(error)
        store.journal_step(
            plan_id=plan_id,
            attempt=attempt,
            step=step.name,
            status="failed",
            before=before,
            after=_repo_state(run.repo),
            message=message,
        )
        raise _StepFailed(message) from None
    after = _repo_state(run.repo)
    store.journal_step(
        plan_id=plan_id,
        attempt=attempt,
        step=step.name,
        status="done",
        before=before,
        after={**after, **produced},
    )
    return produced, after


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def steps_for(record: Plan) -> tuple[Step, ...]:
    return steps_of(record.kind, record.body)


#: "Restore database from backup" (bot.flows.database_restore): journaled like a step, though
#: no plan lists it among its steps.
RESTORE_STEP = "db_restore"
RESTORE_TITLE = "Restore the database from its backup"


def stopped_step(record: Plan) -> str:
    """Where a stopped plan stands, as its card names the step ("Push with lease")."""
    name = record.result.get("stopped_at")
    found = next((step.title for step in steps_for(record) if step.name == name), None)
    if found is None and name == RESTORE_STEP:
        return RESTORE_TITLE
    return found or str(name or "?")


def done_steps(journal: Sequence[JournalEntry]) -> dict[str, dict[str, Any]]:
    """The steps the journal shows finished, with what each produced (from its "after")."""
    return {
        entry.step: {k: v for k, v in entry.after.items() if k not in _STATE_KEYS}
        for entry in journal
        if entry.status == "done"
    }


def merged_facts(done: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Everything the finished steps produced, as one run's facts."""
    return {key: value for produced in done.values() for key, value in produced.items()}


def last_step(journal: Sequence[JournalEntry]) -> tuple[str | None, str | None]:
    """(the last step that finished, the step that had started and not finished)."""
    finished: str | None = None
    started: str | None = None
    for entry in journal:
        if entry.status == "done":
            finished, started = entry.step, None
        elif entry.status in ("started", "failed"):
            started = entry.step
    return finished, started


def _stop(run: RunContext, step: str, message: str) -> None:
    run.deps.store.stop_plan(
        run.plan.id,
        attempt=run.attempt,
        result={**run.facts, "stopped_at": step, "error": message},
    )
    run.deps.store.append_event(
        actor=run.actor,
        surface=run.surface,
        action=TimelineAction.ROLLBACK_STOPPED,
        incident_id=run.plan.incident_id,
        details={"plan": run.plan.id, "step": step, "error": message},
    )


# What _repo_state and the runner id put in a journal entry, beside a step's own results.
_STATE_KEYS = ("head", "branch", "error", "runner")


def _repo_state(repo: git.Repo) -> dict[str, Any]:
    try:
        head, branch = read_head(repo=repo)
    except RollbackBotError as error:
        return {"error": error.user_message}
    return {"head": head, "branch": branch}


def _message_of(error: Exception) -> str:
    if isinstance(error, RollbackBotError):
        return error.user_message
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected failure in a rollback step (reference %s)", reference, exc_info=error)
    return f"unexpected error (reference {reference}); the details are in the bot's log"


def _failpoint(deps: Deps, step: str) -> None:
    # The crash tests kill the real process here, right after a step is journaled done: the
    # exact moment a power cut or an OOM kill would leave the journal and the repository in.
    if deps.settings.kill_after_step == step:
        log.warning("failpoint: killing the process after step %s", step)
        os.kill(os.getpid(), signal.SIGKILL)
