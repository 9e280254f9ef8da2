"""One incident per problem: a second report while one is open asks Join #N or a new one."""

from __future__ import annotations

from bot.config import load_config
from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from store import IncidentState
from tests.test_escalation import settled_card, told
from tests.test_rollback_flow import CHANNEL, button

ENGINEER, OTHER = "U0ENG", "U0OTHER"


def _question(local: LocalSlack, user: str) -> Message:
    assert local.emulator.wait_for(
        lambda e: any(m.ephemeral_to == user and "is open" in m.text for m in e.messages()),
        timeout=30,
    )
    return [m for m in local.emulator.messages() if m.ephemeral_to == user and "is open" in m.text][
        -1
    ]


def _click(local: LocalSlack, user: str, message: Message, action: str) -> None:
    local.sender.block_action(
        user_id=user,
        action=button(message, action),
        message=local.emulator.message_payload(message),
        channel_id=CHANNEL,
    )


def test_a_second_report_joins_the_open_incident_once(sandbox: Sandbox) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        local.sender.slash_command("/rollback", "scenario critical 5 500s on /deals", user_id=OTHER)
        asked = _question(local, OTHER)
        _click(local, ENGINEER, asked, "incident_join")  # not theirs to decide
        told(local, ENGINEER, "Only whoever reported it can decide")
        _click(local, OTHER, asked, "incident_join")
        told(local, OTHER, "Added to incident #1")
        _click(local, OTHER, asked, "incident_new")  # the same question, answered twice
        told(local, OTHER, "already joined to an incident or opened as one")
        local.deps.work.wait_idle(30)
        thread = [m.text for m in local.emulator.messages(CHANNEL) if m.thread_ts == card.ts]
        incidents = local.store.list_incidents(states=list(IncidentState))
        joined = [e for e in local.store.timeline(limit=200) if e.action == "incident_joined"]
    assert "#1" in asked.text and len(incidents) == 1
    assert [(e.actor, e.incident_id, e.details["trigger"]) for e in joined] == [
        (OTHER, 1, "500s on /deals")
    ]
    assert any("Another report for incident #1" in text for text in thread), thread


def test_a_different_problem_opens_its_own_incident(sandbox: Sandbox) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario minor one 404", user_id=ENGINEER)
        settled_card(local, "fix forward")
        local.sender.slash_command("/rollback", "scenario minor a typo", user_id=ENGINEER)
        asked = _question(local, ENGINEER)
        _click(local, ENGINEER, asked, "incident_new")
        second = settled_card(local, "Incident #2")
        incidents = local.store.list_incidents(states=list(IncidentState))
    assert [i.trigger for i in incidents] == ["one 404", "a typo"]
    assert "a typo" in str(second.blocks)
    assert asked.ephemeral_to == ENGINEER  # the question went to the reporter alone
