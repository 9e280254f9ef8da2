"""The fix window's timer: when a quick fix must be done by, kept in the store.

A leaf module, so that opening an incident (:mod:`bot.flows.rollback`) can start a window and
the window's end (:mod:`bot.flows.fix_window`) can propose a rollback without a cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.deps import Deps
from store import Incident, Surface, TimelineAction

WINDOW_KIND = "fix_window"


def window_timer(incident_id: int) -> str:
    return f"fix-window-{incident_id}"


def window_end(deps: Deps, incident_id: int) -> datetime | None:
    timer = deps.store.get_timer(window_timer(incident_id))
    return timer.due_at if timer is not None else None


def schedule_window_end(deps: Deps, incident_id: int, ends: datetime) -> None:
    """The incident's one window timer, due at ``ends`` (a later call moves it)."""
    deps.store.schedule_timer(
        window_timer(incident_id),
        kind=WINDOW_KIND,
        due_at=ends,
        payload={"incident": incident_id},
        replace=True,
    )


def start_window(deps: Deps, incident: Incident, minutes: float, *, actor: str) -> datetime:
    """Start (or restart) the incident's window; its end."""
    ends = deps.clock() + timedelta(minutes=minutes)
    schedule_window_end(deps, incident.id, ends)
    deps.store.append_event(
        actor=actor,
        surface=Surface.BOT,
        action=TimelineAction.FIX_WINDOW_STARTED,
        incident_id=incident.id,
        details={"minutes": minutes, "ends_at": ends.isoformat()},
    )
    return ends


def cancel_window(deps: Deps, incident_id: int) -> bool:
    return deps.store.cancel_timer(window_timer(incident_id))
