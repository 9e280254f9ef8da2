"""`/rollback cherry-pick <incident> <sha>...`: good commits back from a rollback's backup branch.

The procedure's step 8. It is planned read-only, approved like a rollback (orchestrators, not
the requester, expiring, bound to the plan) and carried out by the same journaled runner under
the same repository lock, with the push leased on the remote head the plan saw.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.cherry_pick import CherryPickPlan, plan_cherry_pick
from actions.errors import InputError
from actions.git import open_repo
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.plans import store_plan
from store import Incident, Plan, Surface

PLAN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PickProposal:
    incident: Incident
    plan: CherryPickPlan
    record: Plan


def request_cherry_pick(deps: Deps, request: grammar.CherryPick, asker: Asker) -> PickProposal:
    incident_id, commits = request.incident, request.commits
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        raise InputError(f"There is no incident #{incident_id}.")
    if not incident.backup_branch:
        raise InputError(
            f"Incident #{incident_id} has no backup branch to pick from: it was not rolled "
            "back. Nothing was changed."
        )
    plan = plan_picks(deps, backup_branch=incident.backup_branch, commits=commits)
    return store_picks(deps, incident, plan, actor=asker.actor, surface=asker.surface)


def store_picks(
    deps: Deps, incident: Incident, plan: CherryPickPlan, *, actor: str, surface: Surface
) -> PickProposal:
    """Keep a planned cherry-pick for an orchestrator's approval (replacing an older one)."""
    record = store_plan(
        deps, incident, plan, actor=actor, surface=surface, channel=incident.channel
    )
    return PickProposal(incident, plan, record)


def plan_picks(deps: Deps, *, backup_branch: str, commits: tuple[str, ...]) -> CherryPickPlan:
    config = deps.settings.config
    return plan_cherry_pick(
        repo=open_repo(config.git.path),
        remote=config.git.remote,
        branch=config.git.branch,
        backup_branch=backup_branch,
        commits=commits,
        timeout_s=PLAN_TIMEOUT_S,
    )


def picks_moved(plan: CherryPickPlan, again: CherryPickPlan) -> str | None:
    """What moved between two plans of the same picks, or None when they are the same."""
    if again.fingerprint == plan.fingerprint:
        return None
    if again.head_sha != plan.head_sha:
        return f"HEAD moved from {plan.head_sha[:10]} to {again.head_sha[:10]}"
    if again.remote_head != plan.remote_head:
        return f"{plan.remote} moved from {(plan.remote_head or 'nothing')[:10]}"
    return f"backup branch {plan.backup_branch} moved"
