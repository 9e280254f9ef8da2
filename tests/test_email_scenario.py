"""Scenario 3 end to end: the procedure's own target with its evidence, a plain Approve, and
the root-cause questions in the incident's thread afterwards."""

from __future__ import annotations

import httpx

from bot.config import load_config
from bot.local.demo.sandbox import Sandbox
from bot.local.loopback import LocalSlack
from store import IncidentState, PlanState
from tests.gitrepo import git
from tests.test_escalation import settled_card
from tests.test_rollback_flow import CHANNEL, button

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"


def test_email_scenario_rolls_back_with_a_plain_approve_and_asks_for_the_root_cause(
    sandbox: Sandbox,
) -> None:
    removal = git(sandbox.repo, "log", "--format=%H", "--grep=remove legacy email sender")
    target = git(sandbox.repo, "rev-parse", f"{removal}^")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario email 4 inbox is down", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        ids = {e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]}
        local.sender.block_action(
            user_id=ORCHESTRATOR,
            action=button(card, "rollback_approve"),
            message=local.emulator.message_payload(card),
        )
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=60
        )
        local.deps.work.wait_idle(30)
        final_blocks = str((local.emulator.message(CHANNEL, card.ts) or card).blocks)
        thread = [m for m in local.emulator.messages(CHANNEL) if m.thread_ts == card.ts]
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert ids == {"rollback_approve", "rollback_reject"}  # nothing to approve "anyway"
    assert plan.state is PlanState.DONE and not plan.forced and not plan.waived
    assert git(sandbox.repo, "rev-parse", "HEAD") == target
    questions = [m for m in thread if "root cause analysis" in m.text]
    assert len(questions) == 1, [m.text for m in thread]
    shown = str(questions[0].blocks)
    assert "What was removed that broke the system?" in shown
    assert "Were webhooks properly redirected?" in shown
    # Scenario 3, step 2: the email checks ran after the rollback and passed: the restarted
    # service holds the test email they sent.
    assert "Service healthy" in final_blocks
    sent = httpx.get(f"{sandbox.base_url}/api/email/messages", timeout=5).json()
    assert [m["subject"] for m in sent].count("Rollback Test") == 1
