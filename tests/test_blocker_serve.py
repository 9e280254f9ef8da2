"""The escalation path through ``rollback-bot serve`` (a real process), on the real clock.

A blocker rated by direct message; an unattended incident paging level 1, then level 2, on the
configured (fractional) delay, paused by Acknowledge and ended by the approval; and a fix window
that ends while the bot is stopped, fired by the next start (exactly once even with two
schedulers polling is proven in process, in ``test_escalation``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.flows.windows import WINDOW_KIND, window_timer
from bot.local.demo.sandbox import ORCHESTRATOR
from bot.local.emulator import Message, SlackEmulator
from store import IncidentState, PlanState, SqliteStore
from tests.slackrun import (
    APPROVE,
    CHANNEL,
    ENGINEER,
    Harness,
    card_with,
    click,
    told,
    wait_card_text,
)
from tests.slackrun import harness as harness  # the fixture
from tests.test_rollback_crash import stop_cleanly

DM = "D" + ORCHESTRATOR[1:]  # the emulator's direct-message channel of U0ORCH


def _rating_request(emulator: SlackEmulator) -> Message:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in e.messages(DM) if "blocker_rate_critical" in str(m.blocks)]

    assert emulator.wait_for(lambda e: bool(found(e)), timeout=15), [
        m.text for m in emulator.messages()
    ]
    return found(emulator)[-1]


def test_serve_blocker_rated_critical_by_dm_proposes_and_the_approval_stops_the_pages(
    harness: Harness,
) -> None:
    emulator = harness.emulator
    process, sender = harness.serve()
    sent = sender.slash_command("/rollback", "blocker the API is down", user_id=ENGINEER)
    assert sent.status == 200, sent
    card = card_with(emulator, "waiting for a rating")
    request = _rating_request(emulator)
    click(emulator, sender, request, "blocker_rate_critical", ORCHESTRATOR)
    proposal = wait_card_text(emulator, card, "awaits approval", timeout=30)
    assert proposal.ts == card.ts  # the same card, now the rollback proposal
    paged = [m for m in emulator.messages(CHANNEL) if m.thread_ts == card.ts]
    click(emulator, sender, proposal, APPROVE, ORCHESTRATOR)
    wait_card_text(emulator, card, "rolled back")
    stop_cleanly(process)

    store = SqliteStore(harness.sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        events = [e.action for e in store.timeline(limit=300)]
    finally:
        store.close()
    assert (incident.source, incident.severity, incident.rated_by) == ("blocker", "5", ORCHESTRATOR)
    assert plan.state is PlanState.DONE and incident.state is IncidentState.ROLLED_BACK
    assert any("needs you" in m.text for m in paged), [m.text for m in paged]
    assert "blocker_rated" in events and "paged" in events and "paging_stopped" in events


LEAD = "U0LEAD"
# 0.02 minutes: the second level is paged 1.2 s after the first (plus the scheduler's tick).
FAST_PAGING = """
[escalation]
fallback = ["U0LEAD"]
repeat = 2
[escalation.delay_min]
critical = 0.02
"""
PAGE_TIMEOUT_S = 30


def _page_to(emulator: SlackEmulator, user: str) -> Message:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in e.messages("D" + user[1:]) if "needs you to" in m.text]

    assert emulator.wait_for(lambda e: bool(found(e)), timeout=PAGE_TIMEOUT_S), user
    return found(emulator)[0]


def test_serve_unattended_critical_pages_level_1_then_level_2_and_acknowledge_pauses_them(
    harness: Harness,
) -> None:
    config = harness.sandbox.config_path
    config.write_text(config.read_text() + FAST_PAGING)
    emulator = harness.emulator
    process, sender = harness.serve()
    sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
    card = card_with(emulator, "awaits approval", timeout=30)
    _page_to(emulator, ORCHESTRATOR)  # level 1 at once
    lead_page = _page_to(emulator, LEAD)  # level 2, one delay later
    click(emulator, sender, lead_page, "page_acknowledge", LEAD)
    assert told(emulator, LEAD, "Acknowledged")
    resumed = emulator.wait_for(
        lambda e: sum("needs you to" in m.text for m in e.messages("D" + ORCHESTRATOR[1:])) >= 2,
        timeout=PAGE_TIMEOUT_S,
    )
    assert resumed, "paging did not resume after the acknowledged delay"
    click(emulator, sender, emulator.message(CHANNEL, card.ts) or card, APPROVE, ORCHESTRATOR)
    wait_card_text(emulator, card, "rolled back")
    stop_cleanly(process)

    store = SqliteStore(harness.sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        events = store.timeline(incident_id=incident.id, limit=500)
        pending = store.due_timers(now=datetime.now(UTC) + timedelta(days=365))
    finally:
        store.close()
    pages = [e for e in events if e.action == "paged"]
    (acked,) = [e for e in events if e.action == "page_acknowledged"]
    assert [p.details["level"] for p in pages[:2]] == [1, 2]
    # Acknowledge paused them: no page until one full delay after it.
    after = [p for p in pages if p.at > acked.at]
    assert after and all(p.at - acked.at >= timedelta(minutes=0.02) for p in after)
    assert "paging_stopped" in [e.action for e in events]
    # No page is left to fire (the post-mortem's reminder is the one timer of its own).
    left = [t.kind for t in pending if t.payload.get("incident") == incident.id]
    assert left == ["postmortem_reminder"], left


def test_serve_fix_window_that_ends_while_stopped_fires_once_after_the_restart(
    harness: Harness,
) -> None:
    emulator = harness.emulator
    process, sender = harness.serve()
    sender.slash_command("/rollback", "scenario critical 3 slow deals", user_id=ENGINEER)
    card = card_with(emulator, "quick fix first", timeout=30)
    stop_cleanly(process)
    # The bot is stopped past the window's end: its stored timer falls due while nobody runs.
    store = SqliteStore(harness.sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        timer = store.get_timer(window_timer(incident.id))
        assert timer is not None and timer.due_at > datetime.now(UTC)
        store.schedule_timer(
            timer.name,
            kind=WINDOW_KIND,
            due_at=datetime.now(UTC) - timedelta(minutes=1),
            payload=timer.payload,
            replace=True,
        )
    finally:
        store.close()
    process, sender = harness.serve()
    wait_card_text(emulator, card, "awaits approval", timeout=30)
    stop_cleanly(process)

    store = SqliteStore(harness.sandbox.store_path)
    try:
        (plan,) = store.plans_of(incident.id)
        ended = [
            e for e in store.timeline(incident_id=incident.id) if e.action == "fix_window_ended"
        ]
    finally:
        store.close()
    assert plan.state is PlanState.PROPOSED and len(ended) == 1
