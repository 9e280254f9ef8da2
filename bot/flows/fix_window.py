"""Fix windows that fire: a quick fix gets its minutes, then the rollback is proposed.

The window is a timer in the store (:func:`window_timer`), so it survives a restart and, claimed
by compare-and-set, ends once. When it ends with the incident still being fixed, a fresh plan
is made and the incident waits for approval; the caller posts it and pages. Resolving the
incident as fixed forward, or any move that makes the window moot, cancels the timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from actions.errors import InputError, RollbackBotError
from actions.fix_branch import create_fix_branch
from actions.git import open_repo
from actions.rollback_git import read_head
from bot.deps import Deps
from bot.flows.escalation import stop_paging
from bot.flows.rollback import Proposal, decision_for, propose_for_scenario
from bot.flows.windows import (
    cancel_window,
    schedule_window_end,
    window_end,
)
from store import Incident, IncidentState, Surface, TimelineAction, Timer

EXTENSION = timedelta(minutes=15)
#: The states an incident can be resolved as fixed forward from.
FIXABLE = (
    IncidentState.OPEN,
    IncidentState.FIXING,
    IncidentState.AWAITING_APPROVAL,
    IncidentState.ABORTED,
)


@dataclass(frozen=True)
class WindowEnd:
    """What the end of a window led to: a proposal to post, or why there is none."""

    incident: Incident
    proposal: Proposal | None
    problem: str = ""


def end_window(deps: Deps, timer: Timer) -> WindowEnd | None:
    """The window's timer fired: propose the rollback, unless the incident moved on."""
    incident = deps.store.get_incident(int(timer.payload.get("incident", 0)))
    if incident is None or incident.state is not IncidentState.FIXING:
        return None
    deps.store.append_event(
        actor="bot",
        surface=Surface.SCHEDULER,
        action=TimelineAction.FIX_WINDOW_ENDED,
        incident_id=incident.id,
        details={"due_at": timer.due_at.isoformat()},
    )
    decision = decision_for(deps, incident)
    try:
        # Asked for in the requester's name: the four-eyes rule still keeps them from approving.
        proposal = propose_for_scenario(deps, incident, decision, actor=incident.requester)
    except RollbackBotError as error:
        # Nobody may be left believing a rollback is coming: the incident waits for a person.
        deps.store.transition_incident(
            incident.id, expected=[IncidentState.FIXING], new=IncidentState.OPEN
        )
        latest = deps.store.get_incident(incident.id) or incident
        return WindowEnd(latest, None, error.user_message)
    return WindowEnd(proposal.incident, proposal)


def extend_window(deps: Deps, incident_id: int, *, actor: str) -> datetime:
    """Fifteen more minutes for the fix; the extension is on the timeline."""
    incident = _fixing(deps, incident_id)
    current = window_end(deps, incident.id)
    if current is None:
        raise InputError(f"Incident #{incident.id}'s fix window has already ended.")
    ends = max(current, deps.clock()) + EXTENSION
    schedule_window_end(deps, incident.id, ends)
    deps.store.append_event(
        actor=actor,
        surface=Surface.SLACK,
        action=TimelineAction.FIX_WINDOW_EXTENDED,
        incident_id=incident.id,
        details={"from": current.isoformat(), "to": ends.isoformat()},
    )
    return ends


def resolve_fixed_forward(
    deps: Deps, incident_id: int, *, actor: str, surface: Surface, lesson: str
) -> Incident:
    """Close the incident as fixed forward; its note goes to the lessons learned."""
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        raise InputError(f"There is no incident #{incident_id}.")
    if incident.state not in FIXABLE:
        raise InputError(
            f"Incident #{incident_id} is {incident.state.value.replace('_', ' ')}; "
            "it cannot be resolved as fixed forward now."
        )
    if not deps.store.resolve_incident(
        incident_id,
        expected=FIXABLE,
        resolution="fixed_forward",
        resolved_by=actor,
        lesson=lesson,
    ):
        raise InputError(f"Incident #{incident_id} changed meanwhile; nothing was done.")
    cancel_window(deps, incident_id)
    # Fixed forward still gets its post-mortem thread: the lesson and what to do differently.
    deps.store.open_postmortem(incident_id, channel=incident.channel, thread_ts=incident.message_ts)
    retired = [plan.id for plan in deps.store.withdraw_plans(incident_id)]
    stop_paging(deps, incident_id, actor=actor, why="resolved: fixed forward")
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.FIXED_FORWARD,
        incident_id=incident_id,
        details={"lesson": lesson, "plans_retired": retired},
    )
    return deps.store.get_incident(incident_id) or incident


def _fixing(deps: Deps, incident_id: int) -> Incident:
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        raise InputError(f"There is no incident #{incident_id}.")
    if incident.state is not IncidentState.FIXING:
        raise InputError(f"Incident #{incident_id} has no fix window running.")
    return incident


def fix_branch_name(deps: Deps) -> str:
    return f"fix/{deps.settings.config.project.phase}-performance-optimization"


def start_fix_branch(deps: Deps, incident_id: int, *, actor: str, surface: Surface) -> str:
    """Scenario 4: the quick fix's own branch, from HEAD, pushed (never forced). Its name."""
    incident = deps.store.get_incident(incident_id)
    if incident is None or incident.scenario != "performance":
        raise InputError("A fix branch is for a performance incident; nothing was changed.")
    config = deps.settings.config
    repo = open_repo(config.git.path)
    head, _ = read_head(repo=repo)
    if head is None:
        raise InputError("The repository has no commit to branch from; nothing was changed.")
    name = fix_branch_name(deps)
    made = create_fix_branch(repo=repo, remote=config.git.remote, name=name, head_sha=head)
    if made:
        deps.store.append_event(
            actor=actor,
            surface=surface,
            action=TimelineAction.FIX_BRANCH_CREATED,
            incident_id=incident_id,
            details={"branch": name, "head": head},
        )
    return name
