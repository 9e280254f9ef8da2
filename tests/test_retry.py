"""Freeze and retry through the real Bolt app: a rollback freezes the phase, finishing it is
refused with the reason, and only another orchestrator's approval of the fully ticked
"Before Retry" checklist lifts the freeze."""

from __future__ import annotations

from typing import Any

import pytest

from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from store import TimelineAction
from tests.gitrepo import git
from tests.test_edge_delivery import _click
from tests.test_escalation import Clock, running
from tests.test_postmortem import rolled_back
from tests.test_rollback_flow import CHANNEL, _with_orchestrators, told

ENGINEER, ORCHESTRATOR, LEAD = "U0ENG", "U0ORCH", "U0LEAD"
ALL_ITEMS = ["review_log", "lessons_applied", "validation_added", "team_briefed"]


def checklist_of(local: LocalSlack) -> Message:
    def found() -> list[Message]:
        return [m for m in local.emulator.messages(CHANNEL) if m.text.startswith("Before retry")]

    assert local.emulator.wait_for(lambda e: bool(found()), timeout=30)
    latest = found()[-1]
    return local.emulator.message(CHANNEL, latest.ts) or latest


def tick(local: LocalSlack, checklist: Message, user: str, keys: list[str]) -> None:
    block = next(
        b for b in checklist.blocks if str(b.get("block_id", "")).startswith("retry_items")
    )
    element: dict[str, Any] = dict(block["elements"][0])
    element["selected_options"] = [o for o in element["options"] if o["value"] in keys]
    sent = local.sender.block_action(
        user_id=user,
        action=element,
        message=local.emulator.message_payload(checklist),
        block_id=block["block_id"],
    )
    assert sent.status == 200, sent
    local.deps.work.wait_idle(60)


def test_freeze_refuses_finishing_the_phase_until_another_orchestrator_approves_the_retry(
    sandbox: Sandbox,
) -> None:
    _with_orchestrators(sandbox, ORCHESTRATOR, LEAD)
    with running(sandbox, Clock()) as (local, _):
        _, incident_id = rolled_back(local)
        tags_before = git(sandbox.repo, "tag", "--list")
        local.sender.slash_command("/checkpoint", "complete phase done", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "is frozen since the rollback of incident")
        assert git(sandbox.repo, "tag", "--list") == tags_before
        local.sender.slash_command("/rollback", "remove server/email.ts", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "The high-risk removal is refused: phase2 is frozen")
        # Validation is not frozen.
        local.sender.slash_command("/rollback", "validate", user_id=ENGINEER)
        local.sender.slash_command("/rollback", "status", user_id=ENGINEER)
        assert local.emulator.wait_for(
            lambda e: any(
                m.ephemeral_to == ENGINEER and "*Frozen*: phase2 is frozen" in str(m.blocks)
                for m in e.messages()
            ),
            timeout=30,
        )
        local.sender.slash_command("/rollback", f"retry {incident_id}", user_id=ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "Before Retry checklist is posted")
        checklist = checklist_of(local)
        _click(local, checklist, "retry_approve", user=LEAD)
        assert told(local.emulator, LEAD, "Every box must be ticked first")
        tick(local, checklist, ENGINEER, ALL_ITEMS[:2])
        tick(local, checklist_of(local), ENGINEER, ALL_ITEMS)
        assert "every box is ticked" in checklist_of(local).text
        _click(local, checklist_of(local), "retry_approve", user=ENGINEER)
        assert told(local.emulator, ENGINEER, "Only an orchestrator can approve a retry")
        _click(local, checklist_of(local), "retry_approve", user=ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "You asked for this retry")
        assert local.store.active_freezes("phase2"), "a refused approval lifted the freeze"
        _click(local, checklist_of(local), "retry_approve", user=LEAD)
        assert told(local.emulator, LEAD, "the freeze from incident")
        local.deps.work.wait_idle(60)
        freezes = local.store.active_freezes("phase2")
        freeze = local.store.freeze_of(incident_id)
        approved = checklist_of(local)
        events = local.store.timeline(incident_id=incident_id, limit=500)
        everything = [e.action for e in local.store.timeline(limit=1000)]
        refused = [e for e in local.store.timeline(limit=1000) if e.action == "freeze_refused"]
    assert freezes == [] and freeze is not None and freeze.lifted_by == LEAD
    assert "approved, the freeze is lifted" in approved.text
    assert "retry_approve" not in str(approved.blocks)
    actions = [e.action for e in events]
    # Unticked, and the asker's own: on the incident; the engineer's, refused at the button.
    assert actions.count(TimelineAction.RETRY_REFUSED) == 2
    assert everything.count(TimelineAction.RETRY_REFUSED) == 3
    assert actions.count(TimelineAction.RETRY_APPROVED) == 1
    assert [e.details["what"] for e in refused] == ["finishing the phase", "the high-risk removal"]


def test_ticks_from_stale_copies_add_up_and_a_second_checklist_cannot_lift_it_again(
    sandbox: Sandbox,
) -> None:
    _with_orchestrators(sandbox, ORCHESTRATOR, LEAD)
    with running(sandbox, Clock()) as (local, _):
        _, incident_id = rolled_back(local)
        for _ in range(2):  # two checklists for the one incident
            local.sender.slash_command("/rollback", f"retry {incident_id}", user_id=ENGINEER)
            assert told(local.emulator, ENGINEER, "Before Retry checklist is posted")
            local.deps.work.wait_idle(30)
        copies = [m for m in local.emulator.messages(CHANNEL) if m.text.startswith("Before retry")]
        first, second = copies[0], copies[1]
        # Both clicks come from the copy as first drawn, nothing ticked: each adds its own.
        tick(local, first, ENGINEER, ALL_ITEMS[:2])
        tick(local, first, LEAD, ALL_ITEMS[2:])
        retries = [local.store.get_retry(n) for n in (1, 2)]
        assert retries[0] is not None and set(retries[0].ticked) == set(ALL_ITEMS)
        _click(local, checklist_of_ts(local, first.ts), "retry_approve", user=ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "the freeze from incident")
        tick(local, second, ENGINEER, ALL_ITEMS)
        _click(local, checklist_of_ts(local, second.ts), "retry_approve", user=LEAD)
        assert told(local.emulator, LEAD, "lifted already")
        approved = local.store.get_retry(2)
    assert approved is not None and approved.approved_by is None


def checklist_of_ts(local: LocalSlack, ts: str) -> Message:
    found = local.emulator.message(CHANNEL, ts)
    assert found is not None
    return found


def test_a_tick_before_the_checklist_location_is_saved_still_redraws_the_clicked_message(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(sandbox, Clock()) as (local, _):
        _, incident_id = rolled_back(local)
        # The checklist is clickable as soon as Slack shows it: a click may arrive before its
        # poster has saved where it is. Here it is never saved.
        monkeypatch.setattr(local.store, "set_retry_message", lambda *a, **k: None)
        local.sender.slash_command("/rollback", f"retry {incident_id}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "Before Retry checklist is posted")
        local.deps.work.wait_idle(30)
        posted = checklist_of(local)
        assert "4 of 4 boxes still open" in posted.text
        tick(local, posted, ENGINEER, ALL_ITEMS[:2])
        redrawn = checklist_of_ts(local, posted.ts)
    assert "2 of 4 boxes still open" in redrawn.text, redrawn.text
