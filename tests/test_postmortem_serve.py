"""After a rollback, through ``rollback-bot serve`` (a real process) and the loopback Slack:
the post-mortem thread under the card, its reminder on a (fractional) real-clock delay, the
modal, a reply in the timeline, ROLLBACK_LOG.md read back by the procedure's headings, and the
freeze that only another orchestrator's approval of the ticked checklist lifts."""

from __future__ import annotations

from typing import Any

from bot.local.demo.sandbox import ORCHESTRATOR, TAG_T8
from bot.local.emulator import Message, SlackEmulator, message_event
from store import IncidentState, SqliteStore
from tests.slackrun import (
    APPROVE,
    CHANNEL,
    ENGINEER,
    Harness,
    buttons,
    click,
    dirty_the_sandbox,
    request_rollback,
    told,
    wait_card_text,
)
from tests.slackrun import harness as harness  # the fixture
from tests.test_postmortem import FILLED, entries_by_heading
from tests.test_rollback_crash import stop_cleanly

LEAD = "U0LEAD"
# 0.0015 hours: the first reminder 5.4 s after the rollback (plus the scheduler's tick).
SETTINGS = """
[postmortem]
remind_after_h = [0.0015]
"""
TIMEOUT_S = 30


def _in_thread(emulator: SlackEmulator, card: Message, words: str) -> Message:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in e.messages(CHANNEL) if m.thread_ts == card.ts and words in m.text]

    assert emulator.wait_for(lambda e: bool(found(e)), timeout=TIMEOUT_S), words
    first = found(emulator)[0]
    return emulator.message(CHANNEL, first.ts) or first


def _checklist(emulator: SlackEmulator) -> Message:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in e.messages(CHANNEL) if m.text.startswith("Before retry")]

    assert emulator.wait_for(lambda e: bool(found(e)), timeout=TIMEOUT_S)
    latest = found(emulator)[-1]
    return emulator.message(CHANNEL, latest.ts) or latest


def _tick_all(harness: Harness, sender: Any, checklist: Message) -> None:
    block = next(b for b in checklist.blocks if str(b.get("block_id", "")).startswith("retry_"))
    element = dict(block["elements"][0])
    element["selected_options"] = list(element["options"])
    sent = sender.block_action(
        user_id=ENGINEER,
        action=element,
        message=harness.emulator.message_payload(checklist),
        block_id=block["block_id"],
    )
    assert sent.status == 200, sent
    assert harness.emulator.wait_for(
        lambda e: "every box is ticked" in _checklist(e).text, timeout=TIMEOUT_S
    )


def test_serve_postmortem_thread_reminder_log_and_freeze_after_a_rollback(
    harness: Harness,
) -> None:
    config = harness.sandbox.config_path
    text = config.read_text().replace(
        'orchestrators = ["U0ORCH"]', 'orchestrators = ["U0ORCH", "U0LEAD"]'
    )
    config.write_text(text + SETTINGS)
    dirty_the_sandbox(harness.sandbox)
    emulator = harness.emulator
    process, sender = harness.serve()
    card = request_rollback(harness, sender)
    click(emulator, sender, card, APPROVE, ORCHESTRATOR)
    wait_card_text(emulator, card, "rolled back")
    summary = _in_thread(emulator, card, "Post-mortem of incident")
    assert "Rollback to" in str(summary.blocks) and TAG_T8 in str(summary.blocks)
    reminder = _in_thread(emulator, card, "is not filled in yet")
    assert f"<@{ENGINEER}>" in str(reminder.blocks) and f"<@{ORCHESTRATOR}>" in str(reminder.blocks)

    click(emulator, sender, summary, "postmortem_fill", ENGINEER)
    assert emulator.wait_for(lambda e: bool(e.open_views()), timeout=TIMEOUT_S)
    view = emulator.open_views()[-1]
    values = {
        f"postmortem_{key}": {"postmortem_field_text": {"type": "plain_text_input", "value": v}}
        for key, v in FILLED.items()
    }
    assert sender.view_submission(user_id=ENGINEER, view=view, values=values).status == 200
    assert emulator.wait_for(
        lambda e: FILLED["root_cause"] in str((e.message(CHANNEL, summary.ts) or summary).blocks),
        timeout=TIMEOUT_S,
    )
    reply = emulator.post_as(LEAD, CHANNEL, "the stage default was missing", thread_ts=card.ts)
    assert sender.event(message_event(reply)).status == 200

    sender.slash_command("/checkpoint", "complete", user_id=ENGINEER)
    assert told(emulator, ENGINEER, "is frozen since the rollback of incident")
    sender.slash_command("/rollback", "retry 1", user_id=ORCHESTRATOR)
    _tick_all(harness, sender, _checklist(emulator))
    assert "retry_approve" in buttons(_checklist(emulator))
    click(emulator, sender, _checklist(emulator), "retry_approve", ORCHESTRATOR)
    assert told(emulator, ORCHESTRATOR, "You asked for this retry")
    click(emulator, sender, _checklist(emulator), "retry_approve", LEAD)
    assert told(emulator, LEAD, "the freeze from incident")
    stop_cleanly(process)

    store = SqliteStore(harness.sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        events = store.timeline(incident_id=incident.id, limit=1000)
        freeze = store.freeze_of(incident.id)
    finally:
        store.close()
    actions = [e.action.value for e in events]
    for expected in ("postmortem_opened", "reminder_sent", "postmortem_updated", "thread_reply"):
        assert expected in actions, actions
    replies = [e for e in events if e.action == "thread_reply"]
    assert replies[0].actor == LEAD and replies[0].details["text"] == reply.text
    assert freeze is not None and freeze.lifted_by == LEAD
    (entry,) = entries_by_heading((harness.sandbox.repo / "ROLLBACK_LOG.md").read_text())
    assert entry["Root Cause"] == FILLED["root_cause"]
    assert entry["Retry ETA"] == FILLED["retry_eta"]
    assert entry["Rollback To"].startswith(f"`{TAG_T8}`")
