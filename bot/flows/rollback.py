"""Asking for a rollback and deciding on it: the policy, the plan, the approval rules.

A request opens an incident, asks the policy what the procedure says to do, and when that is a
rollback, plans one read-only and stores the plan for an orchestrator. An approval is checked in
the order a person would want to hear the answer (who may approve, whether the plan still
holds), and only then does one compare-and-set in the store decide which click carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from actions.errors import InputError, RollbackBotError
from actions.git import open_repo
from actions.policy import DEFAULT_POLICY, Action, Decision, Target, decide, severity_from_text
from actions.rollback_plan import (
    RollbackPlan,
    find_commit_before_email_removal,
    plan_rollback,
    verify_plan,
)
from bot.deps import Deps
from bot.flows.cherry_pick import PickProposal, picks_moved, request_cherry_pick
from bot.flows.plans import (
    CHERRY_PICK,
    ROLLBACK,
    cherry_pick_from_body,
    rollback_plan_body,
    rollback_plan_from_body,
)
from store import Incident, Plan, PlanState

PLAN_TIMEOUT_S = 60.0
EXPLICIT = "explicit"  # the incident "scenario" of `/rollback to <target>`


@dataclass(frozen=True)
class Proposal:
    """An incident and, when the policy calls for a rollback, the plan waiting for approval."""

    incident: Incident
    decision: Decision | None  # None for `/rollback to`: a person chose the target
    plan: RollbackPlan | None
    record: Plan | None
    note: str = ""  # how the target was chosen, when that needs saying


@dataclass(frozen=True)
class Verdict:
    """What became of a click on Approve or Reject."""

    outcome: Literal["approved", "rejected", "refused", "replanned"]
    message: str
    record: Plan | None
    fresh: Proposal | PickProposal | None = None  # the new plan, when the old one moved


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
    deps: Deps,
    *,
    scenario: str,
    severity: str | None,
    trigger: str,
    actor: str,
    channel: str,
    surface: str,
) -> Proposal:
    """`/rollback scenario …`: the policy decides; a rollback decision comes with its plan."""
    rated = severity_from_text(severity) if severity is not None else None
    decision = decide(DEFAULT_POLICY, source="scenario", scenario=scenario, severity=rated)
    incident = deps.store.open_incident(
        scenario=scenario,
        severity=str(decision.severity),
        trigger=trigger,
        requester=actor,
        channel=channel,
        decision=decision_summary(decision),
    )
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action="incident_opened",
        incident_id=incident.id,
        details={"scenario": scenario, "trigger": trigger, **decision_summary(decision)},
    )
    if decision.action is Action.FIX_FORWARD:
        return Proposal(incident, decision, None, None)
    target, note = _scenario_target(deps, decision)
    return _propose(deps, incident, decision, target, actor=actor, channel=channel, note=note)


def request_target(
    deps: Deps, *, target: str, actor: str, channel: str, surface: str, trigger: str = ""
) -> Proposal:
    """`/rollback to <target>`: a person chose the target; the plan says what it means."""
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
        action="incident_opened",
        incident_id=incident.id,
        details={"scenario": EXPLICIT, "target": target},
    )
    return _store_plan(deps, incident, None, plan, actor=actor, channel=channel, note="")


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
    decision = decide(
        DEFAULT_POLICY,
        source="scenario",
        scenario=incident.scenario,
        severity=severity_from_text(incident.severity) if incident.severity else None,
    )
    chosen, note = _scenario_target(deps, decision)
    return _propose(
        deps, incident, decision, chosen, actor=actor, channel=incident.channel, note=note
    )


def _scenario_target(deps: Deps, decision: Decision) -> tuple[str | None, str]:
    """Scenario 3 goes to the commit before the first email removal; the rest to the last
    checkpoint (``None`` lets the plan pick it)."""
    if decision.scenario is None or decision.scenario.target is not Target.BEFORE_EMAIL_REMOVAL:
        return None, ""
    config = deps.settings.config
    found = find_commit_before_email_removal(
        repo=open_repo(config.git.path), branch=config.git.branch
    )
    if found is None:
        return None, "No email-removal commit was found on the branch; the last checkpoint is used."
    parent, removal = found
    return parent, f"Target: the commit before the first email removal ({removal})."


def _plan(deps: Deps, target: str | None) -> RollbackPlan:
    config = deps.settings.config
    return plan_rollback(
        repo=open_repo(config.git.path),
        remote=config.git.remote,
        branch=config.git.branch,
        phase=config.project.phase,
        target=target,
        now=deps.clock(),
        migrations_dir=config.database.migrations_dir,
        timeout_s=PLAN_TIMEOUT_S,
    )


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
    plan = _plan(deps, target)
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
    expiry = timedelta(minutes=deps.settings.config.slack.approval_expiry_min)
    record = deps.store.propose_plan(
        incident_id=incident.id,
        kind=ROLLBACK,
        body=rollback_plan_body(plan),
        fingerprint=plan.fingerprint,
        requested_by=actor,
        expires_at=deps.clock() + expiry,
        channel=channel,
    )
    deps.store.append_event(
        actor=actor,
        surface="bot",
        action="rollback_planned",
        incident_id=incident.id,
        details={
            "plan": record.id,
            "target": plan.target_ref,
            "target_sha": plan.target_sha,
            "head": plan.head_sha,
            "remote_head": plan.remote_head,
            "discarded": plan.discarded_count,
            "dirty": len(plan.dirty_paths),
            "backup_branch": plan.backup_branch,
        },
    )
    refreshed = deps.store.get_incident(incident.id) or incident
    return Proposal(refreshed, decision, plan, record, note)


def needs_confirmation(plan: RollbackPlan) -> tuple[str, ...]:
    """Why this target needs the orchestrator's explicit "approve anyway", if it does."""
    reasons = []
    if not plan.target_is_checkpoint:
        reasons.append(f"{plan.target_ref} is not a checkpoint tag")
    if not plan.target_is_ancestor:
        reasons.append(f"{plan.target_ref} is not an ancestor of HEAD (the branch would jump)")
    return tuple(reasons)


def judge_approval(
    deps: Deps,
    *,
    plan_id: int,
    fingerprint: str,
    actor: str,
    orchestrator: bool,
    surface: str,
    waive: bool = False,
    force: bool = False,
    break_glass: bool = False,
) -> Verdict:
    """Apply the approval rules; on "approved" this caller, and only it, must run the plan.

    ``break_glass`` is the terminal's path for when Slack is down: whoever has a shell on the
    box both asks and approves, so the requester rule cannot apply; everything else does.
    """
    record = _require_plan(deps, plan_id, fingerprint)
    refusal = None
    if not break_glass:
        refusal = _who_may_decide(
            deps, record, actor=actor, orchestrator=orchestrator, verb="approve"
        )
    if refusal is None:
        refusal = _still_open(deps, record)
    plan = rollback_plan_from_body(record.body) if record.kind == ROLLBACK else None
    if refusal is None and plan is not None:
        refusal = _approval_conditions(plan, waive=waive, force=force)
    if refusal is not None:
        _note(deps, record, actor, surface, "approval_refused", refusal)
        return Verdict("refused", refusal, record)
    moved = _moved(deps, record, actor)
    if moved is not None:
        problem, fresh = moved
        _note(deps, record, actor, surface, "approval_refused", f"plan moved: {problem}")
        said = (
            f"Not approved: {problem} since the plan was made, so it no longer describes what "
            "approving would do. Nothing was changed"
        )
        if isinstance(fresh, RollbackBotError):
            return Verdict("refused", f"{said}. No fresh plan either: {fresh.user_message}", record)
        return Verdict("replanned", f"{said}; here is a fresh plan.", record, fresh)
    if not deps.store.approve_plan(
        plan_id, approver=actor, now=deps.clock(), waived=waive, forced=force
    ):
        latest = deps.store.get_plan(plan_id) or record
        message = _still_open(deps, latest) or "Someone else decided on this plan first."
        return Verdict("refused", message, latest)
    approved = "rollback_approved" if record.kind == ROLLBACK else "cherry_pick_approved"
    _note(deps, record, actor, surface, approved, "", waived=waive, forced=force)
    return Verdict("approved", "Approved.", deps.store.get_plan(plan_id) or record)


def _moved(
    deps: Deps, record: Plan, actor: str
) -> tuple[str, Proposal | PickProposal | RollbackBotError] | None:
    """(what moved, a fresh plan for the same request or why there is none), or None while
    the plan holds."""
    if record.kind == CHERRY_PICK:
        picks = cherry_pick_from_body(record.body)
        problem = picks_moved(deps, picks)
        if problem is None:
            return None
        commits = tuple(commit.sha for commit in picks.commits)
        try:
            fresh: Proposal | PickProposal = request_cherry_pick(
                deps, incident_id=record.incident_id, commits=commits, actor=actor, surface="bot"
            )
        except RollbackBotError as error:
            return problem, error
        return problem, fresh
    plan = rollback_plan_from_body(record.body)
    problem = verify_plan(repo=open_repo(deps.settings.config.git.path), plan=plan)
    if problem is None:
        return None
    try:
        return problem, replan(deps, _incident(deps, record), actor=actor)
    except RollbackBotError as error:
        return problem, error


def judge_rejection(
    deps: Deps, *, plan_id: int, fingerprint: str, actor: str, orchestrator: bool, surface: str
) -> Verdict:
    record = _require_plan(deps, plan_id, fingerprint)
    refusal = _who_may_decide(deps, record, actor=actor, orchestrator=orchestrator, verb="reject")
    if refusal is None and not deps.store.reject_plan(plan_id, by=actor, now=deps.clock()):
        refusal = _still_open(deps, deps.store.get_plan(plan_id) or record) or "Already decided."
    if refusal is not None:
        return Verdict("refused", refusal, record)
    _note(deps, record, actor, surface, "rollback_rejected", "")
    return Verdict("rejected", "Rejected.", deps.store.get_plan(plan_id) or record)


def _require_plan(deps: Deps, plan_id: int, fingerprint: str) -> Plan:
    record = deps.store.get_plan(plan_id)
    # The button carries the fingerprint it was drawn with: a forged or stale value is refused.
    if record is None or not fingerprint or not record.fingerprint.startswith(fingerprint):
        raise InputError("That button does not match a rollback plan; nothing was changed.")
    return record


def _who_may_decide(
    deps: Deps, record: Plan, *, actor: str, orchestrator: bool, verb: str
) -> str | None:
    if not orchestrator:
        return f"Only an orchestrator can {verb} this rollback. Nothing was changed."
    slack = deps.settings.config.slack
    if verb == "approve" and actor == record.requested_by and not slack.requester_can_approve:
        return (
            "You asked for this rollback, so another orchestrator must approve it "
            "(slack.requester_can_approve is off). Nothing was changed."
        )
    return None


def _still_open(deps: Deps, record: Plan) -> str | None:
    """Why this plan can no longer be decided on, or None while it can."""
    if record.state is PlanState.PROPOSED:
        if record.expires_at <= deps.clock():
            return (
                f"This plan expired at {record.expires_at:%H:%M} UTC; the repository may have "
                "changed since. Nothing was changed; ask again for a fresh plan."
            )
        return None
    who = f" by <@{record.approved_by}>" if record.approved_by else ""
    return {
        PlanState.RUNNING: f"Already approved{who}; the rollback is under way.",
        PlanState.STOPPED: f"Already approved{who}; it stopped and waits for Resume or Abort.",
        PlanState.DONE: f"Already approved{who} and carried out.",
        PlanState.REJECTED: f"Already rejected{who}.",
        PlanState.SUPERSEDED: "This plan was replaced by a newer one; use the newest card.",
        PlanState.ABORTED: f"This rollback was aborted{who}.",
    }[record.state]


def _approval_conditions(plan: RollbackPlan, *, waive: bool, force: bool) -> str | None:
    reasons = needs_confirmation(plan)
    if reasons and not force:
        return (
            f"This target needs an explicit confirmation: {'; '.join(reasons)}. Use "
            "“Approve anyway” on the card. Nothing was changed."
        )
    if plan.migrations_crossed and not waive:
        return (
            f"The rollback crosses {len(plan.migrations_crossed)} schema migration(s) and "
            "the plan has no database step. Waive it on the card only if the database does "
            "not need rolling back. Nothing was changed."
        )
    return None


def _incident(deps: Deps, record: Plan) -> Incident:
    incident = deps.store.get_incident(record.incident_id)
    if incident is None:
        raise InputError(f"Incident #{record.incident_id} does not exist.")
    return incident


def _note(
    deps: Deps,
    record: Plan,
    actor: str,
    surface: str,
    action: str,
    reason: str,
    **extra: object,
) -> None:
    details: dict[str, object] = {"plan": record.id, **extra}
    if reason:
        details["reason"] = reason
    deps.store.append_event(
        actor=actor, surface=surface, action=action, incident_id=record.incident_id, details=details
    )
