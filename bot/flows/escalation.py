"""Escalation that keeps paging until someone decides, on the store's timers.

Modelled on an escalation policy: level 1 is the orchestrators, level 2 ``escalation.fallback``;
a page goes to one level, and while the incident still needs a decision (a rating or an
approval) the next page goes ``escalation.delay_min.<level>`` minutes later to the next level,
walking the levels ``escalation.repeat`` times. A delay of 0 pages once.

One timer per incident (:func:`page_timer`) holds the next step, so pages survive a restart and,
claimed by compare-and-set, fire once. Acknowledge stops the pages without deciding; they
resume one delay later if still nobody has decided. Any decision stops them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from actions.policy import severity_level
from bot.config import Config
from bot.deps import Deps
from store import Incident, Surface, TimelineAction, Timer

PAGE_KIND = "page"
#: An unrated blocker has no severity yet; it is paged on the cadence of a high one.
UNRATED_LEVEL = "high"


def page_timer(incident_id: int) -> str:
    return f"page-{incident_id}"


@dataclass(frozen=True)
class Page:
    """One page: who gets it and where it stands in the walk."""

    incident_id: int
    step: int  # 0-based position in the walk
    steps: int  # how many pages the walk has
    level: int  # 1 orchestrators, 2 fallback
    people: tuple[str, ...]  # user IDs or user group IDs, as the config names them
    why: str  # "rate this blocker", "approve or reject the rollback"

    @property
    def last(self) -> bool:
        return self.step + 1 >= self.steps


def walk(config: Config) -> list[tuple[int, tuple[str, ...]]]:
    """The levels in paging order, ``repeat`` times over: [(level, people), …]."""
    levels = [(1, config.slack.orchestrators)]
    if config.escalation.fallback:
        levels.append((2, config.escalation.fallback))
    return levels * config.escalation.repeat


def delay_for(config: Config, incident: Incident) -> timedelta:
    level = severity_level(int(incident.severity)) if incident.severity else UNRATED_LEVEL
    return timedelta(minutes=config.escalation.delay_min.for_level(level))


def why_paged(incident: Incident) -> str:
    if incident.source == "blocker" and incident.severity is None:
        return "rate this blocker"
    return "approve or reject the rollback"


def start_paging(deps: Deps, incident: Incident) -> Page | None:
    """The first page of a walk, with the next one scheduled; None when nothing is needed."""
    if not incident.needs_decision:
        return None
    return _page_at(deps, incident, step=0)


def page_due(deps: Deps, timer: Timer) -> Page | None:
    """A page timer fired: the page to send now, or None when the incident no longer needs one."""
    incident = deps.store.get_incident(int(timer.payload.get("incident", 0)))
    if incident is None or not incident.needs_decision:
        return None
    return _page_at(deps, incident, step=int(timer.payload.get("step", 0)))


def _page_at(deps: Deps, incident: Incident, *, step: int) -> Page | None:
    config = deps.settings.config
    levels = walk(config)
    if step >= len(levels):
        return None
    level, people = levels[step]
    page = Page(incident.id, step, len(levels), level, people, why_paged(incident))
    delay = delay_for(config, incident)
    if not page.last and delay > timedelta(0):
        _schedule(deps, incident.id, step + 1, deps.clock() + delay)
    deps.store.append_event(
        actor="bot",
        surface=Surface.SCHEDULER,
        action=TimelineAction.PAGED,
        incident_id=incident.id,
        details={
            "step": step + 1,
            "of": len(levels),
            "level": level,
            "people": list(people),
            "why": page.why,
        },
    )
    return page


def _schedule(deps: Deps, incident_id: int, step: int, due: datetime) -> None:
    deps.store.schedule_timer(
        page_timer(incident_id),
        kind=PAGE_KIND,
        due_at=due,
        payload={"incident": incident_id, "step": step},
        replace=True,
    )


@dataclass(frozen=True)
class Acknowledged:
    ok: bool
    message: str


def acknowledge(deps: Deps, incident_id: int, *, actor: str) -> Acknowledged:
    """Pause the pages: the next one comes one delay from now, if still nobody has decided."""
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        return Acknowledged(False, f"There is no incident #{incident_id}.")
    if not incident.needs_decision:
        return Acknowledged(False, f"Incident #{incident_id} needs no decision now; no pages.")
    pending = deps.store.get_timer(page_timer(incident_id))
    deps.store.cancel_timer(page_timer(incident_id))
    delay = delay_for(deps.settings.config, incident)
    resumes = None
    if pending is not None and delay > timedelta(0):
        resumes = deps.clock() + delay
        _schedule(deps, incident_id, int(pending.payload.get("step", 0)), resumes)
    deps.store.append_event(
        actor=actor,
        surface=Surface.SLACK,
        action=TimelineAction.PAGE_ACKNOWLEDGED,
        incident_id=incident_id,
        details={"resumes_at": resumes.isoformat() if resumes else None},
    )
    later = (
        f" Paging resumes at {resumes:%H:%M} UTC if nobody has decided by then."
        if resumes
        else " No further pages were due."
    )
    return Acknowledged(True, f"Acknowledged: the pages for incident #{incident_id} stop.{later}")


def stop_paging(deps: Deps, incident_id: int, *, actor: str, why: str) -> bool:
    """A decision was made: no more pages for this incident. True if one was still due."""
    stopped = deps.store.cancel_timer(page_timer(incident_id))
    if stopped:
        deps.store.append_event(
            actor=actor,
            surface=Surface.BOT,
            action=TimelineAction.PAGING_STOPPED,
            incident_id=incident_id,
            details={"why": why},
        )
    return stopped
