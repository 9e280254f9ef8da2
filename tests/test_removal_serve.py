"""The high-risk removal through ``rollback-bot serve`` (a real process): real drills first,
then three files of which the second breaks the email routes; and a SIGKILL in the middle of
it, after which the second ``serve`` offers Resume and the resumed run finishes the removal
with every step carried out exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bot.local.demo.sandbox import ORCHESTRATOR, Sandbox
from bot.local.emulator import Message, SlackEmulator, SlackSender
from store import IncidentState, PlanState, SqliteStore
from tests.gitrepo import git
from tests.slackrun import (
    ENGINEER,
    RESUME,
    Harness,
    card_with,
    click,
    service_health,
    wait_card_text,
)
from tests.slackrun import harness as harness  # the fixture
from tests.test_removal import BREAKING, HARMLESS, LAST, assert_second_restored
from tests.test_rollback_crash import stop_cleanly, wait_killed
from tests.test_watch import green_commit

REMOVE = f"remove {HARMLESS} {BREAKING} {LAST}"
STOPPED_AT_BREAK = "removal stopped at a breaking file"


def drill(emulator: SlackEmulator, sender: SlackSender, scenario: str) -> None:
    sender.slash_command("/rollback", f"drill {scenario}", user_id=ENGINEER)
    assert emulator.wait_for(
        lambda e: any(m.text.startswith(f"Drill: {scenario}: passed") for m in e.messages()),
        timeout=120,
    ), [m.text for m in emulator.messages()]


def drills_on_record(sandbox: Sandbox) -> None:
    store = SqliteStore(sandbox.store_path)
    try:
        for scenario in ("email", "critical"):
            store.record_drill(
                scenario=scenario,
                started_at=datetime.now(UTC),
                ok=True,
                duration_s=1.0,
                commit_sha=None,
                verified_by="git",
                exercised=("clone",),
                problem="",
                actor=ENGINEER,
            )
    finally:
        store.close()


def test_serve_removal_after_real_drills_restores_the_breaking_second_file(
    harness: Harness,
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    start = green_commit(sandbox)
    process, sender = harness.serve()
    sender.slash_command("/rollback", REMOVE, user_id=ENGINEER)
    assert emulator.wait_for(
        lambda e: any(
            m.ephemeral_to == ENGINEER and "/rollback drill email" in m.text for m in e.messages()
        ),
        timeout=30,
    )
    drill(emulator, sender, "email")
    drill(emulator, sender, "critical")
    sender.slash_command("/rollback", REMOVE, user_id=ENGINEER)
    card = card_with(emulator, "awaits approval")
    click(emulator, sender, card, "rollback_approve", ENGINEER)  # not an orchestrator
    assert emulator.wait_for(
        lambda e: any(
            m.ephemeral_to == ENGINEER and "Only an orchestrator" in m.text for m in e.messages()
        ),
        timeout=30,
    )
    click(emulator, sender, card, "rollback_approve", ORCHESTRATOR)
    final = wait_card_text(emulator, card, STOPPED_AT_BREAK, timeout=120)
    stop_cleanly(process)
    assert_second_restored(sandbox, start)
    health = service_health(sandbox)
    assert health["status"] == "ok" and health["email"] is True, health
    shown = str(final.blocks)
    assert f"{BREAKING}`* broke" in shown or f"{BREAKING}` *broke*" in shown, shown
    assert "Service healthy" in shown


def _journal_done(sandbox: Sandbox) -> tuple[PlanState, list[str], int]:
    store = SqliteStore(sandbox.store_path)
    try:
        (incident,) = [i for i in store.list_incidents(states=list(IncidentState)) if i.is_removal]
        (plan,) = store.plans_of(incident.id)
        done = [e.step for e in store.journal(plan.id) if e.status == "done"]
        return plan.state, done, plan.attempt
    finally:
        store.close()


def _approved_then_killed(harness: Harness, step: str) -> tuple[str, Message]:
    """The green start commit, and the removal's card once serve killed itself after step."""
    start = green_commit(harness.sandbox)
    drills_on_record(harness.sandbox)
    doomed, sender = harness.serve(ROLLBACK_BOT_KILL_AFTER_STEP=step)
    sender.slash_command("/rollback", REMOVE, user_id=ENGINEER)
    card = card_with(harness.emulator, "awaits approval")
    click(harness.emulator, sender, card, "rollback_approve", ORCHESTRATOR)
    wait_killed(doomed, step)
    return start, card


@pytest.mark.parametrize("step", ["remove:1", "restore:1"])
def test_serve_removal_killed_mid_way_resumes_and_finishes_once(
    harness: Harness, step: str
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    start, card = _approved_then_killed(harness, step)
    state, done, _ = _journal_done(sandbox)
    assert state is PlanState.RUNNING and done[-1] == step

    process, sender = harness.serve()
    stopped = wait_card_text(emulator, card, "removal stopped", timeout=60)
    assert "Resume the removal?" in str(stopped.blocks) and "rollback?" not in str(stopped.blocks)
    click(emulator, sender, stopped, RESUME, ORCHESTRATOR)
    wait_card_text(emulator, card, STOPPED_AT_BREAK, timeout=120)
    stop_cleanly(process)
    assert_second_restored(sandbox, start)
    state, done, attempt = _journal_done(sandbox)
    assert state is PlanState.DONE and attempt == 2
    assert [name for name, count in Counter(done).items() if count > 1] == []
    removals = git(sandbox.repo, "log", "--format=%s", f"{start}..HEAD").splitlines()
    assert removals == [f"stabilize(phase2): remove {HARMLESS}"]


@pytest.mark.parametrize("step", ["record", "unlock"])
def test_serve_removal_killed_after_it_finished_shows_it_finished_and_reports_once(
    harness: Harness, step: str
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    start, card = _approved_then_killed(harness, step)
    state, _, _ = _journal_done(sandbox)
    assert state is PlanState.DONE
    assert STOPPED_AT_BREAK not in (emulator.message(card.channel, card.ts) or card).text

    def reports() -> list[str]:
        return [
            m.text
            for m in emulator.messages(card.channel)
            if m.thread_ts == card.ts and m.text == "The removal's report"
        ]

    assert reports() == []
    for _ in range(2):  # a second start reports nothing again
        process, _ = harness.serve()
        # Start-up's work is done before /healthz answers; a little slack for the edit.
        final = wait_card_text(emulator, card, STOPPED_AT_BREAK, timeout=5)
        stop_cleanly(process)
        assert reports() == ["The removal's report"]
    assert f"{BREAKING}" in str(final.blocks) and "Service healthy" in str(final.blocks)
    assert_second_restored(sandbox, start)
