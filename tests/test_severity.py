"""`/severity` and fixing forward through the real app: re-rating, who may, and what it moves."""

from __future__ import annotations

import pytest

from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from store import IncidentState, PlanState
from tests.test_edge_delivery import _click, _wait
from tests.test_escalation import (
    ENGINEER,
    ORCHESTRATOR,
    OTHER,
    Clock,
    private,
    running,
    settled_card,
    tick,
    told,
)
from tests.test_rollback_flow import CHANNEL


def _resolve_with(local: LocalSlack, card: Message, note: str) -> None:
    """The reporter presses Resolved, types the note in the modal, submits; the card says so."""
    _click(local, card, "fix_resolved", user=ENGINEER)
    _wait(local.emulator, "the modal", lambda e: bool(e.open_views()))
    (modal,) = local.emulator.open_views()
    sent = local.sender.view_submission(
        user_id=ENGINEER,
        view=modal,
        values={"fix_note": {"fix_note_text": {"type": "plain_text_input", "value": note}}},
    )
    assert sent.status == 200
    _wait(
        local.emulator,
        "resolved",
        lambda e: "fixed forward" in e.message(CHANNEL, card.ts).text,
    )


def _status(local: LocalSlack, user: str) -> str:
    """What `/rollback status` shows this person now (its blocks, as text)."""
    before = len([m for m in local.emulator.messages() if m.ephemeral_to == user])
    local.sender.slash_command("/rollback", "status", user_id=user)
    _wait(
        local.emulator,
        "status",
        lambda e: len([m for m in e.messages() if m.ephemeral_to == user]) > before,
    )
    return str([m for m in local.emulator.messages() if m.ephemeral_to == user][-1].blocks)


def _actions(local: LocalSlack, incident_id: int) -> list[str]:
    local.deps.work.wait_idle(60)
    return [e.action for e in local.store.timeline(incident_id=incident_id, limit=500)]


def test_a_rise_to_5_turns_the_fix_window_into_a_proposal_on_the_same_card(
    sandbox: Sandbox,
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        local.sender.slash_command("/rollback", "scenario critical 3 deals slow", user_id=ENGINEER)
        card = settled_card(local, "quick fix first")
        (incident,) = local.store.list_incidents()
        assert local.store.get_timer(f"fix-window-{incident.id}") is not None
        local.sender.slash_command(
            "/severity", f"5 #{incident.id} now the API is down", user_id=ENGINEER
        )
        _wait(
            local.emulator,
            "proposal",
            lambda e: "awaits approval" in e.message(CHANNEL, card.ts).text,
        )
        told(local, ENGINEER, "severity 3 → 5")
        after = local.store.get_incident(incident.id)
        assert after is not None and after.state is IncidentState.AWAITING_APPROVAL
        assert local.store.get_timer(f"fix-window-{incident.id}") is None
        (change,) = [
            e
            for e in local.store.timeline(incident_id=incident.id)
            if e.action == "severity_changed"
        ]
        assert (change.actor, change.details) == (
            ENGINEER,
            {"from": "3", "to": "5", "reason": "now the API is down"},
        )
        # The window would have ended now: it was cancelled, so nothing fires but the pages.
        clock.advance(minutes=31)
        tick(local, scheduler)
        assert "fix_window_ended" not in _actions(local, incident.id)


def test_only_an_orchestrator_lowers_an_orchestrators_rating_and_a_fall_stops_the_pages(
    sandbox: Sandbox,
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, _):
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ORCHESTRATOR)
        card = settled_card(local, "awaits approval")
        local.deps.work.wait_idle(60)
        (incident,) = local.store.list_incidents()
        assert local.store.get_timer(f"page-{incident.id}") is not None
        local.sender.slash_command("/severity", "2", user_id=OTHER)
        told(local, OTHER, "only its requester or an orchestrator may re-rate it")
        local.sender.slash_command("/severity", "medium", user_id=ENGINEER)
        told(local, ENGINEER, "only its requester or an orchestrator")
        local.sender.slash_command("/severity", "2 too bad", user_id=ORCHESTRATOR)
        told(local, ORCHESTRATOR, "(the newest open one here): severity 5 → 2")
        _wait(
            local.emulator,
            "window",
            lambda e: "quick fix first" in e.message(CHANNEL, card.ts).text,
        )
        after = local.store.get_incident(incident.id)
        (plan,) = local.store.plans_of(incident.id)
    assert after is not None and (after.state, after.severity) == (IncidentState.FIXING, "2")
    assert plan.state is PlanState.SUPERSEDED
    assert "paging_stopped" in _actions(local, incident.id)


def test_the_requester_may_not_lower_what_an_orchestrator_raised(sandbox: Sandbox) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, _):
        local.sender.slash_command("/rollback", "scenario critical 3 slow", user_id=ENGINEER)
        settled_card(local, "quick fix first")
        (incident,) = local.store.list_incidents()
        local.sender.slash_command("/severity", f"4 {incident.id}", user_id=ORCHESTRATOR)
        told(local, ORCHESTRATOR, "severity 3 → 4")
        local.sender.slash_command("/severity", f"3 {incident.id}", user_id=ENGINEER)
        told(local, ENGINEER, "only an orchestrator may lower it")
        local.sender.slash_command("/severity", f"5 {incident.id}", user_id=ENGINEER)
        told(local, ENGINEER, "severity 4 → 5")
        after = local.store.get_incident(incident.id)
    assert after is not None and (after.severity, after.rated_by) == ("5", ENGINEER)
    assert "severity_refused" in _actions(local, incident.id)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("0", "is not a severity"),
        ("6", "is not a severity"),
        ("-1", "is not a severity"),
        ("1e3", "is not a severity"),
        ("urgent", "is not a severity"),
        ("4 #99", "There is no incident #99"),
        ("4 12345678901234567890", "not an incident number"),
        ("", "Which severity?"),
    ],
)
def test_bad_severity_input_gets_a_clear_message_and_changes_nothing(
    sandbox: Sandbox, text: str, said: str
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, _):
        local.sender.slash_command("/rollback", "scenario critical 3 slow", user_id=ENGINEER)
        settled_card(local, "quick fix first")
        local.deps.work.wait_idle(60)
        (before,) = local.store.list_incidents()
        local.sender.slash_command("/severity", text, user_id=ENGINEER)
        _wait(local.emulator, said, lambda e: any(said in t for t in private(local, ENGINEER)))
        (after,) = local.store.list_incidents()
    assert after == before


def test_closed_and_elsewhere_incidents_are_refused(sandbox: Sandbox) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, _):
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        (incident,) = local.store.list_incidents()
        _click(local, card, "rollback_reject")
        _wait(local.emulator, "rejected", lambda e: "rejected" in e.message(CHANNEL, card.ts).text)
        local.sender.slash_command("/severity", f"4 {incident.id}", user_id=ENGINEER)
        told(local, ENGINEER, f"Incident #{incident.id} is closed (rejected)")
        local.sender.slash_command("/rollback", "scenario minor 2 typo", user_id=ENGINEER)
        settled_card(local, "fix forward")
        local.sender.slash_command("/severity", "3 2", user_id=ENGINEER, channel_id="C0ELSEWHERE")
        told(local, ENGINEER, "re-rate it there")


def test_resolved_fixed_forward_asks_for_the_lesson_and_closes_the_incident(
    sandbox: Sandbox,
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        local.sender.slash_command("/rollback", "scenario critical 3 deals slow", user_id=ENGINEER)
        card = settled_card(local, "quick fix first")
        (incident,) = local.store.list_incidents()
        _click(local, card, "fix_extend", user=ENGINEER)
        told(local, ENGINEER, "Only an orchestrator can extend")
        _click(local, card, "fix_extend", user=ORCHESTRATOR)
        told(local, ORCHESTRATOR, "Extended")
        _click(local, card, "fix_resolved", user=OTHER)
        told(local, OTHER, "Only whoever reported incident")
        assert local.emulator.open_views() == []
        _resolve_with(local, card, "added the index")
        after = local.store.get_incident(incident.id)
        assert after is not None
        assert (after.state, after.resolution, after.resolved_by, after.lesson) == (
            IncidentState.RESOLVED,
            "fixed_forward",
            ENGINEER,
            "added the index",
        )
        # The window (extended by 15 min) is gone with the incident: nothing fires later.
        clock.advance(hours=2)
        tick(local, scheduler)
        actions = _actions(local, incident.id)
        status = _status(local, OTHER)
    assert "fix_window_extended" in actions and "fixed_forward" in actions
    assert "fix_window_ended" not in actions
    assert "paged" not in actions  # nobody had to decide anything, so nobody was paged
    assert f"#{incident.id} critical, fixed forward by" in status and "added the index" in status


def test_a_minor_problem_is_fixed_forward_and_its_lesson_listed_in_status(
    sandbox: Sandbox,
) -> None:
    with running(sandbox, Clock()) as (local, _):
        local.sender.slash_command("/rollback", "scenario minor one endpoint 404", user_id=ENGINEER)
        card = settled_card(local, "fix forward")
        open_status = _status(local, ENGINEER)
        _resolve_with(local, card, "typo")
        status = _status(local, OTHER)
    assert "#1 minor" in open_status
    assert "#1 minor, fixed forward by <@U0ENG>: typo" in status, status
