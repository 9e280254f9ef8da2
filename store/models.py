"""Records the store hands out: frozen, so nothing outside the store mutates state by accident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class IncidentState(StrEnum):
    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentState.REJECTED, IncidentState.RESOLVED)


@dataclass(frozen=True)
class Incident:
    id: int
    scenario: str
    severity: str | None
    trigger: str
    requester: str
    channel: str
    state: IncidentState
    created_at: datetime
    updated_at: datetime
    message_ts: str | None


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    at: datetime
    actor: str
    surface: str
    action: str
    incident_id: int | None
    details: dict[str, Any]


@dataclass(frozen=True)
class Timer:
    name: str
    kind: str
    due_at: datetime
    interval_s: float | None
    payload: dict[str, Any]
    fired_count: int
    last_fired_at: datetime | None


@dataclass(frozen=True)
class Lock:
    name: str
    owner: str
    reason: str
    acquired_at: datetime
