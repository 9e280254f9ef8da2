"""Incidents on SQLite, mixed into :class:`store.sqlite.SqliteStore`.

Every change that decides something (a state move, a rating, a resolution) is one UPDATE whose
WHERE clause holds what the caller saw, so two people acting at once cannot both win: the one
whose update matched did it, the other is told it changed under them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from actions.redact import redact
from store.models import Incident, IncidentState, Notice
from store.parts import StorePart
from store.rows import dicts, to_json
from store.stamps import parse_stamp, stamp


class IncidentStore(StorePart):
    """Incidents: opened, rated, re-rated and resolved, and the notices sent about them."""

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
    ) -> Incident:
        """Open an incident; ``decision`` is the policy's verdict, scrubbed like the timeline."""
        now = stamp(self._clock())
        encoded = to_json(decision, secrets=self._secrets)
        with self._guard("open an incident"):
            cursor = self._db().execute(
                "INSERT INTO incidents (scenario, severity, trigger, requester, channel, "
                "state, created_at, updated_at, decision, source, rated_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    scenario,
                    severity,
                    trigger,
                    requester,
                    channel,
                    IncidentState(state).value,
                    now,
                    now,
                    encoded,
                    source,
                    None if severity is None else requester,
                ],
            )
        incident = self.get_incident(int(cursor.lastrowid or 0))
        assert incident is not None
        return incident

    def get_incident(self, incident_id: int) -> Incident | None:
        with self._guard("read an incident"):
            rows = dicts(self._db().execute("SELECT * FROM incidents WHERE id = ?", [incident_id]))
        return _incident(rows[0]) if rows else None

    def list_incidents(self, *, states: Iterable[IncidentState] | None = None) -> list[Incident]:
        wanted = [state.value for state in (states or [s for s in IncidentState if s.is_open])]
        marks = ", ".join("?" for _ in wanted)
        with self._guard("list incidents"):
            rows = self._db().execute(
                f"SELECT * FROM incidents WHERE state IN ({marks}) ORDER BY id",  # noqa: S608
                wanted,
            )
            return [_incident(row) for row in dicts(rows)]

    def recent_incidents(self, *, states: Iterable[IncidentState], limit: int) -> list[Incident]:
        """The newest ``limit`` incidents in these states, newest first."""
        wanted = [state.value for state in states]
        marks = ", ".join("?" for _ in wanted)
        with self._guard("list recent incidents"):
            rows = self._db().execute(
                f"SELECT * FROM incidents WHERE state IN ({marks}) "  # noqa: S608
                "ORDER BY id DESC LIMIT ?",
                [*wanted, limit],
            )
            return [_incident(row) for row in dicts(rows)]

    def count_incidents(self, *, states: Iterable[IncidentState]) -> int:
        wanted = [state.value for state in states]
        marks = ", ".join("?" for _ in wanted)
        with self._guard("count incidents"):
            row = (
                self._db()
                .execute(
                    f"SELECT COUNT(*) FROM incidents WHERE state IN ({marks})",  # noqa: S608
                    wanted,
                )
                .fetchone()
            )
        return int(row[0])

    def transition_incident(
        self, incident_id: int, *, expected: Iterable[IncidentState], new: IncidentState
    ) -> bool:
        """Compare-and-set the state: True only for the one caller that moved it."""
        allowed = [state.value for state in expected]
        marks = ", ".join("?" for _ in allowed)
        with self._guard("update an incident"):
            cursor = self._db().execute(
                f"UPDATE incidents SET state = ?, updated_at = ? "  # noqa: S608
                f"WHERE id = ? AND state IN ({marks})",
                [new.value, stamp(self._clock()), incident_id, *allowed],
            )
        return cursor.rowcount == 1

    def rate_incident(
        self,
        incident_id: int,
        *,
        seen: Incident,
        severity: str,
        rated_by: str,
        decision: Mapping[str, Any],
        state: IncidentState,
    ) -> bool:
        """Set a new rating and the policy's new verdict, if the incident is as ``seen`` left it.

        The severity and the state both have to match, so of two people re-rating at once the
        second is told that the incident changed, rather than silently overruling the first.
        """
        with self._guard("re-rate an incident"):
            cursor = self._db().execute(
                "UPDATE incidents SET severity = ?, rated_by = ?, decision = ?, state = ?, "
                "updated_at = ? WHERE id = ? AND state = ? AND severity IS ?",
                [
                    severity,
                    rated_by,
                    to_json(decision, secrets=self._secrets),
                    IncidentState(state).value,
                    stamp(self._clock()),
                    incident_id,
                    seen.state.value,
                    seen.severity,
                ],
            )
        return cursor.rowcount == 1

    def resolve_incident(
        self,
        incident_id: int,
        *,
        expected: Iterable[IncidentState],
        resolution: str,
        resolved_by: str,
        lesson: str,
        state: IncidentState = IncidentState.RESOLVED,
    ) -> bool:
        """End an incident with how it ended, who ended it and its lesson; once only.

        RESOLVED (fixed forward) or CLOSED (rolled back, its post-mortem done)."""
        allowed = [state.value for state in expected]
        marks = ", ".join("?" for _ in allowed)
        with self._guard("resolve an incident"):
            cursor = self._db().execute(
                "UPDATE incidents SET state = ?, resolution = ?, resolved_by = ?, "  # noqa: S608
                f"lesson = ?, updated_at = ? WHERE id = ? AND state IN ({marks})",
                [
                    IncidentState(state).value,
                    resolution,
                    resolved_by,
                    redact(lesson, secrets=self._secrets),
                    stamp(self._clock()),
                    incident_id,
                    *allowed,
                ],
            )
        return cursor.rowcount == 1

    def set_incident_message(self, incident_id: int, *, channel: str, ts: str) -> None:
        """Where the incident's card is, so every later change edits that one message."""
        with self._guard("remember an incident's card"):
            self._db().execute(
                "UPDATE incidents SET channel = ?, message_ts = ? WHERE id = ?",
                [channel, ts, incident_id],
            )

    def add_notice(self, *, incident_id: int, kind: str, user: str, channel: str, ts: str) -> None:
        """A message the bot sent someone about an incident (a page, a rating request)."""
        with self._guard("remember a notice"):
            self._db().execute(
                "INSERT INTO notices (incident_id, kind, user, channel, ts, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [incident_id, kind, user, channel, ts, stamp(self._clock())],
            )

    def notices_of(self, incident_id: int, *, kind: str | None = None) -> list[Notice]:
        where, params = "WHERE incident_id = ?", [str(incident_id)]
        if kind is not None:
            where, params = where + " AND kind = ?", [*params, kind]
        with self._guard("read notices"):
            rows = dicts(
                self._db().execute(
                    f"SELECT * FROM notices {where} ORDER BY id",  # noqa: S608
                    params,
                )
            )
        return [
            Notice(
                incident_id=row["incident_id"],
                kind=row["kind"],
                user=row["user"],
                channel=row["channel"],
                ts=row["ts"],
                at=parse_stamp(row["at"]),
            )
            for row in rows
        ]


def _incident(row: Mapping[str, Any]) -> Incident:
    return Incident(
        id=row["id"],
        scenario=row["scenario"],
        severity=row["severity"],
        trigger=row["trigger"],
        requester=row["requester"],
        channel=row["channel"],
        state=IncidentState(row["state"]),
        created_at=parse_stamp(row["created_at"]),
        updated_at=parse_stamp(row["updated_at"]),
        message_ts=row["message_ts"],
        decision=json.loads(row["decision"]),
        from_sha=row["from_sha"],
        to_sha=row["to_sha"],
        target_ref=row["target_ref"],
        backup_branch=row["backup_branch"],
        healthy=None if row["healthy"] is None else bool(row["healthy"]),
        source=row["source"],
        rated_by=row["rated_by"],
        resolution=row["resolution"],
        resolved_by=row["resolved_by"],
        lesson=row["lesson"] or "",
    )
