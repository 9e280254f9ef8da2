"""Security: roll back, then close the hole; the rotation tick is recorded once, with who."""

from __future__ import annotations

import httpx

from bot.config import load_config
from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from store import IncidentState
from tests.test_escalation import settled_card, told
from tests.test_rollback_flow import CHANNEL, button

ENGINEER, ORCHESTRATOR, OTHER = "U0ENG", "U0ORCH", "U0OTHER"
TICK = "credentials_rotated"


def _press(local: LocalSlack, user: str, card: Message) -> None:
    """Click the tick on this copy of the card (a stale copy still has it)."""
    local.sender.block_action(
        user_id=user, action=button(card, TICK), message=local.emulator.message_payload(card)
    )


def test_security_rollback_asks_for_the_rotation_and_records_who_ticked_it(
    sandbox: Sandbox,
) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario security key in logs", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        before = str(card.blocks)
        local.sender.block_action(
            user_id=ORCHESTRATOR,
            action=button(card, "rollback_approve_anyway"),
            message=local.emulator.message_payload(card),
        )
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=60
        )
        local.deps.work.wait_idle(30)
        after = local.emulator.message(CHANNEL, card.ts)
        assert after is not None and "☐ Credentials rotated" in str(after.blocks)
        _press(local, OTHER, after)
        told(local, OTHER, "Only whoever reported incident #1 or an orchestrator can tick it")
        _press(local, ENGINEER, after)
        told(local, ENGINEER, "Recorded: the exposed credentials of incident #1 are rotated")
        local.deps.work.wait_idle(30)
        ticked = local.emulator.message(CHANNEL, card.ts)
        _press(local, ORCHESTRATOR, after)
        told(local, ORCHESTRATOR, "Already ticked by")
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        events = [e for e in local.store.timeline(limit=200) if e.action == "credentials_rotated"]
    assert "a rollback does not un-leak a key" in before
    assert ticked is not None and "ticked by <@U0ENG>" in str(ticked.blocks)
    assert TICK not in str(ticked.blocks)  # the tick is gone once ticked
    assert incident.state is IncidentState.ROLLED_BACK
    assert [(e.actor, e.incident_id) for e in events] == [(ENGINEER, incident.id)]
    # Scenario 3's email checks run only after the email scenario's rollback.
    sent = httpx.get(f"{sandbox.base_url}/api/email/messages", timeout=5).json()
    assert "Rollback Test" not in [m["subject"] for m in sent]
