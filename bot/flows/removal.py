"""`/rollback remove <path>...`: the high-risk removal, one file at a time, a test after each.

Asking plans it and nothing more; the plan is refused, with the reason, while the phase is
frozen, while another operation holds the repository, without a recent passing drill of the
matching scenario (email for email files, critical for the rest), and for any path that
cannot be removed (see :mod:`actions.removal_paths`). The plan goes on a card for an
orchestrator to approve, under an incident of its own (source "removal"), and is carried out
by the journaled runner with the steps of :mod:`bot.flows.removal_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.errors import GitError, InputError
from actions.git import open_repo
from actions.removal import RemovalPlan, plan_removal
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.checkpoint import busy_with, repo_lock_name
from bot.flows.drill import Confidence, confidence_table
from bot.flows.plans import store_plan
from bot.flows.retry import refuse_if_frozen
from store import REMOVAL_SOURCE, Incident, Plan, Surface

PLAN_TIMEOUT_S = 60.0
#: The incident "scenario" a removal is recorded under.
REMOVAL = "removal"
EMAIL_DRILL, OTHER_DRILL = "email", "critical"


@dataclass(frozen=True)
class RemovalProposal:
    incident: Incident
    plan: RemovalPlan
    record: Plan


def request_removal(deps: Deps, request: grammar.Remove, asker: Asker) -> RemovalProposal:
    refuse_if_frozen(deps, what="the high-risk removal", actor=asker.actor, surface=asker.surface)
    lock = repo_lock_name(deps)
    if deps.store.get_lock(lock) is not None:
        raise GitError(
            f"The repository is busy ({busy_with(deps, lock)}). Nothing was removed; ask again "
            "when it is done."
        )
    plan = plan_files(deps, request.paths)
    refuse_without_drill(deps, plan)
    incident = deps.store.open_incident(
        scenario=REMOVAL,
        severity=None,
        trigger=_trigger(plan),
        requester=asker.actor,
        channel=deps.settings.config.slack.channel,
        source=REMOVAL_SOURCE,
    )
    return store_removal(deps, incident, plan, actor=asker.actor, surface=asker.surface)


def plan_files(deps: Deps, paths: tuple[str, ...]) -> RemovalPlan:
    config = deps.settings.config
    return plan_removal(
        repo=open_repo(config.git.path),
        remote=config.git.remote,
        branch=config.git.branch,
        phase=config.project.phase,
        asked=paths,
        now=deps.clock(),
        timeout_s=PLAN_TIMEOUT_S,
    )


def store_removal(
    deps: Deps, incident: Incident, plan: RemovalPlan, *, actor: str, surface: Surface
) -> RemovalProposal:
    record = store_plan(
        deps, incident, plan, actor=actor, surface=surface, channel=incident.channel
    )
    return RemovalProposal(incident, plan, record)


def drills_needed(plan: RemovalPlan) -> tuple[str, ...]:
    """The scenarios whose drill must be fresh: email for email files, critical for others."""
    needed = []
    if plan.email_paths:
        needed.append(EMAIL_DRILL)
    if len(plan.email_paths) < len(plan.paths):
        needed.append(OTHER_DRILL)
    return tuple(needed)


def refuse_without_drill(deps: Deps, plan: RemovalPlan) -> None:
    """InputError unless each needed scenario has a passing drill younger than
    ``drills.fresh_for_days``: the procedure's "practice before high-risk work"."""
    table = {row.scenario: row for row in confidence_table(deps)}
    missing = [table[name] for name in drills_needed(plan) if table[name].level != "HIGH"]
    if not missing:
        return
    days = deps.settings.config.drills.fresh_for_days
    said = "; ".join(_drill_state(row) for row in missing)
    commands = " and ".join(f"`/rollback drill {row.scenario}`" for row in missing)
    raise InputError(
        f"The high-risk removal needs a passing drill younger than {days:g} day(s) first ({said}). "
        f"Run {commands}, then ask again. Nothing was removed."
    )


def _drill_state(row: Confidence) -> str:
    if row.drill is None:
        return f"{row.scenario} was never drilled"
    outcome = "passed" if row.drill.ok else "failed"
    return f"{row.scenario}'s last drill {outcome} on {row.drill.finished_at:%Y-%m-%d %H:%M} UTC"


def _trigger(plan: RemovalPlan) -> str:
    shown = ", ".join(plan.paths[:5])
    more = f" and {len(plan.paths) - 5} more" if len(plan.paths) > 5 else ""
    return f"remove {len(plan.paths)} file(s): {shown}{more}"


def removal_moved(plan: RemovalPlan, again: RemovalPlan) -> str | None:
    """What moved between two plans of the same request, or None when they are the same."""
    if again.fingerprint == plan.fingerprint:
        return None
    if again.head_sha != plan.head_sha:
        return f"HEAD moved from {plan.head_sha[:10]} to {again.head_sha[:10]}"
    if again.remote_head != plan.remote_head:
        return f"{plan.remote} moved from {(plan.remote_head or 'nothing')[:10]}"
    return "the files those paths name changed"
