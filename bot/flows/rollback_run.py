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
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import git

from actions.checks import CheckResult
from actions.errors import GitError, RollbackBotError
from actions.git import open_repo
from actions.rollback_git import read_head
from actions.rollback_plan import RollbackPlan, verify_plan
from actions.rollback_steps import (
    clear_caches,
    create_backup_branch,
    push_backup_branch,
    push_with_lease,
    reset_to_target,
    snapshot_uncommitted,
)
from bot.deps import Deps
from bot.flows.checkpoint import repo_lock_name
from bot.flows.plans import rollback_plan_from_body
from bot.flows.validation import run_validation
from store import IncidentState, Plan, PlanState

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


@dataclass
class _Run:
    deps: Deps
    plan: Plan
    rollback: RollbackPlan
    repo: git.Repo
    attempt: int
    actor: str
    surface: str
    facts: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    on_check: Callable[[], object] = lambda: None

    def note_check(self, result: CheckResult) -> None:
        self.checks.append(result)
        self.on_check()

    @property
    def lock_owner(self) -> str:
        return lock_owner(self.plan.id)


StepFn = Callable[[_Run], Mapping[str, Any]]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: StepFn


def lock_owner(plan_id: int) -> str:
    return f"rollback:{plan_id}"


# -- the rollback's steps ------------------------------------------------------------------------


def _lock(run: _Run) -> Mapping[str, Any]:
    deps, name = run.deps, repo_lock_name(run.deps)
    reason = f"rollback #{run.plan.incident_id} to {run.rollback.target_ref}"
    if not deps.store.acquire_lock(name, owner=run.lock_owner, reason=reason):
        held = deps.store.get_lock(name)
        if held is None or held.owner != run.lock_owner:  # ours survives a crash: go on with it
            who = f"{held.reason} by {held.owner}" if held else "another operation"
            raise GitError(f"The repository is busy ({who}). Nothing was changed.")
    return {"lock": name}


def _verify(run: _Run) -> Mapping[str, Any]:
    problem = verify_plan(repo=run.repo, plan=run.rollback)
    if problem is not None:
        raise GitError(
            f"The plan no longer holds: {problem}. Nothing was changed; abort this one and "
            "ask again for a fresh plan."
        )
    return {}


def _snapshot(run: _Run) -> Mapping[str, Any]:
    plan = run.rollback
    # Dated by the plan, so a repeated snapshot of the same work is the same commit.
    snapshot = snapshot_uncommitted(
        repo=run.repo, head_sha=plan.head_sha, taken_at=run.plan.created_at
    )
    return {"snapshot": snapshot, "backup_sha": snapshot or plan.head_sha}


def _backup_branch(run: _Run) -> Mapping[str, Any]:
    plan = run.rollback
    create_backup_branch(repo=run.repo, name=plan.backup_branch, sha=run.facts["backup_sha"])
    return {"backup_branch": plan.backup_branch}


def _push_backup(run: _Run) -> Mapping[str, Any]:
    plan = run.rollback
    push_backup_branch(
        repo=run.repo, remote=plan.remote, name=plan.backup_branch, sha=run.facts["backup_sha"]
    )
    return {"backup_pushed": True}


def _reset(run: _Run) -> Mapping[str, Any]:
    plan = run.rollback
    reset_to_target(
        repo=run.repo,
        branch=plan.branch,
        expected_head=plan.head_sha,
        target_sha=plan.target_sha,
        backup_branch=plan.backup_branch,
    )
    return {"from_sha": plan.head_sha, "to_sha": plan.target_sha}


def _push(run: _Run) -> Mapping[str, Any]:
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


def _clear_caches(run: _Run) -> Mapping[str, Any]:
    config = run.deps.settings.config
    removed = clear_caches(repo_root=config.git.path, paths=config.service.clear_cache)
    return {"caches_removed": list(removed)}


def _validate(run: _Run) -> Mapping[str, Any]:
    report = run_validation(
        run.deps, actor=run.actor, surface=run.surface, restart=True, on_result=run.note_check
    )
    return {
        "healthy": report.ok,
        "failing": [result.name for result in report.checklist.failing],
        "checks": len(report.checklist.results),
    }


def _record(run: _Run) -> Mapping[str, Any]:
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
    store.finish_plan(run.plan.id, attempt=run.attempt, state=PlanState.DONE, result=run.facts)
    store.append_event(
        actor=run.actor,
        surface=run.surface,
        action="rollback_done",
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


def _unlock(run: _Run) -> Mapping[str, Any]:
    run.deps.store.release_lock(repo_lock_name(run.deps), owner=run.lock_owner)
    return {}


ROLLBACK_STEPS: tuple[Step, ...] = (
    Step("lock", "Lock the repository", _lock),
    Step("verify", "Check the plan still holds", _verify),
    Step("snapshot", "Snapshot uncommitted and untracked work", _snapshot),
    Step("backup_branch", "Create the backup branch", _backup_branch),
    Step("push_backup", "Push the backup branch", _push_backup),
    Step("reset", "Reset to the target", _reset),
    Step("push", "Push with lease", _push),
    Step("clear_caches", "Clear caches", _clear_caches),
    Step("validate", "Restart and run the checklist", _validate),
    Step("record", "Record the result", _record),
    Step("unlock", "Unlock the repository", _unlock),
)
STEP_NAMES = tuple(step.name for step in ROLLBACK_STEPS)


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
    steps = ROLLBACK_STEPS
    run = _Run(
        deps=deps,
        plan=plan,
        rollback=rollback_plan_from_body(plan.body),
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
        before = _repo_state(run.repo)
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


def done_steps(deps: Deps, plan_id: int) -> dict[str, dict[str, Any]]:
    """The steps the journal shows finished, with what each produced (from its "after")."""
    finished: dict[str, dict[str, Any]] = {}
    for entry in deps.store.journal(plan_id):
        if entry.status == "done":
            produced = {k: v for k, v in entry.after.items() if k not in ("head", "branch")}
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


def _stop(run: _Run, step: str, message: str) -> None:
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
