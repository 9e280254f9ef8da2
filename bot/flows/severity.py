"""`/severity <level> [incident] [reason]`: re-rate an incident and apply the policy again.

A rise to 4 or 5 turns a fix window into an immediate rollback proposal; a fall cancels the
pages and the timers that no longer apply. The requester and the orchestrators may re-rate;
only an orchestrator lowers a rating an orchestrator set. The rating is one compare-and-set, so
of two people re-rating at once the second hears that the incident changed under them.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.errors import InputError, RollbackBotError
from actions.policy import Action, Decision, severity_from_text
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.escalation import stop_paging
from bot.flows.rollback import (
    Proposal,
    decision_for,
    decision_summary,
    open_window,
    propose_for_scenario,
)
from bot.flows.windows import cancel_window
from store import Incident, IncidentState, TimelineAction

#: States in which the policy still decides what happens next.
UNDECIDED = (
    IncidentState.OPEN,
    IncidentState.FIXING,
    IncidentState.AWAITING_APPROVAL,
    IncidentState.ABORTED,
)


@dataclass(frozen=True)
class Rerated:
    """A new rating and what it changed."""

    incident: Incident
    old: str | None
    new: int
    picked: bool  # the incident was not named: the newest open one in the channel was taken
    effect: str  # what the new rating did, in a sentence
    proposal: Proposal | None = None  # the card to show: a new plan, a window, fix forward


def rerate(deps: Deps, request: grammar.SeveritySet, asker: Asker) -> Rerated:
    severity = severity_from_text(request.severity)
    incident, picked = _incident_for(deps, request.incident, asker)
    if incident.source == "blocker" and incident.severity is None:
        raise InputError(
            f"Incident #{incident.id} is a blocker waiting for its rating: an orchestrator "
            "rates it with the buttons sent to them. Nothing was changed."
        )
    _may_rerate(deps, incident, severity, asker)
    decision = decision_for(deps, incident, severity=severity)
    state = _next_state(incident, decision)
    summary = {**decision_summary(decision), "rated_as": asker.role}
    if state not in UNDECIDED:  # under way or done: the rating is history, not a decision
        summary = {**incident.decision, "severity": severity, "level": decision.level}
    if not deps.store.rate_incident(
        incident.id,
        seen=incident,
        severity=str(severity),
        rated_by=asker.actor,
        decision=summary,
        state=state,
    ):
        raise InputError(f"Incident #{incident.id} changed meanwhile; nothing was done.")
    _record(deps, incident, severity, asker, request.reason)
    rated = deps.store.get_incident(incident.id) or incident
    effect, proposal = _apply(deps, incident, rated, decision, asker)
    return Rerated(rated, incident.severity, severity, picked, effect, proposal)


def _incident_for(deps: Deps, number: int | None, asker: Asker) -> tuple[Incident, bool]:
    if number is None:
        here = [
            incident
            for incident in deps.store.list_incidents()
            if asker.channel is None or incident.channel == asker.channel
        ]
        if not here:
            raise InputError(
                "There is no open incident in this channel. Name one, as in `/severity 4 12`."
            )
        return here[-1], True
    incident = deps.store.get_incident(number)
    if incident is None:
        raise InputError(f"There is no incident #{number}.")
    if not incident.state.is_open:
        raise InputError(f"Incident #{number} is closed ({_said(incident.state)}).")
    if asker.channel is not None and incident.channel != asker.channel:
        raise InputError(f"Incident #{number} is in <#{incident.channel}>; re-rate it there.")
    return incident, False


def _may_rerate(deps: Deps, incident: Incident, severity: int, asker: Asker) -> None:
    orchestrator = asker.orchestrator()
    if not orchestrator and asker.actor != incident.requester:
        _refuse(deps, incident, asker, "only its requester or an orchestrator may re-rate it")
    current = int(incident.severity) if incident.severity else None
    set_by_orchestrator = incident.decision.get("rated_as") == "orchestrator"
    if current is not None and severity < current and set_by_orchestrator and not orchestrator:
        _refuse(
            deps,
            incident,
            asker,
            f"an orchestrator rated it {current}, so only an orchestrator may lower it",
        )


def _refuse(deps: Deps, incident: Incident, asker: Asker, why: str) -> None:
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.SEVERITY_REFUSED,
        incident_id=incident.id,
        details={"why": why},
    )
    raise InputError(f"Incident #{incident.id}: {why}. Nothing was changed.")


def _next_state(incident: Incident, decision: Decision) -> IncidentState:
    if incident.state not in UNDECIDED:
        return incident.state
    if decision.action is Action.FIX_FORWARD:
        return IncidentState.OPEN
    if decision.action is Action.FIX_WINDOW_THEN_ROLLBACK:
        return IncidentState.FIXING
    # Rolls back now: the plan proposed next moves the incident to awaiting approval.
    return incident.state


def _record(deps: Deps, incident: Incident, severity: int, asker: Asker, reason: str) -> None:
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.SEVERITY_CHANGED,
        incident_id=incident.id,
        details={"from": incident.severity, "to": str(severity), "reason": reason},
    )


def _apply(
    deps: Deps, before: Incident, rated: Incident, decision: Decision, asker: Asker
) -> tuple[str, Proposal | None]:
    """Move the timers, pages and plans to what the new rating calls for."""
    if before.state not in UNDECIDED:
        return f"Recorded; the rollback is already {_said(before.state)}.", None
    if decision.action is Action.FIX_FORWARD:
        cancel_window(deps, rated.id)
        deps.store.withdraw_plans(rated.id)
        stop_paging(deps, rated.id, actor=asker.actor, why="re-rated: fix forward")
        return "The procedure says fix forward now: pages and the fix window stop.", Proposal(
            rated, decision, None, None
        )
    if decision.action is Action.FIX_WINDOW_THEN_ROLLBACK:
        stop_paging(deps, rated.id, actor=asker.actor, why="re-rated: fix window")
        withdrawn = deps.store.withdraw_plans(rated.id)
        if before.state is IncidentState.FIXING:
            return "The fix window keeps running.", Proposal(rated, decision, None, None)
        proposal = open_window(deps, rated, decision, actor=asker.actor)
        undone = " The rollback plan is withdrawn." if withdrawn else ""
        return f"A fix window of {decision.fix_window_min:g} min starts.{undone}", proposal
    cancel_window(deps, rated.id)
    live = [plan for plan in deps.store.plans_of(rated.id) if plan.state.value == "proposed"]
    if live:
        return "The rollback plan already waits for approval.", None
    try:
        proposal = propose_for_scenario(deps, rated, decision, actor=rated.requester)
    except RollbackBotError as error:
        # Nobody may be left believing a rollback is coming: the incident waits for a person.
        deps.store.transition_incident(rated.id, expected=UNDECIDED, new=IncidentState.OPEN)
        return f"A rollback is due, but no plan could be made: {error.user_message}", None
    return "A rollback is proposed now, without waiting for a fix.", proposal


def _said(state: IncidentState) -> str:
    return state.value.replace("_", " ")
