"""`/rollback blocker <text>`: the escalation path, with the orchestrator's rating as buttons.

A blocker opens an incident that waits for its rating. The orchestrator's rating applies the
blocker rules of the policy: critical proposes a rollback at once, high gives a fix window and
then proposes it, medium and low continue with the fix and leave the incident open for the
lessons learned. The rating is a compare-and-set, so two orchestrators rating at once rate once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from actions.errors import InputError, RollbackBotError
from actions.policy import Action, decide
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.escalation import stop_paging
from bot.flows.rollback import Proposal, decision_summary, open_window, propose_for_scenario
from store import Incident, IncidentState, Surface, TimelineAction

BLOCKER = "blocker"  # the incident "scenario" of a blocker: the rating decides, not a scenario
#: The four rating buttons and the severity each stands for.
RATINGS = MappingProxyType({"critical": 5, "high": 4, "medium": 3, "low": 1})


def report_blocker(deps: Deps, request: grammar.Blocker, asker: Asker) -> Proposal:
    incident = deps.store.open_incident(
        scenario=BLOCKER,
        severity=None,
        trigger=request.text,
        requester=asker.actor,
        channel=deps.settings.config.slack.channel,
        source=BLOCKER,
        state=IncidentState.AWAITING_RATING,
    )
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.INCIDENT_OPENED,
        incident_id=incident.id,
        details={"scenario": BLOCKER, "trigger": request.text},
    )
    return Proposal(incident, None, None, None)


@dataclass(frozen=True)
class Rated:
    incident: Incident
    rating: str
    effect: str
    proposal: Proposal


def rate_blocker(deps: Deps, incident_id: int, *, rating: str, actor: str) -> Rated:
    """An orchestrator's rating (the buttons check who clicked), applied by the blocker rules."""
    if rating not in RATINGS:
        raise InputError("That rating button is not one of critical, high, medium or low.")
    incident = deps.store.get_incident(incident_id)
    if incident is None or incident.source != BLOCKER:
        raise InputError(f"There is no blocker #{incident_id}.")
    if incident.state is not IncidentState.AWAITING_RATING:
        raise InputError(_already(incident))
    severity = RATINGS[rating]
    decision = decide(
        deps.settings.config.policy, source="blocker", scenario=None, severity=severity
    )
    state = {
        Action.FIX_FORWARD: IncidentState.OPEN,
        Action.FIX_WINDOW_THEN_ROLLBACK: IncidentState.FIXING,
    }.get(decision.action, IncidentState.AWAITING_RATING)  # a rollback's plan moves it on
    summary = {**decision_summary(decision), "rated_as": "orchestrator"}
    if not deps.store.rate_incident(
        incident.id,
        seen=incident,
        severity=str(severity),
        rated_by=actor,
        decision=summary,
        state=state,
    ):
        latest = deps.store.get_incident(incident.id) or incident
        raise InputError(_already(latest))
    stop_paging(deps, incident.id, actor=actor, why=f"rated {rating}")
    deps.store.append_event(
        actor=actor,
        surface=Surface.SLACK,
        action=TimelineAction.BLOCKER_RATED,
        incident_id=incident.id,
        details={"rating": rating, "severity": severity, "rule": decision.rule.id},
    )
    rated = deps.store.get_incident(incident.id) or incident
    if decision.action is Action.FIX_FORWARD:
        effect = "Continue with the fix; the incident stays open for the lessons learned."
        return Rated(rated, rating, effect, Proposal(rated, decision, None, None))
    if decision.action is Action.FIX_WINDOW_THEN_ROLLBACK:
        proposal = open_window(deps, rated, decision, actor=actor)
        effect = f"A fix window of {decision.fix_window_min:g} min starts, then the rollback."
        return Rated(rated, rating, effect, proposal)
    try:
        proposal = propose_for_scenario(deps, rated, decision, actor=rated.requester)
    except RollbackBotError as error:
        deps.store.transition_incident(
            rated.id, expected=[IncidentState.AWAITING_RATING], new=IncidentState.OPEN
        )
        reopened = deps.store.get_incident(rated.id) or rated
        effect = f"A rollback is due, but no plan could be made: {error.user_message}"
        return Rated(reopened, rating, effect, Proposal(reopened, decision, None, None))
    return Rated(proposal.incident, rating, "A rollback is proposed now.", proposal)


def _already(incident: Incident) -> str:
    if incident.severity is None:
        return f"Blocker #{incident.id} is {incident.state.value.replace('_', ' ')}."
    by = f" by <@{incident.rated_by}>" if incident.rated_by else ""
    return f"Blocker #{incident.id} was already rated {incident.severity}{by}; nothing changed."
