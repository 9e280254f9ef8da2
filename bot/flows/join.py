"""One incident per problem: a second report while one is being handled joins it, or opens
another only when the reporter says it is a different problem.

Every incident here is about the one phase branch, so any incident still being decided on or
worked (a rating, a fix window, a fix forward, a proposal, a rollback under way or stopped) is
"the open incident". A scenario reported meanwhile is kept (the buttons carry its id, never the
person's text) and the reporter chooses: **Join #N** adds the report to that incident's
timeline and thread; **Open a new incident** goes on as if nothing were open.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actions.errors import InputError
from bot import grammar
from bot.deps import Deps
from store import Incident, IncidentState, Surface, TimelineAction

#: The states of an incident someone is still handling.
ACTIVE = (
    IncidentState.AWAITING_RATING,
    IncidentState.FIXING,
    IncidentState.OPEN,
    IncidentState.AWAITING_APPROVAL,
    IncidentState.ROLLING_BACK,
    IncidentState.STOPPED,
)
_KEY = "scenario_request:{}"
_ID_RE = re.compile(r"^[0-9a-f]{16}$")
NOT_OURS = "That button does not describe a report; nothing was changed."


@dataclass(frozen=True)
class JoinOrNew:
    """A report that arrived while ``existing`` is open: the reporter decides which it is."""

    existing: Incident
    request_id: str
    request: grammar.Scenario
    reporter: str


@dataclass(frozen=True)
class Kept:
    request: grammar.Scenario
    reporter: str


def open_problem(deps: Deps) -> Incident | None:
    """The newest incident still being handled, if any; a removal is planned work, so a
    report never joins one."""
    active = [i for i in deps.store.list_incidents(states=list(ACTIVE)) if not i.is_removal]
    return active[-1] if active else None


def ask_join_or_new(
    deps: Deps, request: grammar.Scenario, existing: Incident, *, reporter: str
) -> JoinOrNew:
    request_id = secrets.token_hex(8)
    value = {
        "scenario": request.scenario,
        "severity": request.severity,
        "trigger": request.trigger,
        "reporter": reporter,
    }
    deps.store.write_value(_KEY.format(request_id), json.dumps(value))
    return JoinOrNew(existing, request_id, request, reporter)


def recall(deps: Deps, value: Mapping[str, Any], *, clicker: str) -> tuple[str, Kept]:
    """The kept report a button stands for, once: only its reporter may decide, and a used or
    forged id is refused."""
    request_id = value.get("request")
    if not isinstance(request_id, str) or not _ID_RE.fullmatch(request_id):
        raise InputError(NOT_OURS)
    stored = deps.store.read_value(_KEY.format(request_id))
    if not stored:
        raise InputError("That report was already joined to an incident or opened as one.")
    kept = json.loads(stored)
    if kept["reporter"] != clicker:
        raise InputError("Only whoever reported it can decide where it goes. Nothing was changed.")
    deps.store.write_value(_KEY.format(request_id), "")  # used: a second click is refused
    request = grammar.Scenario(kept["scenario"], kept["severity"], kept["trigger"])
    return request_id, Kept(request, clicker)


def join_incident(deps: Deps, incident_id: int, kept: Kept, *, surface: Surface) -> Incident:
    incident = deps.store.get_incident(incident_id)
    if incident is None or incident.state not in ACTIVE:
        raise InputError(f"Incident #{incident_id} is no longer open; open a new one instead.")
    deps.store.append_event(
        actor=kept.reporter,
        surface=surface,
        action=TimelineAction.INCIDENT_JOINED,
        incident_id=incident.id,
        details={
            "scenario": kept.request.scenario,
            "severity": kept.request.severity,
            "trigger": kept.request.trigger,
        },
    )
    return incident
