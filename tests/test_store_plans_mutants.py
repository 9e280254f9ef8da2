"""Plan and journal rules that survived mutation (scripts/mutants store/plans.py).

What a refusal says is what the person (or the log) reads, so each one is checked whole, and a
store that fails must say which operation failed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.errors import StoreBusyError, StoreError
from store import IncidentState, Plan, PlanState, SqliteStore
from store.journal import JOURNAL_STATUSES
from store.plans import PLAN_KINDS

NOW = datetime(2025, 11, 21, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)


def _incident_id(store: SqliteStore) -> int:
    incident = store.open_incident(
        scenario="critical", severity="5", trigger="API down", requester="U0ENG", channel="C0"
    )
    return incident.id


def _propose(store: SqliteStore, incident_id: int, kind: str = "rollback") -> Plan:
    return store.propose_plan(
        incident_id=incident_id,
        kind=kind,
        body={"target": "phase2-checkpoint-T+4h"},
        fingerprint="fp",
        requested_by="U0ENG",
        expires_at=LATER,
    )


def test_propose_plan_refusals_say_why_and_name_the_plan_under_way(
    fresh_store: SqliteStore,
) -> None:
    with pytest.raises(StoreError) as refused:
        _propose(fresh_store, 42)
    assert refused.value.user_message == "Could not propose a plan: there is no incident 42."
    # Plans 1 and 2 belong to another incident, so the running plan's id (3) is not its
    # incident's (2): the message must name the plan.
    other = _incident_id(fresh_store)
    _propose(fresh_store, other)
    _propose(fresh_store, other)
    incident_id = _incident_id(fresh_store)
    running = _propose(fresh_store, incident_id)
    assert fresh_store.approve_plan(running.id, approver="U0ORCH", now=NOW)
    with pytest.raises(StoreError) as refused:
        _propose(fresh_store, incident_id)
    assert refused.value.user_message == (
        f"A rollback for incident {incident_id} is already under way "
        f"(plan {running.id} is running); resume or abort it first."
    )


def test_store_plans_programming_errors_name_the_value_and_the_choices(
    fresh_store: SqliteStore,
) -> None:
    incident_id = _incident_id(fresh_store)
    with pytest.raises(ValueError) as wrong_kind:
        _propose(fresh_store, incident_id, kind="revert")
    assert str(wrong_kind.value) == f"unknown plan kind 'revert'; expected one of {PLAN_KINDS}"
    plan = _propose(fresh_store, incident_id)
    with pytest.raises(ValueError) as not_final:
        fresh_store.finish_plan(plan.id, attempt=1, state=PlanState.RUNNING, result={})
    assert str(not_final.value) == "a plan finishes as done or aborted, not running"
    with pytest.raises(ValueError) as wrong_status:
        fresh_store.journal_step(plan_id=plan.id, attempt=1, step="reset", status="ok")
    assert str(wrong_status.value) == (f"unknown journal status 'ok'; expected {JOURNAL_STATUSES}")


def test_journal_step_accepts_every_status_the_journal_model_names(
    fresh_store: SqliteStore,
) -> None:
    # store.models.JournalEntry documents started | done | failed | skipped.
    plan = _propose(fresh_store, _incident_id(fresh_store))
    for status in ("started", "done", "failed", "skipped"):
        fresh_store.journal_step(plan_id=plan.id, attempt=1, step="reset", status=status)
    assert [entry.status for entry in fresh_store.journal(plan.id)] == [
        "started",
        "done",
        "failed",
        "skipped",
    ]


def test_record_rollback_of_an_unknown_incident_says_which(fresh_store: SqliteStore) -> None:
    with pytest.raises(StoreError) as refused:
        fresh_store.record_rollback(
            7,
            state=IncidentState.ROLLED_BACK,
            from_sha=None,
            to_sha=None,
            target_ref=None,
            backup_branch=None,
            healthy=None,
        )
    assert refused.value.user_message == "Could not record a rollback: there is no incident 7."


def test_supersede_proposed_retires_every_other_open_plan_and_reopens_its_incident(
    fresh_store: SqliteStore,
) -> None:
    # Once one plan runs, every other PROPOSED plan describes a repository that is about to
    # move: each is retired, and its rollback incident goes back to OPEN for a fresh plan.
    first, second, third = (_incident_id(fresh_store) for _ in range(3))
    waiting = _propose(fresh_store, first)
    picks = _propose(fresh_store, second, kind="cherry_pick")
    winner = _propose(fresh_store, third)
    assert fresh_store.approve_plan(winner.id, approver="U0ORCH", now=NOW)
    retired = fresh_store.supersede_proposed(except_plan_id=winner.id)
    assert [(plan.id, plan.state) for plan in retired] == [
        (waiting.id, PlanState.SUPERSEDED),
        (picks.id, PlanState.SUPERSEDED),
    ]
    states = {i: fresh_store.get_incident(i) for i in (first, second, third)}
    assert {i: incident.state for i, incident in states.items() if incident} == {
        first: IncidentState.OPEN,
        second: IncidentState.OPEN,  # a cherry-pick never moved its incident
        third: IncidentState.ROLLING_BACK,
    }
    running = fresh_store.get_plan(winner.id)
    assert running is not None and running.state is PlanState.RUNNING
    assert fresh_store.supersede_proposed(except_plan_id=winner.id) == []


# -- a failing store names the operation -----------------------------------------------------------


@contextmanager
def _another_writer(path: Path) -> Iterator[None]:
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


Call = Callable[[SqliteStore, Plan], Any]

WRITES: list[tuple[str, Call]] = [
    ("propose a plan", lambda s, p: _propose(s, p.incident_id)),
    ("update a plan", lambda s, p: s.set_plan_message(p.id, channel="C0", ts="1.2")),
    ("reject a plan", lambda s, p: s.reject_plan(p.id, by="U0ORCH", now=NOW)),
    ("retire plans", lambda s, p: s.supersede_proposed(except_plan_id=p.id + 1)),
    ("stop a plan", lambda s, p: s.stop_plan(p.id, attempt=1, result={})),
    ("resume a plan", lambda s, p: s.resume_plan(p.id, expected_attempt=1)),
    (
        "finish a plan",
        lambda s, p: s.finish_plan(p.id, attempt=1, state=PlanState.DONE, result={}),
    ),
    (
        "record a rollback",
        lambda s, p: s.record_rollback(
            p.incident_id,
            state=IncidentState.ROLLED_BACK,
            from_sha=None,
            to_sha=None,
            target_ref=None,
            backup_branch=None,
            healthy=True,
        ),
    ),
    (
        "write the journal",
        lambda s, p: s.journal_step(plan_id=p.id, attempt=1, step="reset", status="started"),
    ),
    ("withdraw plans", lambda s, p: s.withdraw_plans(p.incident_id)),
]


@pytest.mark.parametrize(("doing", "call"), WRITES, ids=[doing for doing, _ in WRITES])
def test_store_plans_write_while_another_writer_holds_the_store_says_what_failed(
    tmp_path: Path, doing: str, call: Call
) -> None:
    path = tmp_path / "busy.db"
    store = SqliteStore(path, busy_timeout_s=0.1)
    try:
        plan = _propose(store, _incident_id(store))
        with _another_writer(path), pytest.raises(StoreBusyError) as refused:
            call(store, plan)
        assert refused.value.user_message == (
            f"Could not {doing}: the store is busy with another writer. "
            "Nothing was changed; try again in a moment."
        )
    finally:
        store.close()


READS: list[tuple[str, Call]] = [
    ("read a plan", lambda s, p: s.get_plan(p.id)),
    ("read plans", lambda s, p: s.plans_of(p.incident_id)),
    ("read plans", lambda s, p: s.unfinished_plans()),
    ("read the journal", lambda s, p: s.journal(p.id)),
]


@pytest.mark.parametrize(
    ("doing", "call"), READS, ids=["get_plan", "plans_of", "unfinished_plans", "journal"]
)
def test_store_plans_read_of_a_damaged_store_says_what_failed(
    tmp_path: Path, doing: str, call: Call
) -> None:
    # Readers never wait for a writer (WAL), so a read fails only on a damaged file: here the
    # plans and journal tables are gone.
    path = tmp_path / "damaged.db"
    store = SqliteStore(path)
    try:
        plan = _propose(store, _incident_id(store))
        damage = sqlite3.connect(path, isolation_level=None)
        damage.execute("DROP TABLE journal")
        damage.execute("DROP TABLE plans")
        damage.close()
        with pytest.raises(StoreError) as refused:
            call(store, plan)
        assert refused.value.user_message.startswith(f"Could not {doing}: no such table: ")
    finally:
        store.close()
