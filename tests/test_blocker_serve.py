"""The escalation path through ``rollback-bot serve`` (a real process): a blocker, the
orchestrator's rating by direct message, the proposal, the approval, the pages stopped."""

from __future__ import annotations

from bot.local.demo.sandbox import ORCHESTRATOR
from bot.local.emulator import Message, SlackEmulator
from store import IncidentState, PlanState, SqliteStore
from tests.slackrun import APPROVE, CHANNEL, ENGINEER, Harness, card_with, click, wait_card_text
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
