"""The App Home's facts: the status report, the last rollbacks and closed incidents, the
confidence table, and who looked at the Home lately (they get it re-published on changes).

Each list is read with a limit, newest first, so the Home costs the same for a store of ten
incidents as for ten thousand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.deps import Deps
from bot.flows.postmortem import thread_of
from bot.flows.status import StatusReport, collect_status
from store import Incident, IncidentState, Postmortem

ROLLBACKS_SHOWN = 5
CLOSED_SHOWN = 10
#: Whoever opened the Home this recently gets it re-published when something changes.
VIEWER_WINDOW = timedelta(days=1)
VIEWERS_KEY = "home.viewers"
VIEWERS_MAX = 500
PUBLISHED_KEY = "home.published_event"


@dataclass(frozen=True)
class Rollback:
    incident: Incident
    postmortem: Postmortem | None

    @property
    def thread(self) -> tuple[str, str] | None:
        """Where its post-mortem thread is (channel, ts), for a permalink."""
        ts = thread_of(self.incident, self.postmortem)
        return (self.incident.channel, ts) if ts else None


@dataclass(frozen=True)
class HomeReport:
    status: StatusReport
    rollbacks: tuple[Rollback, ...]
    closed: tuple[Incident, ...]


def collect_home(deps: Deps) -> HomeReport:
    rolled = deps.store.recent_incidents(
        states=[IncidentState.ROLLED_BACK, IncidentState.CLOSED], limit=ROLLBACKS_SHOWN
    )
    closed = deps.store.recent_incidents(
        states=[IncidentState.CLOSED, IncidentState.RESOLVED, IncidentState.REJECTED],
        limit=CLOSED_SHOWN,
    )
    return HomeReport(
        status=collect_status(deps),
        rollbacks=tuple(Rollback(i, deps.store.get_postmortem(i.id)) for i in rolled),
        closed=tuple(closed),
    )


def record_home_open(deps: Deps, user: str) -> None:
    viewers = _viewers(deps)
    viewers[user] = deps.clock().isoformat()
    newest = sorted(viewers.items(), key=lambda item: item[1], reverse=True)[:VIEWERS_MAX]
    deps.store.write_value(VIEWERS_KEY, json.dumps(dict(newest)))


def recent_viewers(deps: Deps) -> list[str]:
    since = deps.clock() - VIEWER_WINDOW
    found = []
    for user, at in _viewers(deps).items():
        when = _parsed(at)
        if when is not None and when >= since:
            found.append(user)
    return found


def changed_since_published(deps: Deps) -> int | None:
    """The newest timeline event's id when it is newer than the last publish; else None."""
    latest = deps.store.timeline(limit=1)
    if not latest:
        return None
    published = deps.store.read_value(PUBLISHED_KEY)
    return None if published == str(latest[-1].id) else latest[-1].id


def mark_published(deps: Deps, event_id: int) -> None:
    deps.store.write_value(PUBLISHED_KEY, str(event_id))


def _viewers(deps: Deps) -> dict[str, str]:
    try:
        found = json.loads(deps.store.read_value(VIEWERS_KEY) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _parsed(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
