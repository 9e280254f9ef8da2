"""Four eyes, always possible: with one orchestrator, escalation.fallback approves what that
orchestrator asks for, the card says who can, and start-up warns when nobody could."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import load_config
from bot.config.approvers import (
    fallback_may_approve,
    second_approver_warning,
    sole_orchestrator,
)
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.loopback import LocalSlack
from store import IncidentState, PlanState
from tests.gitrepo import git
from tests.test_escalation import ESCALATION, settled_card
from tests.test_rollback_flow import CHANNEL, button, told

ORCHESTRATOR, SECOND, LEAD, OTHER = "U0ORCH", "U0ORCH2", "U0LEAD", "U0OTHER"
APPROVE = "rollback_approve_anyway"  # the sandbox's history crosses a schema migration


def _configure(sandbox: Sandbox, *orchestrators: str, fallback: bool = True) -> None:
    text = sandbox.config_path.read_text()
    listed = ", ".join(f'"{user}"' for user in orchestrators)
    text = text.replace('orchestrators = ["U0ORCH"]', f"orchestrators = [{listed}]")
    sandbox.config_path.write_text(text + (ESCALATION if fallback else ""))


def _ask_and_click(local: LocalSlack, clicker: str) -> str:
    local.sender.slash_command("/rollback", f"to {TAG_T8}", user_id=ORCHESTRATOR)
    card = settled_card(local, "awaits approval")
    local.sender.block_action(
        user_id=clicker, action=button(card, APPROVE), message=local.emulator.message_payload(card)
    )
    return str(card.blocks)


def test_the_fallback_approves_what_the_only_orchestrator_asked_for(sandbox: Sandbox) -> None:
    _configure(sandbox, ORCHESTRATOR)
    checkpoint = git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        shown = _ask_and_click(local, ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "another orchestrator must approve")
        card = settled_card(local, "awaits approval")
        payload = local.emulator.message_payload(card)
        local.sender.block_action(user_id=OTHER, action=button(card, APPROVE), message=payload)
        assert told(local.emulator, OTHER, "Only an orchestrator can approve")
        local.sender.block_action(user_id=LEAD, action=button(card, APPROVE), message=payload)
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=60
        )
        local.deps.work.wait_idle(30)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        approved = [e for e in local.store.timeline(limit=200) if e.action == "rollback_approved"]
    assert "<@U0ORCH> asked and is the only orchestrator, so <@U0LEAD>" in shown, shown
    assert f"rollback-bot rollback --to {TAG_T8}" in shown  # the break-glass path is named
    assert plan.state is PlanState.DONE and plan.approved_by == LEAD
    assert [(e.actor, e.details.get("as")) for e in approved] == [(LEAD, "escalation.fallback")]
    assert git(sandbox.repo, "rev-parse", "HEAD") == checkpoint


def test_the_fallback_does_not_approve_when_another_orchestrator_can(sandbox: Sandbox) -> None:
    _configure(sandbox, ORCHESTRATOR, SECOND)
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        shown = _ask_and_click(local, LEAD)
        assert told(local.emulator, LEAD, "escalation.fallback approves only when the one")
        local.deps.work.wait_idle(30)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        refused = [e for e in local.store.timeline(limit=200) if e.action == "approval_refused"]
    assert "Who can approve: <@U0ORCH2>; not <@U0ORCH>, who asked." in shown
    assert incident.state is IncidentState.AWAITING_APPROVAL and [e.actor for e in refused] == [
        LEAD
    ]
    assert git(sandbox.repo, "rev-parse", "HEAD") == head


def test_with_one_orchestrator_and_no_fallback_the_card_points_to_the_terminal(
    sandbox: Sandbox,
) -> None:
    _configure(sandbox, ORCHESTRATOR, fallback=False)
    config = load_config(sandbox.config_path)
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", f"to {TAG_T8}", user_id=ORCHESTRATOR)
        shown = str(settled_card(local, "awaits approval").blocks)
    assert "nobody else in Slack can approve" in shown and "rollback-bot rollback --to" in shown
    warning = second_approver_warning(config)
    assert warning is not None and "U0ORCH" in warning and "escalation.fallback" in warning


@pytest.mark.parametrize(
    ("orchestrators", "fallback", "requester_can_approve", "warned"),
    [
        (("U0ORCH",), (), False, True),
        (("U0ORCH",), ("U0ORCH",), False, True),  # the fallback is the same person
        (("U0ORCH",), ("U0LEAD",), False, False),
        (("U0ORCH", "U0ORCH2"), (), False, False),
        (("S0ORCH",), (), False, False),  # a user group: only Slack knows how many
        (("U0ORCH",), (), True, False),
        (("U0ORCH", "U0ORCH"), (), False, True),  # named twice is still one person
    ],
)
def test_second_approver_warning_when_nobody_else_could_approve(
    sandbox: Sandbox,
    orchestrators: tuple[str, ...],
    fallback: tuple[str, ...],
    requester_can_approve: bool,
    warned: bool,
) -> None:
    config = load_config(sandbox.config_path)
    config = replace(
        config,
        slack=replace(
            config.slack, orchestrators=orchestrators, requester_can_approve=requester_can_approve
        ),
        escalation=replace(config.escalation, fallback=fallback),
    )
    assert (second_approver_warning(config) is not None) is warned
    sole = sole_orchestrator(orchestrators)
    may = fallback_may_approve(config, "U0ORCH")
    assert may is (bool(fallback) and sole == "U0ORCH" and not requester_can_approve)
