"""The store: incidents, the append-only timeline, Slack delivery claims and rollback plans.

The interface is deliberately narrow (:class:`Store`), so a PostgreSQL backend for several
replicas can stand beside :class:`SqliteStore` without touching the flows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from store.models import (
    REMOVAL_SOURCE,
    CheckpointRecord,
    DrillRecord,
    Freeze,
    Incident,
    IncidentState,
    JournalEntry,
    Lock,
    Notice,
    Plan,
    PlanState,
    Postmortem,
    RetryRequest,
    Surface,
    TimelineAction,
    TimelineEvent,
    Timer,
)
from store.sqlite import SqliteStore

__all__ = [
    "REMOVAL_SOURCE",
    "CheckpointRecord",
    "DrillRecord",
    "Freeze",
    "Incident",
    "IncidentState",
    "JournalEntry",
    "Lock",
    "Notice",
    "Plan",
    "PlanState",
    "Postmortem",
    "RetryRequest",
    "SqliteStore",
    "Store",
    "Surface",
    "TimelineAction",
    "TimelineEvent",
    "Timer",
]


class Store(Protocol):
    def ping(self) -> bool: ...

    def close(self) -> None: ...

    def claim_delivery(self, key: str) -> bool: ...

    def append_event(
        self,
        *,
        actor: str,
        surface: Surface,
        action: TimelineAction,
        details: Mapping[str, Any] | None = None,
        incident_id: int | None = None,
    ) -> TimelineEvent: ...

    def timeline(
        self, *, incident_id: int | None = None, limit: int = 50
    ) -> list[TimelineEvent]: ...

    def open_incident(
        self,
        *,
        scenario: str,
        severity: str | None,
        trigger: str,
        requester: str,
        channel: str,
        decision: Mapping[str, Any] | None = None,
        source: str = "scenario",
        state: IncidentState = IncidentState.OPEN,
    ) -> Incident: ...

    def get_incident(self, incident_id: int) -> Incident | None: ...

    def list_incidents(
        self, *, states: Iterable[IncidentState] | None = None
    ) -> list[Incident]: ...

    def transition_incident(
        self, incident_id: int, *, expected: Iterable[IncidentState], new: IncidentState
    ) -> bool: ...

    def rate_incident(
        self,
        incident_id: int,
        *,
        seen: Incident,
        severity: str,
        rated_by: str,
        decision: Mapping[str, Any],
        state: IncidentState,
    ) -> bool: ...

    def resolve_incident(
        self,
        incident_id: int,
        *,
        expected: Iterable[IncidentState],
        resolution: str,
        resolved_by: str,
        lesson: str,
        state: IncidentState = IncidentState.RESOLVED,
    ) -> bool: ...

    def recent_incidents(
        self, *, states: Iterable[IncidentState], limit: int
    ) -> list[Incident]: ...

    def count_incidents(self, *, states: Iterable[IncidentState]) -> int: ...

    def set_incident_message(self, incident_id: int, *, channel: str, ts: str) -> None: ...

    def add_notice(
        self, *, incident_id: int, kind: str, user: str, channel: str, ts: str
    ) -> None: ...

    def notices_of(self, incident_id: int, *, kind: str | None = None) -> list[Notice]: ...

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

    def record_checkpoint(
        self,
        *,
        tag: str,
        commit: str,
        healthy: bool,
        requested_by: str,
        forced_by: str | None,
        failing: Iterable[str] = (),
    ) -> CheckpointRecord: ...

    def checkpoint_records(
        self, tags: Iterable[str] | None = None
    ) -> dict[str, CheckpointRecord]: ...

    def write_value(self, key: str, value: str) -> None: ...

    def acquire_lock(self, name: str, *, owner: str, reason: str) -> bool: ...

    def release_lock(self, name: str, *, owner: str) -> bool: ...

    def get_lock(self, name: str) -> Lock | None: ...

    def list_locks(self) -> list[Lock]: ...

    def propose_plan(
        self,
        *,
        incident_id: int,
        kind: str,
        body: Mapping[str, Any],
        fingerprint: str,
        requested_by: str,
        expires_at: datetime,
        channel: str | None = None,
    ) -> Plan: ...

    def get_plan(self, plan_id: int) -> Plan | None: ...

    def plans_of(self, incident_id: int) -> list[Plan]: ...

    def unfinished_plans(self) -> list[Plan]: ...

    def done_plans(self, kind: str) -> list[Plan]: ...

    def set_plan_message(self, plan_id: int, *, channel: str, ts: str) -> None: ...

    def approve_plan(
        self,
        plan_id: int,
        *,
        approver: str,
        now: datetime,
        waived: bool = False,
        forced: bool = False,
    ) -> bool: ...

    def supersede_proposed(self, *, except_plan_id: int) -> list[Plan]: ...

    def withdraw_plans(self, incident_id: int) -> list[Plan]: ...

    def reject_plan(self, plan_id: int, *, by: str, now: datetime) -> bool: ...

    def stop_plan(self, plan_id: int, *, attempt: int, result: Mapping[str, Any]) -> bool: ...

    def resume_plan(self, plan_id: int, *, expected_attempt: int) -> int | None: ...

    def finish_plan(
        self, plan_id: int, *, attempt: int, state: PlanState, result: Mapping[str, Any]
    ) -> bool: ...

    def record_rollback(
        self,
        incident_id: int,
        *,
        state: IncidentState,
        from_sha: str | None,
        to_sha: str | None,
        target_ref: str | None,
        backup_branch: str | None,
        healthy: bool | None,
    ) -> None: ...

    def journal_step(
        self,
        *,
        plan_id: int,
        attempt: int,
        step: str,
        status: str,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        message: str = "",
    ) -> JournalEntry: ...

    def journal(self, plan_id: int) -> list[JournalEntry]: ...

    def open_postmortem(
        self,
        incident_id: int,
        *,
        channel: str,
        thread_ts: str | None,
        impact: Sequence[str] = (),
    ) -> bool: ...

    def set_postmortem_summary(
        self, incident_id: int, *, thread_ts: str, summary_ts: str
    ) -> None: ...

    def get_postmortem(self, incident_id: int) -> Postmortem | None: ...

    def postmortem_of_thread(self, channel: str, thread_ts: str) -> Postmortem | None: ...

    def save_postmortem_fields(
        self, incident_id: int, *, fields: Mapping[str, str], by: str
    ) -> dict[str, tuple[str, str]]: ...

    def mark_stakeholders_notified(self, incident_id: int, *, undo: bool = False) -> bool: ...

    def freeze_phase(self, *, phase: str, incident_id: int, by: str) -> bool: ...

    def active_freezes(self, phase: str) -> list[Freeze]: ...

    def freeze_of(self, incident_id: int) -> Freeze | None: ...

    def request_retry(self, incident_id: int, *, by: str) -> RetryRequest: ...

    def get_retry(self, retry_id: int) -> RetryRequest | None: ...

    def set_retry_message(self, retry_id: int, *, channel: str, ts: str) -> None: ...

    def tick_retry(self, retry_id: int, *, tick: Iterable[str], untick: Iterable[str]) -> bool: ...

    def approve_retry(self, retry_id: int, *, by: str, ticked: Iterable[str]) -> bool: ...

    def record_drill(
        self,
        *,
        scenario: str,
        started_at: datetime,
        ok: bool,
        duration_s: float,
        commit_sha: str | None,
        verified_by: str,
        exercised: Sequence[str],
        problem: str,
        actor: str,
    ) -> DrillRecord: ...

    def latest_drills(self) -> dict[str, DrillRecord]: ...

    def record_commit_check(self, sha: str, *, ok: bool, failing: Sequence[str]) -> int: ...

    def commit_verdicts(self, shas: Sequence[str]) -> dict[str, bool]: ...
