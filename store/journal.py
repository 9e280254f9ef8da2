"""The step journal of plans on SQLite, mixed into :class:`store.sqlite.SqliteStore`.

Each step of each attempt of a plan is written "started" before it runs and "done" (or
"failed") after, with the repository's state; like the timeline, the database itself refuses
to edit or delete an entry. This is what a restarted bot resumes from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from actions.redact import redact
from store.models import JournalEntry
from store.parts import StorePart
from store.rows import dicts, to_json
from store.stamps import parse_stamp, stamp

JOURNAL_STATUSES = ("started", "done", "failed", "skipped")


class JournalStore(StorePart):
    """The append-only journal of each plan's steps, before and after."""

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
    ) -> JournalEntry:
        """Append one step's record; the database refuses to change it afterwards."""
        if status not in JOURNAL_STATUSES:
            raise ValueError(f"unknown journal status {status!r}; expected {JOURNAL_STATUSES}")
        at = self._clock()
        before_json, after_json = (
            to_json(before, secrets=self._secrets),
            to_json(after, secrets=self._secrets),
        )
        text = redact(message, secrets=self._secrets)
        with self._guard("write the journal"):
            cursor = self._db().execute(
                "INSERT INTO journal (plan_id, attempt, step, status, at, before, after, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [plan_id, attempt, step, status, stamp(at), before_json, after_json, text],
            )
        return JournalEntry(
            id=int(cursor.lastrowid or 0),
            plan_id=plan_id,
            attempt=attempt,
            step=step,
            status=status,
            at=at,
            before=json.loads(before_json),
            after=json.loads(after_json),
            message=text,
        )

    def journal(self, plan_id: int) -> list[JournalEntry]:
        """Every step recorded for the plan, all attempts, oldest first."""
        with self._guard("read the journal"):
            rows = dicts(
                self._db().execute("SELECT * FROM journal WHERE plan_id = ? ORDER BY id", [plan_id])
            )
        return [_entry(row) for row in rows]


def _entry(row: Mapping[str, Any]) -> JournalEntry:
    return JournalEntry(
        id=row["id"],
        plan_id=row["plan_id"],
        attempt=row["attempt"],
        step=row["step"],
        status=row["status"],
        at=parse_stamp(row["at"]),
        before=json.loads(row["before"]),
        after=json.loads(row["after"]),
        message=row["message"],
    )
