from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from actions.errors import StoreBusyError, StoreError
from store import Incident, IncidentState, Plan, PlanState, SqliteStore
from store.migrations import migrations
from store.plans import immediate

NOW = datetime(2025, 11, 21, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)


def _incident(store: SqliteStore, **extra: Any) -> Incident:
    return store.open_incident(
        scenario="critical",
        severity="5",
        trigger="API down",
        requester="U0ENG",
        channel="C0INCIDENTS",
        **extra,
    )


def _propose(
    store: SqliteStore, incident_id: int, *, kind: str = "rollback", expires_at: datetime = LATER
) -> Plan:
    return store.propose_plan(
        incident_id=incident_id,
        kind=kind,
        body={"target": "phase2-checkpoint-T+4h", "steps": ["backup", "reset"]},
        fingerprint=f"fp-{kind}",
        requested_by="U0ENG",
        expires_at=expires_at,
        channel="C0INCIDENTS",
    )


def _incident_row(store: SqliteStore, incident_id: int) -> Incident:
    incident = store.get_incident(incident_id)
    assert incident is not None
    return incident


def _state(store: SqliteStore, incident_id: int) -> IncidentState:
    return _incident_row(store, incident_id).state


def _plan(store: SqliteStore, plan_id: int) -> Plan:
    plan = store.get_plan(plan_id)
    assert plan is not None
    return plan


def _running(store: SqliteStore) -> tuple[Incident, Plan]:
    incident = _incident(store)
    plan = _propose(store, incident.id)
    assert store.approve_plan(plan.id, approver="U0ORCH", now=NOW)
    return incident, plan


def test_propose_plan_supersedes_earlier_proposal_and_awaits_approval(
    fresh_store: SqliteStore,
) -> None:
    incident = _incident(fresh_store)
    first = _propose(fresh_store, incident.id)
    assert first.state is PlanState.PROPOSED
    assert (first.attempt, first.waived, first.forced, first.result) == (0, False, False, {})
    assert first.body == {"target": "phase2-checkpoint-T+4h", "steps": ["backup", "reset"]}
    assert first.expires_at == LATER
    assert _state(fresh_store, incident.id) is IncidentState.AWAITING_APPROVAL
    second = _propose(fresh_store, incident.id, kind="cherry_pick")
    states = [(plan.id, plan.state) for plan in fresh_store.plans_of(incident.id)]
    assert states == [(first.id, PlanState.SUPERSEDED), (second.id, PlanState.PROPOSED)]
    assert not fresh_store.approve_plan(first.id, approver="U0ORCH", now=NOW)


def test_propose_plan_cherry_pick_leaves_incident_state(fresh_store: SqliteStore) -> None:
    incident = _incident(fresh_store)
    plan = _propose(fresh_store, incident.id, kind="cherry_pick")
    assert fresh_store.approve_plan(plan.id, approver="U0ORCH", now=NOW)
    assert _state(fresh_store, incident.id) is IncidentState.OPEN


def test_propose_plan_refused_while_a_rollback_is_under_way(fresh_store: SqliteStore) -> None:
    incident, plan = _running(fresh_store)
    with pytest.raises(StoreError, match=f"incident {incident.id} is already under way"):
        _propose(fresh_store, incident.id)
    assert fresh_store.stop_plan(plan.id, attempt=1, result={"failed": "reset"})
    with pytest.raises(StoreError, match="already under way"):
        _propose(fresh_store, incident.id, kind="cherry_pick")
    assert [p.id for p in fresh_store.plans_of(incident.id)] == [plan.id]
    assert _state(fresh_store, incident.id) is IncidentState.STOPPED


def test_propose_plan_unknown_incident_or_kind_is_refused(fresh_store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="no incident 42"):
        _propose(fresh_store, 42)
    incident = _incident(fresh_store)
    with pytest.raises(ValueError, match="unknown plan kind"):
        _propose(fresh_store, incident.id, kind="revert")
    assert fresh_store.plans_of(incident.id) == []
    assert fresh_store.plans_of(42) == []
    assert fresh_store.get_plan(999) is None
    assert not fresh_store.approve_plan(999, approver="U0ORCH", now=NOW)


def test_immediate_rolls_back_every_statement_on_failure(fresh_store: SqliteStore) -> None:
    incident = _incident(fresh_store)
    db = fresh_store._db()
    with pytest.raises(RuntimeError), immediate(db):
        db.execute("UPDATE incidents SET state = 'resolved' WHERE id = ?", [incident.id])
        db.execute("UPDATE incidents SET trigger = 'changed' WHERE id = ?", [incident.id])
        raise RuntimeError("boom")
    assert not db.conn.in_transaction
    after = fresh_store.get_incident(incident.id)
    assert after is not None and (after.state, after.trigger) == (IncidentState.OPEN, "API down")


def test_approve_plan_has_one_winner_among_threads(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "race.db")
    incident = _incident(store)
    plan = _propose(store, incident.id)
    results: dict[str, bool] = {}
    barrier = threading.Barrier(20)

    def approve(index: int) -> None:
        barrier.wait(timeout=5)
        results[f"U{index}"] = store.approve_plan(plan.id, approver=f"U{index}", now=NOW)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [who for who, won in results.items() if won]
    approved = _plan(store, plan.id)
    state = _state(store, incident.id)
    store.close()
    assert len(results) == 20 and len(winners) == 1
    assert approved == replace(
        plan, state=PlanState.RUNNING, attempt=1, approved_by=winners[0], approved_at=NOW
    )
    assert state is IncidentState.ROLLING_BACK


def _approve_in_process(path: str, plan_id: int, who: str, barrier: Any, out: Any) -> None:
    store = SqliteStore(path)
    barrier.wait(timeout=30)
    out.put((who, store.approve_plan(plan_id, approver=who, now=NOW)))
    store.close()


def test_approve_plan_has_one_winner_among_processes(tmp_path: Path) -> None:
    path = tmp_path / "processes.db"
    store = SqliteStore(path)
    plan = _propose(store, _incident(store).id)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    out = context.Queue()
    workers = [
        context.Process(
            target=_approve_in_process, args=(str(path), plan.id, f"P{i}", barrier, out)
        )
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    results = dict(out.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    approved = _plan(store, plan.id)
    store.close()
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert sorted(results.values()) == [False, False, False, True]
    assert approved.approved_by == next(who for who, won in results.items() if won)


def test_approve_plan_records_waiver_and_force(fresh_store: SqliteStore) -> None:
    plan = _propose(fresh_store, _incident(fresh_store).id)
    assert fresh_store.approve_plan(plan.id, approver="U0ORCH", now=NOW, waived=True, forced=True)
    approved = _plan(fresh_store, plan.id)
    assert (approved.waived, approved.forced) == (True, True)


def test_approve_plan_refused_after_expiry(fresh_store: SqliteStore) -> None:
    incident = _incident(fresh_store)
    plan = _propose(fresh_store, incident.id, expires_at=NOW)
    assert not fresh_store.approve_plan(plan.id, approver="U0ORCH", now=NOW)
    assert not fresh_store.approve_plan(plan.id, approver="U0ORCH", now=NOW + timedelta(hours=1))
    assert _plan(fresh_store, plan.id).state is PlanState.PROPOSED
    assert _state(fresh_store, incident.id) is IncidentState.AWAITING_APPROVAL


def test_approve_plan_refused_after_reject(fresh_store: SqliteStore) -> None:
    incident = _incident(fresh_store)
    plan = _propose(fresh_store, incident.id)
    assert fresh_store.reject_plan(plan.id, by="U0ORCH", now=NOW)
    assert not fresh_store.reject_plan(plan.id, by="U0OTHER", now=NOW)
    assert not fresh_store.approve_plan(plan.id, approver="U0ORCH", now=NOW)
    assert _plan(fresh_store, plan.id) == replace(
        plan, state=PlanState.REJECTED, approved_by="U0ORCH", approved_at=NOW
    )
    assert _state(fresh_store, incident.id) is IncidentState.REJECTED


def test_reject_plan_refused_after_approve(fresh_store: SqliteStore) -> None:
    incident, plan = _running(fresh_store)
    assert not fresh_store.reject_plan(plan.id, by="U0ORCH", now=NOW)
    assert _plan(fresh_store, plan.id).state is PlanState.RUNNING
    assert _state(fresh_store, incident.id) is IncidentState.ROLLING_BACK


def test_stop_then_resume_starts_attempt_two_once(fresh_store: SqliteStore) -> None:
    incident, plan = _running(fresh_store)
    assert not fresh_store.stop_plan(plan.id, attempt=2, result={"failed": "reset"})
    assert fresh_store.stop_plan(plan.id, attempt=1, result={"failed": "reset"})
    stopped = _plan(fresh_store, plan.id)
    assert (stopped.state, stopped.result) == (PlanState.STOPPED, {"failed": "reset"})
    assert _state(fresh_store, incident.id) is IncidentState.STOPPED
    assert fresh_store.unfinished_plans() == [stopped]
    assert fresh_store.resume_plan(plan.id, expected_attempt=1) == 2
    assert fresh_store.resume_plan(plan.id, expected_attempt=1) is None
    resumed = _plan(fresh_store, plan.id)
    assert (resumed.state, resumed.attempt) == (PlanState.RUNNING, 2)
    assert _state(fresh_store, incident.id) is IncidentState.ROLLING_BACK
    assert not fresh_store.stop_plan(plan.id, attempt=1, result={"late": True})


def test_resume_plan_from_running_after_a_crash(fresh_store: SqliteStore) -> None:
    _, plan = _running(fresh_store)
    assert [p.id for p in fresh_store.unfinished_plans()] == [plan.id]
    assert fresh_store.resume_plan(plan.id, expected_attempt=1) == 2
    assert fresh_store.resume_plan(plan.id, expected_attempt=2) == 3
    assert _plan(fresh_store, plan.id).attempt == 3


def test_resume_plan_refused_before_approval_and_after_finish(fresh_store: SqliteStore) -> None:
    incident = _incident(fresh_store)
    proposed = _propose(fresh_store, incident.id)
    assert fresh_store.resume_plan(proposed.id, expected_attempt=0) is None
    assert fresh_store.approve_plan(proposed.id, approver="U0ORCH", now=NOW)
    assert fresh_store.finish_plan(proposed.id, attempt=1, state=PlanState.DONE, result={})
    assert fresh_store.resume_plan(proposed.id, expected_attempt=1) is None


def test_finish_plan_sets_state_and_result(fresh_store: SqliteStore) -> None:
    incident, plan = _running(fresh_store)
    assert fresh_store.finish_plan(
        plan.id, attempt=1, state=PlanState.DONE, result={"to_sha": "a" * 40}
    )
    done = _plan(fresh_store, plan.id)
    assert (done.state, done.result) == (PlanState.DONE, {"to_sha": "a" * 40})
    assert fresh_store.unfinished_plans() == []
    assert not fresh_store.finish_plan(plan.id, attempt=1, state=PlanState.ABORTED, result={})
    assert _state(fresh_store, incident.id) is IncidentState.ROLLING_BACK


def test_finish_plan_wrong_attempt_is_false_and_stopped_plan_aborts(
    fresh_store: SqliteStore,
) -> None:
    _, plan = _running(fresh_store)
    assert fresh_store.resume_plan(plan.id, expected_attempt=1) == 2
    assert not fresh_store.finish_plan(plan.id, attempt=1, state=PlanState.DONE, result={})
    assert _plan(fresh_store, plan.id).state is PlanState.RUNNING
    assert fresh_store.stop_plan(plan.id, attempt=2, result={"failed": "push"})
    aborted = {"by": "U0ORCH"}
    assert fresh_store.finish_plan(plan.id, attempt=2, state=PlanState.ABORTED, result=aborted)
    assert _plan(fresh_store, plan.id).result == aborted
    assert _plan(fresh_store, plan.id).state is PlanState.ABORTED


def test_finish_plan_non_final_state_raises(fresh_store: SqliteStore) -> None:
    _, plan = _running(fresh_store)
    for state in (PlanState.PROPOSED, PlanState.RUNNING, PlanState.REJECTED):
        with pytest.raises(ValueError, match="done or aborted"):
            fresh_store.finish_plan(plan.id, attempt=1, state=state, result={})
    assert _plan(fresh_store, plan.id).state is PlanState.RUNNING


def test_plan_state_is_final_only_for_ended_plans() -> None:
    final = {state for state in PlanState if state.is_final}
    assert final == {PlanState.DONE, PlanState.REJECTED, PlanState.SUPERSEDED, PlanState.ABORTED}
    closed = {state for state in IncidentState if not state.is_open}
    assert closed == {IncidentState.REJECTED, IncidentState.RESOLVED, IncidentState.CLOSED}


def test_set_plan_message_round_trips(fresh_store: SqliteStore) -> None:
    plan = _propose(fresh_store, _incident(fresh_store).id)
    assert plan.message_ts is None
    fresh_store.set_plan_message(plan.id, channel="C0OTHER", ts="1732190400.000100")
    updated = _plan(fresh_store, plan.id)
    assert (updated.channel, updated.message_ts) == ("C0OTHER", "1732190400.000100")


def test_journal_is_append_only_ordered_and_checked(
    fresh_store: SqliteStore, tmp_path: Path
) -> None:
    _, plan = _running(fresh_store)
    fresh_store.journal_step(plan_id=plan.id, attempt=1, step="backup", status="started")
    fresh_store.journal_step(
        plan_id=plan.id,
        attempt=1,
        step="backup",
        status="done",
        before={"head": "b" * 40},
        after={"branch": "backup/1"},
        message="pushed",
    )
    fresh_store.journal_step(plan_id=plan.id, attempt=2, step="reset", status="failed")
    entries = fresh_store.journal(plan.id)
    assert [(e.attempt, e.step, e.status) for e in entries] == [
        (1, "backup", "started"),
        (1, "backup", "done"),
        (2, "reset", "failed"),
    ]
    assert entries[1].before == {"head": "b" * 40}
    assert (entries[1].after, entries[1].message) == ({"branch": "backup/1"}, "pushed")
    assert (entries[0].before, entries[0].after, entries[0].message) == ({}, {}, "")
    connection = sqlite3.connect(tmp_path / "fresh.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("UPDATE journal SET status = 'done'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute("DELETE FROM journal")
    connection.close()
    with pytest.raises(ValueError, match="unknown journal status"):
        fresh_store.journal_step(plan_id=plan.id, attempt=1, step="reset", status="ok")
    assert fresh_store.journal(plan.id) == entries


def test_journal_step_redacts_secrets(tmp_path: Path) -> None:
    path = tmp_path / "secret.db"
    store = SqliteStore(path, secrets=("hunter2",))
    _, plan = _running(store)
    entry = store.journal_step(
        plan_id=plan.id,
        attempt=1,
        step="database",
        status="failed",
        before={"url": "postgres://app:s3cret@db/x"},
        after={"output": "auth hunter2 failed"},
        message="psql said hunter2 and xoxb-1-2-abc",
    )
    read = store.journal(plan.id)[0]
    raw = path.read_bytes() + (tmp_path / "secret.db-wal").read_bytes()
    store.close()
    assert read == entry
    for text in (str(entry.before), str(entry.after), entry.message):
        assert "hunter2" not in text and "s3cret" not in text and "xoxb-1-2-abc" not in text
    assert "[redacted]" in entry.message
    for secret in (b"hunter2", b"s3cret", b"xoxb-1-2-abc"):
        assert secret not in raw


def test_record_rollback_fields_round_trip(fresh_store: SqliteStore) -> None:
    incident, _ = _running(fresh_store)
    fields: dict[str, Any] = {
        "state": IncidentState.ROLLED_BACK,
        "from_sha": "f" * 40,
        "to_sha": "c" * 40,
        "target_ref": "phase2-checkpoint-T+4h",
        "backup_branch": "backup/incident-1",
        "healthy": False,
    }
    fresh_store.record_rollback(incident.id, **fields)
    after = fresh_store.get_incident(incident.id)
    assert after is not None and after.updated_at >= incident.updated_at
    assert after == replace(incident, **fields, updated_at=after.updated_at)
    fresh_store.record_rollback(incident.id, **{**fields, "healthy": True})
    assert _incident_row(fresh_store, incident.id).healthy is True
    with pytest.raises(StoreError, match="no incident 999"):
        fresh_store.record_rollback(999, **fields)


def test_open_incident_decision_round_trips(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.db", secrets=("hunter2",))
    decision = {"action": "rollback", "target": "latest checkpoint", "why": "hunter2 leaked"}
    incident = _incident(store, decision=decision)
    plain = _incident(store)
    store.close()
    assert incident.decision == {**decision, "why": "[redacted] leaked"}
    assert (plain.decision, plain.healthy, plain.from_sha) == ({}, None, None)


def test_approve_plan_locked_database_raises_store_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SqliteStore(path, busy_timeout_s=0.1)
    incident = _incident(store)
    plan = _propose(store, incident.id)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError, match="Could not approve a plan"):
            store.approve_plan(plan.id, approver="U0ORCH", now=NOW)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert _plan(store, plan.id).state is PlanState.PROPOSED
    assert store.approve_plan(plan.id, approver="U0ORCH", now=NOW)
    store.close()


def test_store_upgrades_a_file_created_before_m005(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m005_plans_and_journal")
    old.execute(
        "INSERT INTO incidents (scenario, severity, trigger, requester, channel, state, "
        "created_at, updated_at, message_ts) VALUES ('critical', '5', 'API down', 'U0ENG', "
        "'C0INCIDENTS', 'open', '2025-11-21T09:00:00.000000+00:00', "
        "'2025-11-21T09:00:00.000000+00:00', '1.2')"
    )
    assert "plans" not in old.table_names()
    old.close()
    store = SqliteStore(path)
    store.close()
    store = SqliteStore(path)
    before = store.get_incident(1)
    plan = _propose(store, 1)
    names = [row[0] for row in store._db().execute("SELECT name FROM _sqlite_migrations")]
    store.close()
    assert before is not None and (before.message_ts, before.decision) == ("1.2", {})
    assert (before.healthy, before.from_sha, before.backup_branch) == (None, None, None)
    assert plan.incident_id == 1
    assert names.count("m005_plans_and_journal") == 1


def test_withdraw_plans_retires_only_this_incidents_proposals(fresh_store: SqliteStore) -> None:
    first, other, third = (_incident(fresh_store) for _ in range(3))
    proposed = _propose(fresh_store, first.id)
    approved = _propose(fresh_store, other.id)
    assert fresh_store.approve_plan(approved.id, approver="U0ORCH", now=NOW)
    elsewhere = _propose(fresh_store, third.id)

    withdrawn = fresh_store.withdraw_plans(first.id)

    assert [(plan.id, plan.state) for plan in withdrawn] == [(proposed.id, PlanState.SUPERSEDED)]
    assert _plan(fresh_store, proposed.id).state is PlanState.SUPERSEDED
    assert _plan(fresh_store, approved.id).state is PlanState.RUNNING
    assert _plan(fresh_store, elsewhere.id).state is PlanState.PROPOSED
    assert fresh_store.withdraw_plans(first.id) == []  # nothing twice
