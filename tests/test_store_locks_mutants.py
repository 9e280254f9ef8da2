"""Lock rules that survived mutation (scripts/mutants store/locks.py): a failing store must say
which lock operation failed, since the lock is what a stuck rollback or checkpoint shows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from actions.errors import StoreBusyError, StoreError
from store import SqliteStore

BUSY = "the store is busy with another writer. Nothing was changed; try again in a moment."


def test_lock_writes_while_another_writer_holds_the_store_say_what_failed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.db"
    store = SqliteStore(path, busy_timeout_s=0.1)
    assert store.acquire_lock("repo", owner="U0ENG", reason="checkpoint")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError) as taking:
            store.acquire_lock("other", owner="U0ENG", reason="rollback #1")
        with pytest.raises(StoreBusyError) as releasing:
            store.release_lock("repo", owner="U0ENG")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert taking.value.user_message == f"Could not take a lock: {BUSY}"
    assert releasing.value.user_message == f"Could not release a lock: {BUSY}"
    # Nothing changed: the held lock is still there and the other was never taken.
    assert [(lock.name, lock.owner) for lock in store.list_locks()] == [("repo", "U0ENG")]
    store.close()


def test_lock_read_of_a_damaged_store_says_what_failed(tmp_path: Path) -> None:
    # Readers never wait for a writer (WAL), so a read fails only on a damaged file.
    path = tmp_path / "damaged.db"
    store = SqliteStore(path)
    damage = sqlite3.connect(path, isolation_level=None)
    damage.execute("DROP TABLE locks")
    damage.close()
    try:
        with pytest.raises(StoreError) as reading:
            store.get_lock("repo")
        assert reading.value.user_message == "Could not read locks: no such table: locks"
    finally:
        store.close()
