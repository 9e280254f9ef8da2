"""After a rollback: post-mortems, the phase's freezes and the retries that lift them.

Mixed into :class:`store.sqlite.SqliteStore`. As elsewhere, a change that decides something
(opening a thread once, lifting a freeze, approving a retry) is one statement whose WHERE
clause holds what the caller saw, so of two people acting at once exactly one wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actions.redact import redact
from store.models import Freeze, Postmortem, RetryRequest
from store.parts import StorePart
from store.plans import immediate
from store.rows import dicts
from store.stamps import parse_stamp, stamp


def _maybe_stamp(value: str | None) -> Any:
    return parse_stamp(value) if value else None


class PostmortemStore(StorePart):
    """Post-mortems (thread, summary, fields), freezes and retry checklists."""

    # -- post-mortems --------------------------------------------------------------------------

    def open_postmortem(
        self,
        incident_id: int,
        *,
        channel: str,
        thread_ts: str | None,
        impact: Sequence[str] = (),
    ) -> bool:
        """Start the incident's post-mortem; True only for the first call (it opens once)."""
        now = stamp(self._clock())
        with self._guard("open a post-mortem"):
            cursor = self._db().execute(
                "INSERT OR IGNORE INTO postmortems "
                "(incident_id, channel, thread_ts, fields, impact, opened_at, updated_at) "
                "VALUES (?, ?, ?, '{}', ?, ?, ?)",
                [incident_id, channel, thread_ts, json.dumps(list(impact)), now, now],
            )
        return cursor.rowcount == 1

    def set_postmortem_summary(self, incident_id: int, *, thread_ts: str, summary_ts: str) -> None:
        with self._guard("remember a post-mortem's summary"):
            self._db().execute(
                "UPDATE postmortems SET thread_ts = ?, summary_ts = ? WHERE incident_id = ?",
                [thread_ts, summary_ts, incident_id],
            )

    def get_postmortem(self, incident_id: int) -> Postmortem | None:
        with self._guard("read a post-mortem"):
            rows = dicts(
                self._db().execute("SELECT * FROM postmortems WHERE incident_id = ?", [incident_id])
            )
        return _postmortem(rows[0]) if rows else None

    def postmortem_of_thread(self, channel: str, thread_ts: str) -> Postmortem | None:
        """The post-mortem whose thread this is, if any (one indexed lookup per event)."""
        with self._guard("find a post-mortem thread"):
            rows = dicts(
                self._db().execute(
                    "SELECT * FROM postmortems WHERE channel = ? AND thread_ts = ?",
                    [channel, thread_ts],
                )
            )
        return _postmortem(rows[0]) if rows else None

    def save_postmortem_fields(
        self, incident_id: int, *, fields: Mapping[str, str], by: str
    ) -> dict[str, tuple[str, str]]:
        """Merge ``fields`` in; what changed, as {field: (old, new)}. Secrets are scrubbed."""
        # Read and write as one: two saves at once must not lose a field.
        with self._guard("save a post-mortem"), immediate(self._db()) as db:
            rows = dicts(
                db.execute("SELECT fields FROM postmortems WHERE incident_id = ?", [incident_id])
            )
            if not rows:
                return {}
            current: dict[str, str] = json.loads(rows[0]["fields"])
            changed = {}
            for name, text in fields.items():
                clean = redact(text, secrets=self._secrets)
                if current.get(name, "") != clean:
                    changed[name] = (current.get(name, ""), clean)
                    current[name] = clean
            if changed:
                db.execute(
                    "UPDATE postmortems SET fields = ?, updated_at = ?, updated_by = ? "
                    "WHERE incident_id = ?",
                    [json.dumps(current), stamp(self._clock()), by, incident_id],
                )
        return changed

    def mark_stakeholders_notified(self, incident_id: int, *, undo: bool = False) -> bool:
        """Claim the stakeholder notice: True for the one caller that may send it. ``undo``
        gives the claim back when the notice could not be sent."""
        with self._guard("record a stakeholder notice"):
            if undo:
                cursor = self._db().execute(
                    "UPDATE postmortems SET notified_at = NULL WHERE incident_id = ?",
                    [incident_id],
                )
            else:
                cursor = self._db().execute(
                    "UPDATE postmortems SET notified_at = ? "
                    "WHERE incident_id = ? AND notified_at IS NULL",
                    [stamp(self._clock()), incident_id],
                )
        return cursor.rowcount == 1

    # -- freezes -------------------------------------------------------------------------------

    def freeze_phase(self, *, phase: str, incident_id: int, by: str) -> bool:
        """Freeze ``phase`` for this incident's rollback; True the first time only."""
        with self._guard("freeze the phase"):
            cursor = self._db().execute(
                "INSERT OR IGNORE INTO freezes (phase, incident_id, frozen_at, frozen_by) "
                "VALUES (?, ?, ?, ?)",
                [phase, incident_id, stamp(self._clock()), by],
            )
        return cursor.rowcount == 1

    def active_freezes(self, phase: str) -> list[Freeze]:
        with self._guard("read the freeze"):
            rows = dicts(
                self._db().execute(
                    "SELECT * FROM freezes WHERE phase = ? AND lifted_at IS NULL ORDER BY id",
                    [phase],
                )
            )
        return [_freeze(row) for row in rows]

    def freeze_of(self, incident_id: int) -> Freeze | None:
        with self._guard("read a freeze"):
            rows = dicts(
                self._db().execute("SELECT * FROM freezes WHERE incident_id = ?", [incident_id])
            )
        return _freeze(rows[0]) if rows else None

    # -- retries -------------------------------------------------------------------------------

    def request_retry(self, incident_id: int, *, by: str) -> RetryRequest:
        """A new "Before Retry" checklist for the incident, nothing ticked."""
        with self._guard("request a retry"):
            cursor = self._db().execute(
                "INSERT INTO retries (incident_id, requested_by, requested_at, ticked) "
                "VALUES (?, ?, ?, '[]')",
                [incident_id, by, stamp(self._clock())],
            )
        found = self.get_retry(int(cursor.lastrowid or 0))
        assert found is not None
        return found

    def get_retry(self, retry_id: int) -> RetryRequest | None:
        with self._guard("read a retry"):
            rows = dicts(self._db().execute("SELECT * FROM retries WHERE id = ?", [retry_id]))
        return _retry(rows[0]) if rows else None

    def set_retry_message(self, retry_id: int, *, channel: str, ts: str) -> None:
        with self._guard("remember a retry's message"):
            self._db().execute(
                "UPDATE retries SET channel = ?, message_ts = ? WHERE id = ?",
                [channel, ts, retry_id],
            )

    def tick_retry(self, retry_id: int, *, tick: Iterable[str], untick: Iterable[str]) -> bool:
        """Tick and untick items of an unapproved checklist, as one change applied to what is
        stored (so two people's clicks both count); False once it is approved."""
        with self._guard("tick a retry item"), immediate(self._db()) as db:
            rows = dicts(
                db.execute(
                    "SELECT ticked FROM retries WHERE id = ? AND approved_by IS NULL", [retry_id]
                )
            )
            if not rows:
                return False
            ticked = (set(json.loads(rows[0]["ticked"] or "[]")) | set(tick)) - set(untick)
            db.execute(
                "UPDATE retries SET ticked = ? WHERE id = ?",
                [json.dumps(sorted(ticked)), retry_id],
            )
        return True

    def approve_retry(self, retry_id: int, *, by: str, ticked: Iterable[str]) -> bool:
        """Approve the checklist and lift its incident's freeze, in one transaction; True for
        the one approval that did it, and only if the ticks are still exactly ``ticked``."""
        now = stamp(self._clock())
        with self._guard("approve a retry"), immediate(self._db()) as db:
            cursor = db.execute(
                "UPDATE retries SET approved_by = ?, approved_at = ? "
                "WHERE id = ? AND approved_by IS NULL AND ticked = ?",
                [by, now, retry_id, json.dumps(sorted(set(ticked)))],
            )
            if cursor.rowcount != 1:
                return False
            db.execute(
                "UPDATE freezes SET lifted_at = ?, lifted_by = ? WHERE lifted_at IS NULL "
                "AND incident_id = (SELECT incident_id FROM retries WHERE id = ?)",
                [now, by, retry_id],
            )
        return True


def _postmortem(row: Mapping[str, Any]) -> Postmortem:
    return Postmortem(
        incident_id=row["incident_id"],
        channel=row["channel"],
        thread_ts=row["thread_ts"],
        summary_ts=row["summary_ts"],
        fields=dict(json.loads(row["fields"] or "{}")),
        impact=tuple(json.loads(row["impact"] or "[]")),
        opened_at=parse_stamp(row["opened_at"]),
        updated_at=parse_stamp(row["updated_at"]),
        updated_by=row["updated_by"],
        notified_at=_maybe_stamp(row["notified_at"]),
    )


def _freeze(row: Mapping[str, Any]) -> Freeze:
    return Freeze(
        id=row["id"],
        phase=row["phase"],
        incident_id=row["incident_id"],
        frozen_at=parse_stamp(row["frozen_at"]),
        frozen_by=row["frozen_by"],
        lifted_at=_maybe_stamp(row["lifted_at"]),
        lifted_by=row["lifted_by"],
    )


def _retry(row: Mapping[str, Any]) -> RetryRequest:
    return RetryRequest(
        id=row["id"],
        incident_id=row["incident_id"],
        requested_by=row["requested_by"],
        requested_at=parse_stamp(row["requested_at"]),
        channel=row["channel"],
        message_ts=row["message_ts"],
        ticked=tuple(json.loads(row["ticked"] or "[]")),
        approved_by=row["approved_by"],
        approved_at=_maybe_stamp(row["approved_at"]),
    )
