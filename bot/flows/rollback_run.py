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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import git

from actions.checks import CheckResult
from actions.errors import RollbackBotError
from actions.git import open_repo
from actions.rollback_git import read_head
from bot.deps import Deps
from bot.flows.plans import body_of
from bot.flows.run_steps import (
    ROLLBACK_STEPS,
    STEP_NAMES,
    STEPS_BY_KIND,
    RunContext,
    Step,
    lock_owner,
)
from store import Plan

__all__ = [
    "ROLLBACK_STEPS",
    "STEP_NAMES",
    "Progress",
    "StepState",
    "done_steps",
    "execute_plan",
    "last_step",
    "lock_owner",
    "runner_id",
    "steps_for",
]

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
    surface: str,
    on_progress: OnProgress | None = None,
) -> Progress:
    """Run (or resume) an approved plan whose run this caller won with ``attempt``."""
    steps = STEPS_BY_KIND[plan.kind]
    run = RunContext(
        deps=deps,
        plan=plan,
        body=body_of(plan),
        repo=open_repo(deps.settings.config.git.path),
        attempt=attempt,
        actor=actor,
        surface=surface,
    )
    done = done_steps(deps, plan.id)
    for entry_facts in done.values():
        run.facts.update(entry_facts)
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
    for index, step in enumerate(steps):
        if step.name in done:
            continue
        states[index] = replace(states[index], status="running")
        show()
        # Who runs the step, so a bot starting up can tell a crashed run from a live one.
        before = {**_repo_state(run.repo), "runner": runner_id()}
        deps.store.journal_step(
            plan_id=plan.id, attempt=attempt, step=step.name, status="started", before=before
        )
        try:
            produced = dict(step.run(run))
        except Exception as error:
            message = _message_of(error)
            deps.store.journal_step(
                plan_id=plan.id,
                attempt=attempt,
                step=step.name,
                status="failed",
                before=before,
                after=_repo_state(run.repo),
                message=message,
            )
            states[index] = replace(states[index], status="failed", note=message)
            _stop(run, step.name, message)
            return show(stopped_at=step.name, error=message)
        run.facts.update(produced)
        deps.store.journal_step(
            plan_id=plan.id,
            attempt=attempt,
            step=step.name,
            status="done",
            before=before,
            after={**_repo_state(run.repo), **produced},
        )
        states[index] = replace(states[index], status="done")
        _failpoint(deps, step.name)
    return show(finished=True)


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def steps_for(record: Plan) -> tuple[Step, ...]:
    return STEPS_BY_KIND[record.kind]


def done_steps(deps: Deps, plan_id: int) -> dict[str, dict[str, Any]]:
    """The steps the journal shows finished, with what each produced (from its "after")."""
    finished: dict[str, dict[str, Any]] = {}
    for entry in deps.store.journal(plan_id):
        if entry.status == "done":
            produced = {
                k: v for k, v in entry.after.items() if k not in ("head", "branch", "runner")
            }
            finished[entry.step] = produced
    return finished


def last_step(deps: Deps, plan_id: int) -> tuple[str | None, str | None]:
    """(the last step that finished, the step that had started and not finished)."""
    finished: str | None = None
    started: str | None = None
    for entry in deps.store.journal(plan_id):
        if entry.status == "done":
            finished, started = entry.step, None
        elif entry.status == "started" or entry.status == "failed":
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
        action="rollback_stopped",
        incident_id=run.plan.incident_id,
        details={"plan": run.plan.id, "step": step, "error": message},
    )


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
