"""Asking for a rollback: the incident, the policy's decision and the plan.

A request opens an incident, asks the policy what the procedure says to do, and when that is a
rollback, plans one read-only and stores the plan for an orchestrator to decide on (see
:mod:`bot.flows.approval`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from actions.errors import InputError
from actions.git import open_repo
from actions.policy import Action, Decision, Target, decide, severity_from_text
from actions.rollback_email import email_evidence
from actions.rollback_plan import (
    RollbackPlan,
    find_commit_before_email_removal,
    plan_rollback,
)
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.checkpoint import checkpoint_list
from bot.flows.database import with_database_step
from bot.flows.join import JoinOrNew, ask_join_or_new, open_problem
from bot.flows.performance import diagnose
from bot.flows.plans import rollback_plan_from_body, store_plan
from bot.flows.windows import start_window
from store import CheckpointRecord, Incident, IncidentState, Plan, Surface, TimelineAction

PLAN_TIMEOUT_S = 60.0
EXPLICIT = "explicit"  # the incident "scenario" of `/rollback to <target>`
PERFORMANCE = "performance"  # Scenario 4: diagnosed when it opens


@dataclass(frozen=True)
class Proposal:
    """An incident and, when the policy calls for a rollback, the plan waiting for approval."""

    incident: Incident
    decision: Decision | None  # None for `/rollback to`: a person chose the target
    plan: RollbackPlan | None
    record: Plan | None
    note: str = ""  # how the target was chosen, when that needs saying
    #: What the store knows of the target, when it is a checkpoint the bot made (was it forced?).
    target_checkpoint: CheckpointRecord | None = None
    #: When the quick fix must be done by, while the incident is in its fix window.
    window_ends_at: datetime | None = None
    #: Scenario 4's figures (slow endpoints, queries, log lines), when it is that scenario.
    diagnostics: tuple[str, ...] = ()


def decision_summary(decision: Decision | None) -> dict[str, object]:
    if decision is None:
        return {}
    return {
        "rule": decision.rule.id,
        "rule_text": decision.rule.text,
        "action": decision.action.value,
        "severity": decision.severity,
        "level": decision.level,
        "fix_window_min": decision.fix_window_min,
    }


def request_scenario(
    deps: Deps, request: grammar.Scenario, asker: Asker, *, join_check: bool = True
) -> Proposal | JoinOrNew:
    """`/rollback scenario …`: the policy decides; a rollback decision comes with its plan.

    The incident lives in the incident channel (``slack.channel``), wherever it was asked.
    While another incident is open, the reporter is first asked whether this is the same
    problem (``join_check``; off once they said it is a new one).
    """
    existing = open_problem(deps) if join_check else None
    if existing is not None:
        return ask_join_or_new(deps, request, existing, reporter=asker.actor)
    scenario, severity, trigger = request.scenario, request.severity, request.trigger
    actor, surface = asker.actor, asker.surface
    channel = deps.settings.config.slack.channel
    rated = severity_from_text(severity) if severity is not None else None
    decision = decide(
        deps.settings.config.policy, source="scenario", scenario=scenario, severity=rated
    )
    plan, note = None, ""
    if decision.action is not Action.FIX_FORWARD:
        # Planned first: a plan that cannot be made (nothing to roll back to, the remote gone)
        # is refused before any incident exists, so a retry leaves no ghost incidents behind.
        # A fix window's plan is only this check: the window's end makes a fresh one.
        target, note = _scenario_target(deps, decision)
        plan = _with_evidence(deps, _plan(deps, target), note)
    windowed = decision.action is Action.FIX_WINDOW_THEN_ROLLBACK
    incident = deps.store.open_incident(
        scenario=scenario,
        severity=str(decision.severity),
        trigger=trigger,
        requester=actor,
        channel=channel,
        decision={**decision_summary(decision), "rated_as": asker.role},
        state=IncidentState.FIXING if windowed else IncidentState.OPEN,
    )
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.INCIDENT_OPENED,
        incident_id=incident.id,
        details={"scenario": scenario, "trigger": trigger, **decision_summary(decision)},
    )
    found = diagnose(deps, incident.id, asker) if scenario == PERFORMANCE else ()
    if windowed:
        return replace(open_window(deps, incident, decision, actor=actor), diagnostics=found)
    if plan is None:
        return Proposal(incident, decision, None, None, diagnostics=found)
    made = _store_plan(deps, incident, decision, plan, actor=actor, channel=channel, note=note)
    return replace(made, diagnostics=found)


def open_window(deps: Deps, incident: Incident, decision: Decision, *, actor: str) -> Proposal:
    """The quick fix's window starts now; when it ends unresolved, a rollback is proposed."""
    assert decision.fix_window_min is not None, "a fix-window decision has its minutes"
    ends = start_window(deps, incident, decision.fix_window_min, actor=actor)
    return Proposal(incident, decision, None, None, window_ends_at=ends)


def propose_for_scenario(
    deps: Deps, incident: Incident, decision: Decision, *, actor: str
) -> Proposal:
    """A fresh plan for an open incident whose rollback is due now (its window ended, or its
    rating rose): the policy picks the target, as when the incident was opened."""
    chosen, note = _scenario_target(deps, decision)
    return _propose(
        deps, incident, decision, chosen, actor=actor, channel=incident.channel, note=note
    )


def request_target(
    deps: Deps, request: grammar.RollbackTo, asker: Asker, *, trigger: str = ""
) -> Proposal:
    """`/rollback to <target>`: a person chose the target; the plan says what it means."""
    target = checkpoint_tag_for(deps.settings.config.project.phase, request.target)
    actor, surface = asker.actor, asker.surface
    channel = deps.settings.config.slack.channel
    plan = _plan(deps, target)  # refused before any incident exists when the target is bad
    incident = deps.store.open_incident(
        scenario=EXPLICIT,
        severity=None,
        trigger=trigger or f"rollback to {target} requested",
        requester=actor,
        channel=channel,
    )
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.INCIDENT_OPENED,
        incident_id=incident.id,
        details={"scenario": EXPLICIT, "target": target},
    )
    return _store_plan(deps, incident, None, plan, actor=actor, channel=channel, note="")


_LABEL_RE = re.compile(r"^(?:T\+)?([1-9][0-9]{0,3})h$", re.IGNORECASE)


def checkpoint_tag_for(phase: str, target: str) -> str:
    """``T+8h`` (or ``8h``) means the phase's checkpoint tag, as ``/checkpoint`` speaks of it;
    anything else is the target as given."""
    match = _LABEL_RE.match(target)
    return f"{phase}-checkpoint-T+{match.group(1)}h" if match else target


def replan(deps: Deps, incident: Incident, *, actor: str) -> Proposal:
    """A fresh plan for the same request, when HEAD or the remote moved since the last one.

    A scenario's target is chosen again by the policy (a new checkpoint may exist); an explicit
    target stays the one the person asked for.
    """
    if incident.scenario == EXPLICIT:
        previous = deps.store.plans_of(incident.id)
        if not previous:
            raise InputError(f"Incident #{incident.id} has no plan to renew.")
        target = rollback_plan_from_body(previous[-1].body).target_ref
        return _propose(
            deps, incident, None, target, actor=actor, channel=incident.channel, note=""
        )
    return propose_for_scenario(deps, incident, decision_for(deps, incident), actor=actor)


def decision_for(deps: Deps, incident: Incident, *, severity: int | None = None) -> Decision:
    """What the policy says for this incident now, at its rating or at ``severity``."""
    rated = severity_from_text(incident.severity) if incident.severity else None
    blocker = incident.source == "blocker"
    return decide(
        deps.settings.config.policy,
        source="blocker" if blocker else "scenario",
        scenario=None if blocker else incident.scenario,
        severity=rated if severity is None else severity,
    )


def _scenario_target(deps: Deps, decision: Decision) -> tuple[str | None, str]:
    """Scenario 3 goes to the commit before the first email removal; the rest to the last
    checkpoint (``None`` lets the plan pick it)."""
    if decision.scenario is not None and decision.scenario.target is Target.LAST_GREEN_CHECKPOINT:
        return _last_green_checkpoint(deps)
    if decision.scenario is None or decision.scenario.target is not Target.BEFORE_EMAIL_REMOVAL:
        return None, ""
    config = deps.settings.config
    found = find_commit_before_email_removal(
        repo=open_repo(config.git.path), branch=config.git.branch
    )
    if found is None:
        return None, "No email-removal commit was found on the branch; the last checkpoint is used."
    parent, removal = found
    return parent, f"{_EMAIL_REASON} ({removal[:7]}{removal[40:]})"


_EMAIL_REASON = "the commit before the first email removal"


def _last_green_checkpoint(deps: Deps) -> tuple[str | None, str]:
    """The newest checkpoint the store knows passed its checklist (not forced past it)."""
    listing = checkpoint_list(deps)
    for info in listing.infos:  # newest first
        record = listing.records.get(info.tag)
        if record is not None and record.healthy and not record.forced:
            return info.tag, f"Target: {info.tag}, the newest checkpoint whose checklist passed."
    return None, (
        "No checkpoint is known to have passed its checklist (the bot made none of them); "
        "the last checkpoint is used."
    )


def _with_evidence(deps: Deps, plan: RollbackPlan, note: str) -> RollbackPlan:
    """The procedure chose this target: the plan says why, with the commits and files that
    show it, and needs no "approve anyway" for not being a checkpoint tag."""
    if not note.startswith(_EMAIL_REASON):
        return plan
    evidence = email_evidence(
        repo=open_repo(deps.settings.config.git.path),
        target_sha=plan.target_sha,
        head_sha=plan.head_sha,
    )
    return replace(
        plan,
        target_reason=note,
        email_matches=evidence.matched,
        email_files_removed=evidence.removed,
    )


def _plan(deps: Deps, target: str | None) -> RollbackPlan:
    config = deps.settings.config
    plan = plan_rollback(
        repo=open_repo(config.git.path),
        remote=config.git.remote,
        branch=config.git.branch,
        phase=config.project.phase,
        target=target,
        now=deps.clock(),
        migrations_dir=config.database.migrations_dir,
        timeout_s=PLAN_TIMEOUT_S,
    )
    return with_database_step(deps, plan)


def _propose(
    deps: Deps,
    incident: Incident,
    decision: Decision | None,
    target: str | None,
    *,
    actor: str,
    channel: str,
    note: str,
) -> Proposal:
    plan = _with_evidence(deps, _plan(deps, target), note)
    return _store_plan(deps, incident, decision, plan, actor=actor, channel=channel, note=note)


def _store_plan(
    deps: Deps,
    incident: Incident,
    decision: Decision | None,
    plan: RollbackPlan,
    *,
    actor: str,
    channel: str,
    note: str,
) -> Proposal:
    record = store_plan(deps, incident, plan, actor=actor, surface=Surface.BOT, channel=channel)
    refreshed = deps.store.get_incident(incident.id) or incident
    made = deps.store.checkpoint_records([plan.target_ref]).get(plan.target_ref)
    return Proposal(refreshed, decision, plan, record, note, made)


def needs_confirmation(plan: RollbackPlan) -> tuple[str, ...]:
    """Why this target needs the orchestrator's explicit "approve anyway", if it does."""
    reasons = []
    if not plan.target_is_checkpoint and not plan.target_reason:
        reasons.append(f"{plan.target_ref} is not a checkpoint tag")
    if not plan.target_is_ancestor:
        reasons.append(f"{plan.target_ref} is not an ancestor of HEAD (the branch would jump)")
    return tuple(reasons)
