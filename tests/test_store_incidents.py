"""Incidents in the store: ratings and resolutions decided inside SQLite, once each."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlite_utils import Database

from store import IncidentState, SqliteStore
from store.migrations import migrations


def _blocker(store: SqliteStore) -> int:
    incident = store.open_incident(
        scenario="blocker",
        severity=None,
        trigger="login loops",
        requester="U0ENG",
        channel="C0INCIDENTS",
        source="blocker",
        state=IncidentState.AWAITING_RATING,
    )
    return incident.id


def test_open_incident_records_source_state_and_who_rated_it(fresh_store: SqliteStore) -> None:
    blocker = fresh_store.get_incident(_blocker(fresh_store))
    assert blocker is not None
    assert (blocker.source, blocker.state, blocker.rated_by) == (
        "blocker",
        IncidentState.AWAITING_RATING,
        None,
    )
    assert blocker.needs_decision
    rated = fresh_store.open_incident(
        scenario="minor", severity="2", trigger="t", requester="U0ENG", channel="C0INCIDENTS"
    )
    assert (rated.source, rated.rated_by, rated.needs_decision) == ("scenario", "U0ENG", False)


def test_rate_incident_wins_once_when_two_rate_the_same_view(fresh_store: SqliteStore) -> None:
    seen = fresh_store.get_incident(_blocker(fresh_store))
    assert seen is not None
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def rate(who: str, severity: str) -> None:
        barrier.wait(timeout=5)
        results.append(
            fresh_store.rate_incident(
                seen.id,
                seen=seen,
                severity=severity,
                rated_by=who,
                decision={"rule_id": "x"},
                state=IncidentState.FIXING,
            )
        )

    threads = [threading.Thread(target=rate, args=(w, s)) for w, s in (("U1", "4"), ("U2", "5"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == [False, True]
    after = fresh_store.get_incident(seen.id)
    assert after is not None
    assert (after.severity, after.rated_by) in (("4", "U1"), ("5", "U2"))
    assert after.state is IncidentState.FIXING
    assert after.decision == {"rule_id": "x"}


def test_rate_incident_refuses_a_stale_view(fresh_store: SqliteStore) -> None:
    seen = fresh_store.get_incident(_blocker(fresh_store))
    assert seen is not None
    assert fresh_store.transition_incident(
        seen.id, expected=[IncidentState.AWAITING_RATING], new=IncidentState.RESOLVED
    )
    assert not fresh_store.rate_incident(
        seen.id, seen=seen, severity="5", rated_by="U1", decision={}, state=IncidentState.OPEN
    )
    after = fresh_store.get_incident(seen.id)
    assert after is not None and after.severity is None


def test_resolve_incident_once_with_the_lesson_scrubbed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db", secrets=("hunter2",))
    incident_id = _blocker(store)
    open_states = [IncidentState.AWAITING_RATING, IncidentState.FIXING]
    lesson = "restart fixed it; password hunter2 was in the log"
    assert store.resolve_incident(
        incident_id,
        expected=open_states,
        resolution="fixed_forward",
        resolved_by="U0ENG",
        lesson=lesson,
    )
    assert not store.resolve_incident(
        incident_id,
        expected=open_states,
        resolution="fixed_forward",
        resolved_by="U0ENG",
        lesson="again",
    )
    incident = store.get_incident(incident_id)
    assert incident is not None
    assert (incident.state, incident.resolution, incident.resolved_by) == (
        IncidentState.RESOLVED,
        "fixed_forward",
        "U0ENG",
    )
    assert "hunter2" not in incident.lesson and incident.lesson.startswith("restart fixed it")
    store.close()


def test_notices_and_the_card_are_remembered(fresh_store: SqliteStore) -> None:
    incident_id = _blocker(fresh_store)
    fresh_store.set_incident_message(incident_id, channel="C0INCIDENTS", ts="1.1")
    fresh_store.add_notice(incident_id=incident_id, kind="rate", user="U1", channel="D1", ts="2.1")
    fresh_store.add_notice(incident_id=incident_id, kind="page", user="U2", channel="D2", ts="3.1")
    incident = fresh_store.get_incident(incident_id)
    assert incident is not None and incident.message_ts == "1.1"
    assert [(n.user, n.ts) for n in fresh_store.notices_of(incident_id)] == [
        ("U1", "2.1"),
        ("U2", "3.1"),
    ]
    assert [n.user for n in fresh_store.notices_of(incident_id, kind="page")] == ["U2"]


def test_m007_says_old_incidents_were_rated_by_their_requester(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    # The store as the previous release left it: every migration before m007 applied.
    migrations.apply(db, stop_before="m007_ratings_and_notices")
    db.execute(
        "INSERT INTO incidents (scenario, severity, trigger, requester, channel, state, "
        "created_at, updated_at) VALUES ('minor', '2', 't', 'U0OLD', 'C1', 'open', "
        "'2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00')"
    )
    db.conn.commit()
    db.conn.close()
    store = SqliteStore(path)
    (old,) = store.list_incidents()
    assert (old.rated_by, old.source, old.lesson) == ("U0OLD", "scenario", "")
    store.close()
