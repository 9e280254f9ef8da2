"""Freeze and retry: a rollback freezes the phase until the "Before Retry" checklist is
approved (the procedure's "Before Retry" section).

While frozen, finishing the phase (``/checkpoint complete``) and the high-risk removal are
refused with the reason; ordinary checkpoints, drills and validation go on. The checklist's
four items are ticked by anyone on the team; only an orchestrator other than whoever asked for
the retry approves it, once every box is ticked, and that approval lifts the freeze.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.errors import InputError
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from store import Freeze, Incident, RetryRequest, Surface, TimelineAction


@dataclass(frozen=True)
class Item:
    key: str
    text: str


#: The procedure's "Before Retry" list; its fifth step, "Get approval to proceed", is the
#: approval itself.
ITEMS = (
    Item("review_log", "Review the rollback log"),
    Item("lessons_applied", "Apply the lessons learned"),
    Item("validation_added", "Add additional validation"),
    Item("team_briefed", "Brief the team on the new approach"),
)
ITEM_KEYS = frozenset(item.key for item in ITEMS)


def active_freezes(deps: Deps) -> list[Freeze]:
    return deps.store.active_freezes(deps.settings.config.project.phase)


def frozen_because(deps: Deps) -> str | None:
    """Why the phase is frozen, naming each incident and how to lift it; None when it is not."""
    freezes = active_freezes(deps)
    if not freezes:
        return None
    phase = deps.settings.config.project.phase
    named = ", ".join(f"#{f.incident_id}" for f in freezes)
    first = freezes[0]
    return (
        f"{phase} is frozen since the rollback of incident {named} "
        f"({first.frozen_at:%Y-%m-%d %H:%M} UTC). `/rollback retry {first.incident_id}` "
        "posts the Before Retry checklist; an orchestrator's approval of it lifts the freeze."
    )


def refuse_if_frozen(deps: Deps, *, what: str, actor: str, surface: Surface) -> None:
    """Raise InputError (recorded) when the phase is frozen: ``what`` must wait for a retry."""
    reason = frozen_because(deps)
    if reason is None:
        return
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.FREEZE_REFUSED,
        details={"what": what, "freezes": [f.incident_id for f in active_freezes(deps)]},
    )
    raise InputError(f"{what[:1].upper()}{what[1:]} is refused: {reason} Nothing was changed.")


@dataclass(frozen=True)
class RetryChecklist:
    retry: RetryRequest
    incident: Incident
    freeze: Freeze


def request_retry(deps: Deps, request: grammar.Retry, asker: Asker) -> RetryChecklist:
    """``/rollback retry <incident>``: a fresh checklist for an incident whose freeze holds."""
    incident = deps.store.get_incident(request.incident)
    if incident is None:
        raise InputError(f"There is no incident #{request.incident}.")
    freeze = deps.store.freeze_of(incident.id)
    if freeze is None:
        raise InputError(f"Incident #{incident.id} was never rolled back, so it froze nothing.")
    if freeze.lifted_at is not None:
        raise InputError(
            f"Incident #{incident.id}'s freeze was lifted at {freeze.lifted_at:%Y-%m-%d %H:%M} "
            f"UTC by {freeze.lifted_by}; nothing to retry."
        )
    retry = deps.store.request_retry(incident.id, by=asker.actor)
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.RETRY_REQUESTED,
        incident_id=incident.id,
        details={"retry": retry.id},
    )
    return RetryChecklist(retry, incident, freeze)


def checklist_of(deps: Deps, retry_id: int) -> RetryChecklist:
    retry = deps.store.get_retry(retry_id)
    incident = deps.store.get_incident(retry.incident_id) if retry is not None else None
    freeze = deps.store.freeze_of(retry.incident_id) if retry is not None else None
    if retry is None or incident is None or freeze is None:
        raise InputError("That checklist is not one rollback-bot knows; nothing was changed.")
    return RetryChecklist(retry, incident, freeze)


def tick_items(
    deps: Deps, retry_id: int, *, shown: set[str], ticked: set[str], actor: str
) -> RetryChecklist:
    """Apply one click: what changed between the boxes the person saw ticked (``shown``) and
    those ticked now. Applied as a change, so a click on a stale copy cannot undo another's."""
    if not (ticked | shown) <= ITEM_KEYS:
        raise InputError("Those boxes are not on the Before Retry checklist; nothing changed.")
    checklist = checklist_of(deps, retry_id)
    tick, untick = ticked - shown, shown - ticked
    if not deps.store.tick_retry(retry_id, tick=tick, untick=untick):
        raise InputError("That checklist is approved already; its boxes no longer change.")
    deps.store.append_event(
        actor=actor,
        surface=Surface.SLACK,
        action=TimelineAction.RETRY_TICKED,
        incident_id=checklist.incident.id,
        details={"retry": retry_id, "ticked": sorted(tick), "unticked": sorted(untick)},
    )
    return checklist_of(deps, retry_id)


def approve_retry(
    deps: Deps, retry_id: int, *, actor: str, surface: Surface, orchestrator: bool
) -> RetryChecklist:
    """Approve the checklist and lift the freeze; a refusal changes nothing and is recorded."""
    checklist = checklist_of(deps, retry_id)
    retry = checklist.retry
    lifted = checklist.freeze.lifted_at is not None
    problem = _approval_problem(retry, actor=actor, orchestrator=orchestrator, lifted=lifted)
    if problem is None and not deps.store.approve_retry(retry_id, by=actor, ticked=retry.ticked):
        problem = "The checklist changed while you approved it; look again and approve once more."
    if problem is not None:
        deps.store.append_event(
            actor=actor,
            surface=surface,
            action=TimelineAction.RETRY_REFUSED,
            incident_id=checklist.incident.id,
            details={"retry": retry_id, "reason": problem},
        )
        raise InputError(f"{problem} Nothing was changed.")
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.RETRY_APPROVED,
        incident_id=checklist.incident.id,
        details={"retry": retry_id, "ticked": list(retry.ticked), "freeze_lifted": True},
    )
    return checklist_of(deps, retry_id)


def _approval_problem(
    retry: RetryRequest, *, actor: str, orchestrator: bool, lifted: bool
) -> str | None:
    if retry.approved_by is not None:
        return f"This retry was approved already by {retry.approved_by}."
    if lifted:
        return "The freeze of this incident is lifted already: a retry was approved."
    if not orchestrator:
        return "Only an orchestrator can approve a retry."
    if actor == retry.requested_by:
        return "You asked for this retry; another orchestrator must approve it."
    missing = [item.text for item in ITEMS if item.key not in retry.ticked]
    if missing:
        return f"Every box must be ticked first; still open: {'; '.join(missing)}."
    return None
