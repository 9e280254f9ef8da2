from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from store import SqliteStore
from store.timers import next_slot

T0 = datetime(2025, 11, 21, 9, 0, tzinfo=UTC)


def test_schedule_timer_keeps_existing_schedule_unless_replaced(fresh_store: SqliteStore) -> None:
    assert fresh_store.schedule_timer("validation", kind="validation", due_at=T0, interval_s=1800)
    assert not fresh_store.schedule_timer(
        "validation", kind="validation", due_at=T0 + timedelta(hours=5)
    )
    timer = fresh_store.get_timer("validation")
    assert timer is not None and timer.due_at == T0
    fresh_store.schedule_timer(
        "validation", kind="validation", due_at=T0 + timedelta(hours=5), replace=True
    )
    replaced = fresh_store.get_timer("validation")
    assert (
        replaced is not None
        and replaced.due_at == T0 + timedelta(hours=5)
        and replaced.interval_s is None
    )


def test_claim_timer_fires_once_late_after_downtime(fresh_store: SqliteStore) -> None:
    fresh_store.schedule_timer(
        "reminder", kind="checkpoint", due_at=T0, interval_s=4 * 3600, payload={"n": 1}
    )
    now = T0 + timedelta(hours=13)  # three due times passed while the bot was down
    due = fresh_store.due_timers(now=now)
    assert [t.name for t in due] == ["reminder"] and due[0].payload == {"n": 1}
    assert fresh_store.claim_timer(due[0], now=now)
    assert not fresh_store.claim_timer(due[0], now=now)
    assert fresh_store.due_timers(now=now) == []
    after = fresh_store.get_timer("reminder")
    assert after is not None
    assert after.due_at == T0 + timedelta(hours=16)
    assert after.fired_count == 1 and after.last_fired_at == now


def test_one_shot_timer_is_gone_after_firing(fresh_store: SqliteStore) -> None:
    fresh_store.schedule_timer("fix-window-3", kind="fix_window", due_at=T0)
    (timer,) = fresh_store.due_timers(now=T0)
    assert fresh_store.claim_timer(timer, now=T0)
    assert fresh_store.get_timer("fix-window-3") is None
    assert fresh_store.cancel_timer("fix-window-3") is False


def test_claim_timer_has_one_winner_across_threads_and_connections(tmp_path: Path) -> None:
    path = tmp_path / "timers.db"
    stores = [SqliteStore(path) for _ in range(4)]
    stores[0].schedule_timer("validation", kind="validation", due_at=T0, interval_s=1800)
    (timer,) = stores[0].due_timers(now=T0)
    wins: list[bool] = []
    barrier = threading.Barrier(12)

    def claim(store: SqliteStore) -> None:
        barrier.wait(timeout=5)
        wins.append(store.claim_timer(timer, now=T0))

    threads = [threading.Thread(target=claim, args=(stores[i % 4],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for store in stores:
        store.close()
    assert sorted(wins) == [False] * 11 + [True]


def test_timer_survives_reopening_the_store(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "t.db")
    first.schedule_timer("validation", kind="validation", due_at=T0, interval_s=60)
    first.write_value("validation.verdict", "fail")
    first.close()
    second = SqliteStore(tmp_path / "t.db")
    assert [t.name for t in second.due_timers(now=T0)] == ["validation"]
    assert second.read_value("validation.verdict") == "fail"
    assert second.read_value("absent") is None
    second.write_value("validation.verdict", "pass")
    assert second.read_value("validation.verdict") == "pass"
    second.close()


@given(
    st.floats(min_value=1, max_value=86400),
    st.floats(min_value=-86400 * 3, max_value=86400 * 30),
)
def test_next_slot_is_after_now_and_on_the_cadence(interval_s: float, offset_s: float) -> None:
    now = T0 + timedelta(seconds=offset_s)
    slot = next_slot(T0, interval_s, now)
    assert slot > now
    assert slot - timedelta(seconds=interval_s) <= max(now, T0)
    steps = (slot - T0) / timedelta(seconds=interval_s)
    assert abs(steps - round(steps)) < 1e-6
