from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from actions.errors import StoreBusyError
from store import IncidentState, SqliteStore, Surface, TimelineAction


def test_store_applies_migrations_once_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteStore(path).close()
    SqliteStore(path).close()
    connection = sqlite3.connect(path)
    names = [
        row[0] for row in connection.execute("SELECT name FROM _sqlite_migrations ORDER BY id")
    ]
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    assert names == [
        "m001_incidents_and_timeline",
        "m002_deliveries",
        "m003_timers_and_values",
        "m004_locks",
        "m005_plans_and_journal",
        "m006_checkpoints",
        "m007_ratings_and_notices",
        "m008_postmortems_freezes_retries",
        "m009_drills_and_watch",
    ]
    assert mode == "wal"


def test_claim_delivery_first_time_only(fresh_store: SqliteStore) -> None:
    assert fresh_store.claim_delivery("command:123.456")
    assert not fresh_store.claim_delivery("command:123.456")
    assert fresh_store.claim_delivery("command:123.457")


def test_claim_delivery_concurrent_claims_have_one_winner(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "race.db")
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def claim() -> None:
        barrier.wait(timeout=5)
        results.append(store.claim_delivery("action:same"))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    store.close()
    assert sorted(results) == [False] * 15 + [True]


def test_timeline_is_append_only_and_ordered(fresh_store: SqliteStore, tmp_path: Path) -> None:
    actions = [TimelineAction.STATUS, TimelineAction.VALIDATION, TimelineAction.CHECKPOINT]
    for index, action in enumerate(actions):
        fresh_store.append_event(
            actor="U0ENG", surface=Surface.SLACK, action=action, details={"i": index}
        )
    events = fresh_store.timeline()
    assert [event.action for event in events] == ["status", "validation", "checkpoint"]
    assert [event.details["i"] for event in fresh_store.timeline(limit=2)] == [1, 2]
    connection = sqlite3.connect(tmp_path / "fresh.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("UPDATE timeline SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("DELETE FROM timeline")
    connection.close()


def test_append_event_refuses_a_bare_string_that_is_no_timeline_action(
    fresh_store: SqliteStore,
) -> None:
    with pytest.raises(ValueError, match="TimelineAction"):
        fresh_store.append_event(actor="U0ENG", surface=Surface.SLACK, action="typo")  # type: ignore[arg-type]
    assert fresh_store.timeline() == []


def test_append_event_redacts_secrets(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db", secrets=("signing-secret-value",))
    store.append_event(
        actor="U0ENG",
        surface=Surface.SLACK,
        action=TimelineAction.STATUS,
        details={
            "output": "token xoxb-1-2-abc url postgres://app:hunter2@db/x signing-secret-value"
        },
    )
    raw = (tmp_path / "r.db").read_bytes() + (tmp_path / "r.db-wal").read_bytes()
    store.close()
    for secret in (b"xoxb-1-2-abc", b"hunter2", b"signing-secret-value"):
        assert secret not in raw


def test_incident_transition_is_compare_and_set(fresh_store: SqliteStore) -> None:
    incident = fresh_store.open_incident(
        scenario="critical",
        severity="5",
        trigger="API down",
        requester="U0ENG",
        channel="C0INCIDENTS",
    )
    assert incident.state is IncidentState.OPEN
    assert fresh_store.transition_incident(
        incident.id, expected=[IncidentState.OPEN], new=IncidentState.ROLLING_BACK
    )
    assert not fresh_store.transition_incident(
        incident.id, expected=[IncidentState.OPEN], new=IncidentState.ROLLING_BACK
    )
    assert fresh_store.list_incidents()[0].state is IncidentState.ROLLING_BACK
    fresh_store.transition_incident(
        incident.id, expected=[IncidentState.ROLLING_BACK], new=IncidentState.RESOLVED
    )
    assert fresh_store.list_incidents() == []
    assert fresh_store.get_incident(incident.id) is not None
    assert fresh_store.get_incident(999) is None


def test_store_busy_writer_gives_store_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SqliteStore(path, busy_timeout_s=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError, match="Nothing was changed"):
            store.append_event(actor="U0ENG", surface=Surface.SLACK, action=TimelineAction.STATUS)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.append_event(actor="U0ENG", surface=Surface.SLACK, action=TimelineAction.VALIDATION)
    assert [event.action for event in store.timeline()] == ["validation"]
    store.close()


def test_lock_has_one_holder_and_only_the_holder_releases(fresh_store: SqliteStore) -> None:
    assert fresh_store.acquire_lock(
        "repo", owner="U0ENG", reason="checkpoint phase2-checkpoint-T+4h"
    )
    assert not fresh_store.acquire_lock("repo", owner="U0ORCH", reason="rollback #3")
    held = fresh_store.get_lock("repo")
    assert held is not None and (held.owner, held.reason) == (
        "U0ENG",
        "checkpoint phase2-checkpoint-T+4h",
    )
    assert not fresh_store.release_lock("repo", owner="U0ORCH")
    assert fresh_store.release_lock("repo", owner="U0ENG")
    assert fresh_store.list_locks() == []
    assert fresh_store.acquire_lock("repo", owner="U0ORCH", reason="rollback #3")


def test_lock_race_across_connections_has_one_winner(tmp_path: Path) -> None:
    stores = [SqliteStore(tmp_path / "locks.db") for _ in range(4)]
    wins: list[bool] = []
    barrier = threading.Barrier(12)

    def take(index: int) -> None:
        barrier.wait(timeout=5)
        wins.append(stores[index % 4].acquire_lock("repo", owner=f"U{index}", reason="x"))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for store in stores:
        store.close()
    assert sorted(wins) == [False] * 11 + [True]
