"""Locks on SQLite, mixed into :class:`store.sqlite.SqliteStore`.

A lock is a row: ``INSERT OR IGNORE`` lets exactly one writer take it, across threads,
processes and replicas sharing the store. It is never taken over silently: a lock left by a
crashed bot stays visible in ``status`` until its operation is resumed or released.
"""

from __future__ import annotations

from store.models import Lock
from store.parts import StorePart
from store.stamps import parse_stamp, stamp


class LockStore(StorePart):
    """Named locks with their owner and reason, taken by compare-and-set."""

    def acquire_lock(self, name: str, *, owner: str, reason: str) -> bool:
        with self._guard("take a lock"):
            cursor = self._db().execute(
                "INSERT OR IGNORE INTO locks (name, owner, reason, acquired_at) "
                "VALUES (?, ?, ?, ?)",
                [name, owner, reason, stamp(self._clock())],
            )
        return cursor.rowcount == 1

    def release_lock(self, name: str, *, owner: str) -> bool:
        """Release only a lock this owner holds; False if it was not held by them."""
        with self._guard("release a lock"):
            cursor = self._db().execute(
                "DELETE FROM locks WHERE name = ? AND owner = ?", [name, owner]
            )
        return cursor.rowcount == 1

    def get_lock(self, name: str) -> Lock | None:
        return next((lock for lock in self.list_locks() if lock.name == name), None)

    def list_locks(self) -> list[Lock]:
        with self._guard("read locks"):
            rows = (
                self._db()
                .execute("SELECT name, owner, reason, acquired_at FROM locks ORDER BY acquired_at")
                .fetchall()
            )
        return [Lock(name, owner, reason, parse_stamp(at)) for name, owner, reason, at in rows]
