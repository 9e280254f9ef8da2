"""Timers and named values on SQLite, mixed into :class:`store.sqlite.SqliteStore`.

A timer fires at most once per due time: :meth:`TimerStore.claim_timer` moves ``due_at`` with a
compare-and-set, and only the caller whose update matched fires it. A bot that was down past
several intervals fires once, late, and the next due time is the first slot after now, never a
burst of missed ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from store.models import Timer
from store.parts import StorePart
from store.stamps import parse_stamp, stamp


class TimerStore(StorePart):
    """Timers that survive a restart and fire once, and small named values."""

    def schedule_timer(
        self,
        name: str,
        *,
        kind: str,
        due_at: datetime,
        interval_s: float | None = None,
        payload: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> bool:
        """Create a timer; an existing one is kept (a restart must not reset it) unless replace."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._guard("schedule a timer"):
            cursor = self._db().execute(
                f"{verb} INTO timers (name, kind, due_at, interval_s, payload, fired_count) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                [name, kind, stamp(due_at), interval_s, json.dumps(dict(payload or {}))],
            )
        return cursor.rowcount == 1

    def due_timers(self, *, now: datetime) -> list[Timer]:
        with self._guard("read timers"):
            cursor = self._db().execute(
                "SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at", [stamp(now)]
            )
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return [_timer(row) for row in rows]

    def get_timer(self, name: str) -> Timer | None:
        with self._guard("read a timer"):
            cursor = self._db().execute("SELECT * FROM timers WHERE name = ?", [name])
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return _timer(rows[0]) if rows else None

    def claim_timer(self, timer: Timer, *, now: datetime) -> bool:
        """Take this firing of ``timer``; True for exactly one caller per due time."""
        with self._guard("claim a timer"):
            db = self._db()
            if timer.interval_s is None:
                cursor = db.execute(
                    "DELETE FROM timers WHERE name = ? AND due_at = ?",
                    [timer.name, stamp(timer.due_at)],
                )
            else:
                next_due = next_slot(timer.due_at, timer.interval_s, now)
                cursor = db.execute(
                    "UPDATE timers SET due_at = ?, fired_count = fired_count + 1, "
                    "last_fired_at = ? WHERE name = ? AND due_at = ?",
                    [stamp(next_due), stamp(now), timer.name, stamp(timer.due_at)],
                )
        return cursor.rowcount == 1

    def cancel_timer(self, name: str) -> bool:
        with self._guard("cancel a timer"):
            cursor = self._db().execute("DELETE FROM timers WHERE name = ?", [name])
        return cursor.rowcount == 1

    def read_value(self, key: str) -> str | None:
        with self._guard("read a value"):
            row = self._db().execute("SELECT value FROM bot_values WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def write_value(self, key: str, value: str) -> None:
        with self._guard("write a value"):
            self._db().execute(
                "INSERT INTO bot_values (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [key, value, stamp(self._clock())],
            )


def next_slot(due_at: datetime, interval_s: float, now: datetime) -> datetime:
    """The first due time on the timer's cadence that is after ``now``."""
    step = timedelta(seconds=interval_s)
    if now < due_at:
        return due_at + step
    missed = int((now - due_at) / step) + 1
    return due_at + missed * step


def _timer(row: Mapping[str, Any]) -> Timer:
    return Timer(
        name=row["name"],
        kind=row["kind"],
        due_at=parse_stamp(row["due_at"]),
        interval_s=row["interval_s"],
        payload=json.loads(row["payload"]),
        fired_count=row["fired_count"],
        last_fired_at=parse_stamp(row["last_fired_at"]) if row["last_fired_at"] else None,
    )
