"""Blockers, paging and fix windows through the real app, on the sandbox, with a moving clock.

Every request is signed and sent to the real Bolt app; the scheduler is ticked by hand after
the injected clock moves, so a 30-minute window ends in no time and nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.jobs import build_jobs
from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from bot.scheduler import Scheduler
from bot.views.blocks import unescape
from store import IncidentState, PlanState
from tests.test_edge_delivery import _click, _wait
from tests.test_rollback_flow import CHANNEL, button, card_with

ENGINEER, ORCHESTRATOR, LEAD, OTHER = "U0ENG", "U0ORCH", "U0LEAD", "U0OTHER"
APPROVE = "rollback_approve_anyway"  # the sandbox's history crosses a schema migration
ESCALATION = """
[escalation]
fallback = ["U0LEAD"]
repeat = 2
[escalation.delay_min]
critical = 5
high = 15
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def running(sandbox: Sandbox, clock: Clock) -> Iterator[tuple[LocalSlack, Scheduler]]:
    if "[escalation]" not in sandbox.config_path.read_text():
        sandbox.config_path.write_text(sandbox.config_path.read_text() + ESCALATION)
    with LocalSlack(
        load_config(sandbox.config_path), environ={}, clock=clock, scheduler=False
    ) as local:
        yield local, Scheduler(local.deps, build_jobs(local.app.client))


def settled_card(local: LocalSlack, words: str) -> Message:
    """The card with these words, once the work that posted it is done: the store knows the
    card as the incident's, so a click on it edits it (a person cannot click sooner)."""
    card = card_with(local.emulator, words)
    assert local.deps.work.wait_idle(90)
    return card


def tick(local: LocalSlack, scheduler: Scheduler) -> int:
    fired = scheduler.tick()
    for job in fired:
        job.result(timeout=90)
    local.deps.work.wait_idle(90)
    return len(fired)


def dms(emulator: SlackEmulator, user: str) -> list[Message]:
    return [m for m in emulator.messages("D" + user[1:]) if not m.ephemeral_to]


def private(local: LocalSlack, user: str) -> list[str]:
    return [unescape(m.text) for m in local.emulator.messages() if m.ephemeral_to == user]


def told(local: LocalSlack, user: str, words: str) -> None:
    said = local.emulator.wait_for(
        lambda e: any(words in t for t in private(local, user)), timeout=30
    )
    assert said, (words, private(local, user))


def pages(local: LocalSlack) -> list[dict[str, object]]:
    local.deps.work.wait_idle(60)
    return [e.details for e in local.store.timeline(limit=500) if e.action == "paged"]


def only_incident(local: LocalSlack) -> int:
    (incident,) = local.store.list_incidents(states=list(IncidentState))
    return incident.id


def test_blocker_rated_high_gets_a_window_then_a_proposal_and_approval_stops_the_pages(
    sandbox: Sandbox,
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        local.sender.slash_command("/rollback", "blocker login loops on /inbox", user_id=ENGINEER)
        card = settled_card(local, "waiting for a rating")
        _wait(local.emulator, "the DM", lambda e: bool(dms(e, ORCHESTRATOR)))
        request = dms(local.emulator, ORCHESTRATOR)[0]
        assert "login loops on /inbox" in unescape(request.text + str(request.blocks))
        # Only an orchestrator's rating counts.
        _click(local, card, "blocker_rate_critical", user=ENGINEER)
        told(local, ENGINEER, "Only an orchestrator can rate a blocker")
        assert local.store.get_incident(only_incident(local)).state is IncidentState.AWAITING_RATING
        _click(local, request, "blocker_rate_high")
        _wait(
            local.emulator,
            "window",
            lambda e: "quick fix first" in e.message(CHANNEL, card.ts).text,
        )
        incident = local.store.get_incident(only_incident(local))
        assert (incident.state, incident.severity, incident.rated_by) == (
            IncidentState.FIXING,
            "4",
            ORCHESTRATOR,
        )
        _wait(
            local.emulator,
            "the DM retired",
            lambda e: "rated high" in e.message(request.channel, request.ts).text,
        )
        assert local.store.get_timer(f"page-{incident.id}") is None  # rating stopped the pages
        # Half the window: nothing happens.
        clock.advance(minutes=29)
        assert tick(local, scheduler) == 0
        clock.advance(minutes=1, seconds=1)
        assert tick(local, scheduler) == 1
        proposal = local.emulator.message(CHANNEL, card.ts)
        assert "awaits approval" in proposal.text
        assert "ended without a fix" in unescape(str(proposal.blocks))
        assert local.store.get_incident(incident.id).state is IncidentState.AWAITING_APPROVAL
        # The blocker paged for its rating, the proposal pages for its approval.
        assert [(p["level"], p["why"]) for p in pages(local)] == [
            (1, "rate this blocker"),
            (1, "approve or reject the rollback"),
        ]
        clock.advance(minutes=15, seconds=1)
        assert tick(local, scheduler) == 1
        assert [p["level"] for p in pages(local)] == [1, 1, 2]
        assert any("needs you to" in m.text for m in dms(local.emulator, LEAD))
        _click(local, local.emulator.message(CHANNEL, card.ts), APPROVE)
        _wait(
            local.emulator,
            "rolled back",
            lambda e: "rolled back" in e.message(CHANNEL, card.ts).text,
            90,
        )
        assert local.store.get_timer(f"page-{incident.id}") is None
        clock.advance(minutes=60)
        tick(local, scheduler)
        assert [p["level"] for p in pages(local)] == [1, 1, 2]
        actions = [e.action for e in local.store.timeline(incident_id=incident.id, limit=500)]
    for expected in ("blocker_rated", "fix_window_started", "fix_window_ended", "paging_stopped"):
        assert expected in actions, actions


def test_unattended_critical_pages_each_level_and_acknowledge_pauses_them(
    sandbox: Sandbox,
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        incident = only_incident(local)
        assert [(p["step"], p["level"]) for p in pages(local)] == [(1, 1)]
        page = next(m for m in dms(local.emulator, ORCHESTRATOR) if "needs you to" in m.text)
        threaded = [m for m in local.emulator.messages(CHANNEL) if m.thread_ts == card.ts]
        assert threaded and "approve or reject" in threaded[0].text
        clock.advance(minutes=5, seconds=1)
        tick(local, scheduler)
        assert [(p["step"], p["level"]) for p in pages(local)] == [(1, 1), (2, 2)]
        # Someone who is not paged cannot silence the pages.
        _click(local, page, "page_acknowledge", user=OTHER)
        told(local, OTHER, "Only the people being paged")
        lead_page = next(m for m in dms(local.emulator, LEAD) if "needs you to" in m.text)
        _click(local, lead_page, "page_acknowledge", user=LEAD)
        told(local, LEAD, "Acknowledged")
        clock.advance(minutes=4)
        assert tick(local, scheduler) == 0
        clock.advance(minutes=1, seconds=1)
        tick(local, scheduler)
        assert [(p["step"], p["level"]) for p in pages(local)] == [(1, 1), (2, 2), (3, 1)]
        _click(local, local.emulator.message(CHANNEL, card.ts), APPROVE)
        _wait(
            local.emulator, "done", lambda e: "rolled back" in e.message(CHANNEL, card.ts).text, 90
        )
        clock.advance(minutes=30)
        tick(local, scheduler)
        assert len(pages(local)) == 3
        events = [e.action for e in local.store.timeline(incident_id=incident, limit=500)]
    assert "page_acknowledged" in events and "paging_stopped" in events


def test_a_window_that_ends_while_the_bot_is_down_fires_once_after_the_restart(
    sandbox: Sandbox,
) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, _):
        local.sender.slash_command("/rollback", "scenario critical 3 slow deals", user_id=ENGINEER)
        card = settled_card(local, "quick fix first")
        incident = only_incident(local)
        assert local.store.plans_of(incident) == []
    clock.advance(hours=2)  # the bot is stopped past the window's end
    with running(sandbox, clock) as (local, scheduler):
        other = Scheduler(local.deps, build_jobs(local.app.client))
        fired = scheduler.tick() + other.tick()  # two replicas polling at once
        for job in fired:
            job.result(timeout=90)
        local.deps.work.wait_idle(90)
        assert len(fired) == 1
        assert tick(local, scheduler) == 0
        (plan,) = local.store.plans_of(incident)
        ended = [
            e for e in local.store.timeline(incident_id=incident) if e.action == "fix_window_ended"
        ]
    assert plan.state is PlanState.PROPOSED and len(ended) == 1
    assert card.ts  # the card of the first run was the one the window's end edits


def test_blocker_rated_medium_continues_and_critical_proposes_at_once(sandbox: Sandbox) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, _):
        local.sender.slash_command("/rollback", "blocker flaky test", user_id=ENGINEER)
        first = settled_card(local, "waiting for a rating")
        _click(local, first, "blocker_rate_medium")
        _wait(
            local.emulator,
            "fix forward",
            lambda e: "fix forward" in e.message(CHANNEL, first.ts).text,
        )
        local.sender.slash_command("/rollback", "blocker the API is down", user_id=ENGINEER)
        second = settled_card(local, "waiting for a rating")
        assert second.ts != first.ts
        _click(local, second, "blocker_rate_critical")
        _wait(
            local.emulator,
            "proposal",
            lambda e: "awaits approval" in e.message(CHANNEL, second.ts).text,
        )
        # A second rating, from a copy of the card drawn before the first one landed.
        stale = local.sender.block_action(
            user_id=ORCHESTRATOR,
            action=button(second, "blocker_rate_low"),
            message=local.emulator.message_payload(second),
            channel_id=CHANNEL,
        )
        assert stale.status == 200
        told(local, ORCHESTRATOR, "was already rated 5")
        medium, critical = local.store.list_incidents(states=list(IncidentState))
    assert (medium.state, medium.severity) == (IncidentState.OPEN, "3")
    assert (critical.state, critical.severity) == (IncidentState.AWAITING_APPROVAL, "5")
