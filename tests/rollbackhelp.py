"""What the rollback tests share: a plan with fixed names, and the steps before the lease push."""

from __future__ import annotations

from datetime import UTC, datetime

from git import Repo

from actions.rollback_plan import RollbackPlan, plan_rollback
from actions.rollback_steps import (
    create_backup_branch,
    push_backup_branch,
    push_with_lease,
    reset_to_target,
    snapshot_uncommitted,
)
from tests.gitrepo import BRANCH, PhaseRepo

NOW = datetime(2025, 11, 21, 14, 30, 0, tzinfo=UTC)
BACKUP = "phase2-broken-20251121-143000"


def plan(
    repo: PhaseRepo, target: str | None = None, *, remote: str = "origin", branch: str = BRANCH
) -> RollbackPlan:
    return plan_rollback(
        repo=Repo(repo.work),
        remote=remote,
        branch=branch,
        phase="phase2",
        target=target,
        now=NOW,
        timeout_s=30.0,
    )


def reset_as_planned(work: Repo, planned: RollbackPlan) -> None:
    """reset_to_target with exactly what the plan expects."""
    reset_to_target(
        repo=work,
        branch=BRANCH,
        expected_head=planned.head_sha,
        target_sha=planned.target_sha,
        backup_branch=planned.backup_branch,
    )


def backup_and_reset(repo: PhaseRepo, planned: RollbackPlan) -> str:
    """Snapshot, backup branch here and on origin, reset: every step before the lease push."""
    work = Repo(repo.work)
    tip = snapshot_uncommitted(repo=work, head_sha=planned.head_sha) or planned.head_sha
    create_backup_branch(repo=work, name=planned.backup_branch, sha=tip)
    push_backup_branch(repo=work, remote="origin", name=planned.backup_branch, sha=tip)
    reset_as_planned(work, planned)
    return tip


def lease(repo: PhaseRepo, planned: RollbackPlan) -> str:
    return push_with_lease(
        repo=Repo(repo.work),
        remote="origin",
        branch=BRANCH,
        target_sha=planned.target_sha,
        expected_remote_sha=planned.remote_head,
        backup_branch=planned.backup_branch,
    )
