"""The store: incidents, the append-only timeline and Slack delivery claims.

The interface is deliberately narrow (:class:`Store`), so a PostgreSQL backend for several
replicas can stand beside :class:`SqliteStore` without touching the flows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from store.models import Incident, IncidentState, Lock, TimelineEvent, Timer
from store.sqlite import SqliteStore

__all__ = ["Incident", "IncidentState", "Lock", "SqliteStore", "Store", "TimelineEvent", "Timer"]


class Store(Protocol):
    def ping(self) -> bool: ...

    def close(self) -> None: ...

    def claim_delivery(self, key: str) -> bool: ...

    def append_event(
        self,
        *,
        actor: str,
        surface: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        incident_id: int | None = None,
    ) -> TimelineEvent: ...

    def timeline(
        self, *, incident_id: int | None = None, limit: int = 50
    ) -> list[TimelineEvent]: ...

    def open_incident(
        self, *, scenario: str, severity: str | None, trigger: str, requester: str, channel: str
    ) -> Incident: ...

    def get_incident(self, incident_id: int) -> Incident | None: ...

    def list_incidents(
        self, *, states: Iterable[IncidentState] | None = None
    ) -> list[Incident]: ...

    def transition_incident(
        self, incident_id: int, *, expected: Iterable[IncidentState], new: IncidentState
    ) -> bool: ...

    def schedule_timer(
        self,
        name: str,
        *,
        kind: str,
        due_at: datetime,
        interval_s: float | None = None,
        payload: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> bool: ...

    def due_timers(self, *, now: datetime) -> list[Timer]: ...

    def get_timer(self, name: str) -> Timer | None: ...

    def claim_timer(self, timer: Timer, *, now: datetime) -> bool: ...

    def cancel_timer(self, name: str) -> bool: ...

    def read_value(self, key: str) -> str | None: ...

    def write_value(self, key: str, value: str) -> None: ...

    def acquire_lock(self, name: str, *, owner: str, reason: str) -> bool: ...

    def release_lock(self, name: str, *, owner: str) -> bool: ...

    def get_lock(self, name: str) -> Lock | None: ...

    def list_locks(self) -> list[Lock]: ...
