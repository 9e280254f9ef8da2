"""What every kind of plan's steps share: the run's context, the step record, and the lock.

A plan's steps are tables of :class:`Step` (the rollback's and the cherry-pick's in
:mod:`bot.flows.run_steps`, the removal's in :mod:`bot.flows.removal_steps`); all of them
start by taking the repository lock for the plan and end by giving it back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import git

from actions.checks.result import CheckResult
from actions.cherry_pick import CherryPickPlan
from actions.errors import GitError
from actions.removal import RemovalPlan
from actions.rollback_plan import RollbackPlan
from bot.deps import Deps
from bot.flows.checkpoint import busy_with, repo_lock_name
from store import Plan, Surface

PlanBody = RollbackPlan | CherryPickPlan | RemovalPlan


@dataclass
class RunContext:
    deps: Deps
    plan: Plan
    body: PlanBody
    repo: git.Repo
    attempt: int
    actor: str
    surface: Surface
    facts: dict[str, Any] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    on_check: Callable[[], object] = lambda: None

    def note_check(self, result: CheckResult) -> None:
        self.checks.append(result)
        self.on_check()

    @property
    def lock_owner(self) -> str:
        return lock_owner(self.plan.id)

    @property
    def rollback(self) -> RollbackPlan:
        assert isinstance(self.body, RollbackPlan), "a rollback step ran on another kind of plan"
        return self.body

    @property
    def picks(self) -> CherryPickPlan:
        assert isinstance(self.body, CherryPickPlan), "a cherry-pick step ran on another plan"
        return self.body

    @property
    def removal(self) -> RemovalPlan:
        assert isinstance(self.body, RemovalPlan), "a removal step ran on another kind of plan"
        return self.body


StepFn = Callable[[RunContext], Mapping[str, Any]]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: StepFn


_LOCK_OWNER = "rollback:"


def lock_owner(plan_id: int) -> str:
    return f"{_LOCK_OWNER}{plan_id}"


def plan_of_lock_owner(owner: str) -> int | None:
    """The plan a repository lock was taken for, or None for a lock of something else."""
    number = owner.removeprefix(_LOCK_OWNER)
    return int(number) if owner.startswith(_LOCK_OWNER) and number.isdigit() else None


def _held_for(run: RunContext) -> str:
    incident, body = run.plan.incident_id, run.body
    if isinstance(body, RollbackPlan):
        return f"rollback #{incident} to {body.target_ref}"
    if isinstance(body, RemovalPlan):
        return f"removal of {len(body.paths)} file(s), #{incident}"
    return f"cherry-pick of {len(body.commits)} commit(s) for #{incident}"


def _lock(run: RunContext) -> Mapping[str, Any]:
    deps, name = run.deps, repo_lock_name(run.deps)
    if not deps.store.acquire_lock(name, owner=run.lock_owner, reason=_held_for(run)):
        held = deps.store.get_lock(name)
        if held is None or held.owner != run.lock_owner:  # ours survives a crash: go on with it
            raise GitError(
                f"The repository is busy ({busy_with(deps, name)}). Nothing was changed."
            )
    return {"lock": name}


def _unlock(run: RunContext) -> Mapping[str, Any]:
    run.deps.store.release_lock(repo_lock_name(run.deps), owner=run.lock_owner)
    return {}


LOCK = Step("lock", "Lock the repository", _lock)
UNLOCK = Step("unlock", "Unlock the repository", _unlock)
