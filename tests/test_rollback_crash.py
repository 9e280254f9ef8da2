"""Rollbacks through ``rollback-bot serve`` (a real process), and crashes in the middle of them.

Every test drives the demo sandbox (a real repository, its bare origin and the demo service)
with signed requests from the loopback Slack. The crash tests start ``serve`` with
``ROLLBACK_BOT_KILL_AFTER_STEP``, so the bot SIGKILLs itself right after journaling that step
"done"; a second ``serve`` on the same store must offer Resume, and the resumed run must finish
the rollback with every step carried out exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.flows.run_steps import ROLLBACK_STEPS, STEP_NAMES
from bot.local.demo.sandbox import ORCHESTRATOR, PHASE_BRANCH, TAG_T8, Sandbox
from bot.local.emulator import Message
from store import Incident, IncidentState, JournalEntry, Lock, Plan, PlanState, SqliteStore
from tests.gitrepo import git
from tests.servehelp import ServeProcess
from tests.slackrun import (
    APPROVE,
    CHANNEL,
    CLICK_TIMEOUT_S,
    ENGINEER,
    KILL_TIMEOUT_S,
    RESUME,
    TRACKED_EXTRA,
    TRACKED_PATH,
    WIP_PATH,
    WIP_TEXT,
    Before,
    Harness,
    buttons,
    channel_messages,
    click,
    dirty_the_sandbox,
    request_rollback,
    service_health,
    told,
    wait_card_text,
    with_button,
)
from tests.slackrun import harness as harness  # the fixture

STEP_TITLES = {step.name: step.title for step in ROLLBACK_STEPS}

# -- repository, service and store ---------------------------------------------------------------


def origin_backups(sandbox: Sandbox) -> list[str]:
    listed = git(
        sandbox.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/phase2-broken-*"
    )
    return listed.splitlines()


def assert_rolled_back(sandbox: Sandbox, before: Before) -> str:
    """HEAD and origin at the checkpoint, one backup branch with everything; returns its name."""
    work, origin = sandbox.repo, sandbox.origin
    assert git(work, "rev-parse", "HEAD") == before.checkpoint
    assert git(work, "symbolic-ref", "HEAD") == f"refs/heads/{PHASE_BRANCH}"
    assert git(origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == before.checkpoint
    (backup,) = origin_backups(sandbox)
    snapshot = git(origin, "rev-parse", f"refs/heads/{backup}")
    assert git(work, "rev-parse", f"refs/heads/{backup}") == snapshot  # the local one as well
    assert git(origin, "rev-parse", f"{snapshot}^1") == before.head
    assert git(origin, "show", f"{snapshot}:{WIP_PATH}") == WIP_TEXT.strip()
    assert git(origin, "show", f"{snapshot}:{TRACKED_PATH}").endswith(TRACKED_EXTRA.strip())
    # The service was restarted on the checkpoint's code: the email config is back.
    health = service_health(sandbox)
    assert health["status"] == "ok" and health["email"] is True, health
    assert health["pid"] != before.service_pid, health
    return backup


@dataclass(frozen=True)
class Stored:
    incident: Incident
    plan: Plan
    journal: list[JournalEntry]
    locks: list[Lock]
    events: list[str]


def read_store(sandbox: Sandbox) -> Stored:
    """The store as the stopped bot left it."""
    store = SqliteStore(sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        return Stored(
            incident=incident,
            plan=plan,
            journal=store.journal(plan.id),
            locks=store.list_locks(),
            events=[event.action for event in reversed(store.timeline(limit=500))],
        )
    finally:
        store.close()


def assert_recorded(stored: Stored, before: Before, backup: str) -> None:
    incident, plan = stored.incident, stored.plan
    assert incident.state is IncidentState.ROLLED_BACK
    assert (incident.from_sha, incident.to_sha) == (before.head, before.checkpoint)
    assert (incident.target_ref, incident.backup_branch, incident.healthy) == (TAG_T8, backup, True)
    assert plan.state is PlanState.DONE and plan.approved_by == ORCHESTRATOR and plan.waived
    assert stored.locks == []


def stop_cleanly(process: ServeProcess) -> None:
    code, output = process.stop()
    assert code == 0, output
    assert "Traceback" not in output, output


def wait_killed(process: ServeProcess, step: str) -> str:
    try:
        code = process.process.wait(timeout=KILL_TIMEOUT_S)
    except Exception:
        _, output = process.stop()
        raise AssertionError(f"serve was not killed after {step!r}:\n{output}") from None
    _, output = process.stop()  # reaps it and collects what it wrote
    assert code == -9, (code, output)
    assert f"failpoint: killing the process after step {step}" in output, output
    return output


def timed(what: str, timings: dict[str, float]) -> Callable[[], None]:
    started = time.monotonic()

    def done() -> None:
        timings[what] = round(time.monotonic() - started, 2)

    return done


# -- A: the acceptance path ----------------------------------------------------------------------


def test_serve_rolls_back_the_critical_scenario_after_an_orchestrator_approves(
    harness: Harness,
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    before = dirty_the_sandbox(sandbox)
    process, sender = harness.serve()
    card = request_rollback(harness, sender)

    click(emulator, sender, card, APPROVE, ENGINEER)
    assert told(emulator, ENGINEER, "Only an orchestrator can approve")
    assert git(sandbox.repo, "rev-parse", "HEAD") == before.head
    assert origin_backups(sandbox) == []
    assert "awaits approval" in (emulator.message(CHANNEL, card.ts) or card).text

    click(emulator, sender, card, APPROVE, ORCHESTRATOR)
    final = wait_card_text(emulator, card, "rolled back")
    assert final.ts == card.ts and final.edited
    assert "service healthy" in final.text, final.text
    rendered = str(final.blocks)
    assert "Rollback done" in rendered and "Service healthy" in rendered, rendered
    assert RESUME not in buttons(final) and APPROVE not in buttons(final)
    stop_cleanly(process)

    backup = assert_rolled_back(sandbox, before)
    assert backup in rendered  # the card says where the abandoned work is
    stored = read_store(sandbox)
    assert_recorded(stored, before, backup)
    assert [e.step for e in stored.journal if e.status == "done"] == list(STEP_NAMES)
    assert {e.attempt for e in stored.journal} == {1} and stored.plan.attempt == 1
    assert "rollback_done" in stored.events and "approval_refused" in stored.events


# -- B: SIGKILL right after each journaled step --------------------------------------------------


def crash_after(harness: Harness, step: str) -> Message:
    """Request and approve with the failpoint set; returns the card once serve died after step."""
    emulator = harness.emulator
    doomed, sender = harness.serve(ROLLBACK_BOT_KILL_AFTER_STEP=step)
    card = request_rollback(harness, sender)
    click(emulator, sender, card, APPROVE, ORCHESTRATOR)
    wait_killed(doomed, step)
    assert with_button(emulator, RESUME) == []  # nothing offered Resume while it ran
    # What the dead process left: the plan RUNNING, or DONE when it died after "record".
    store = SqliteStore(harness.sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        locks = [(lock.name, lock.owner) for lock in store.list_locks()]
    finally:
        store.close()
    finished = STEP_NAMES.index(step) >= STEP_NAMES.index("record")
    assert plan.state is (PlanState.DONE if finished else PlanState.RUNNING), plan
    assert plan.attempt == 1
    # The lock survives the crash (nobody else may touch the half-done repository) until
    # "unlock" has run.
    assert [owner for _, owner in locks] == ([] if step == "unlock" else [f"rollback:{plan.id}"])
    return card


@pytest.mark.parametrize("step", STEP_NAMES)
def test_serve_killed_after_a_step_resumes_and_finishes_the_rollback_once(
    harness: Harness, step: str
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    timings: dict[str, float] = {}
    before = dirty_the_sandbox(sandbox)

    first_run = timed("first run until killed", timings)
    card = crash_after(harness, step)
    first_run()
    killed_at = STEP_NAMES.index(step)

    restart = timed("restart", timings)
    process, sender = harness.serve()  # the same store and the same Slack, no failpoint
    restart()
    finished_before_crash = step in ("record", "unlock")  # the plan was already DONE
    resume_run = timed("resume until rolled back", timings)
    if finished_before_crash:
        # Start-up's announcements are posted before /healthz answers: nothing to wait for.
        assert with_button(emulator, RESUME) == [], [m.text for m in channel_messages(emulator)]
    else:
        assert emulator.wait_for(lambda e: bool(with_button(e, RESUME)), timeout=CLICK_TIMEOUT_S)
        announcement = with_button(emulator, RESUME)[-1]
        assert "rollback stopped" in announcement.text, announcement.text
        resumed_from = STEP_TITLES[STEP_NAMES[killed_at + 1]]
        assert f"Stopped at “{resumed_from}”" in str(announcement.blocks), announcement.blocks
        # The card itself offers Resume, and a new message tells the channel (an edit notifies
        # nobody).
        stale = emulator.message(CHANNEL, card.ts)
        assert stale is not None and RESUME in buttons(stale)
        notices = [
            m
            for m in channel_messages(emulator)
            if float(m.ts) > float(card.ts) and m.thread_ts is None  # pages are in its thread
        ]
        assert len(notices) == 1 and "rollback stopped" in notices[0].text, notices

        click(emulator, sender, announcement, RESUME, ORCHESTRATOR)
        click(emulator, sender, announcement, RESUME, ORCHESTRATOR)  # a double click
        assert told(emulator, ORCHESTRATOR, "The rollback "), [
            m.text for m in emulator.messages() if m.ephemeral
        ]
        refusals = [m.text for m in emulator.messages() if m.ephemeral_to == ORCHESTRATOR]
        assert len(refusals) == 1, refusals
        assert refusals[0] in (
            "The rollback is already running again.",
            "The rollback has finished.",
        ), refusals
        final = wait_card_text(emulator, card, "rolled back")
        rendered = str(final.blocks)
        assert "service healthy" in final.text, final.text
        assert "Rollback done" in rendered and "Service healthy" in rendered, rendered
        assert RESUME not in buttons(final)
    resume_run()
    stop_cleanly(process)

    backup = assert_rolled_back(sandbox, before)
    stored = read_store(sandbox)
    assert_recorded(stored, before, backup)
    journal = stored.journal
    done = [e.step for e in journal if e.status == "done"]
    expected_done = list(STEP_NAMES) if step != "record" else list(STEP_NAMES[:-1])
    assert done == expected_done, [(e.attempt, e.step, e.status) for e in journal]
    assert not [e for e in journal if e.status == "failed"], journal
    for entry in journal:  # a step is started again only if it had not been done
        if entry.status == "started":
            earlier = journal[: journal.index(entry)]
            assert not any(e.step == entry.step and e.status == "done" for e in earlier), entry
    attempts = {e.step: e.attempt for e in journal if e.status == "done"}
    expected_attempts = {
        name: 1 if index <= killed_at else 2 for index, name in enumerate(expected_done)
    }
    assert attempts == expected_attempts, attempts
    assert stored.plan.attempt == (1 if finished_before_crash else 2)
    resumed = stored.events.count("rollback_resumed")
    assert resumed == (0 if finished_before_crash else 1), stored.events
    assert stored.events.count("rollback_interrupted") == resumed, stored.events
    assert stored.events.count("rollback_done") == 1, stored.events
    print(f"\n{step}: {timings}")


@pytest.mark.parametrize("step", ["record", "unlock"])
def test_serve_killed_after_the_rollback_finished_shows_it_finished_on_the_card(
    harness: Harness, step: str
) -> None:
    emulator = harness.emulator
    dirty_the_sandbox(harness.sandbox)
    card = crash_after(harness, step)
    assert "rolling back" in (emulator.message(CHANNEL, card.ts) or card).text
    process, _ = harness.serve()
    try:
        # Start-up's work is done before /healthz answers; a little slack for the edit.
        final = wait_card_text(emulator, card, "rolled back", timeout=3)
        rendered = str(final.blocks)
        assert "service healthy" in final.text, final.text
        assert "Rollback done" in rendered and "Service healthy" in rendered, rendered
    finally:
        stop_cleanly(process)


def test_serve_resumed_rollback_leaves_no_resume_button_behind(harness: Harness) -> None:
    emulator = harness.emulator
    dirty_the_sandbox(harness.sandbox)
    card = crash_after(harness, "push")
    process, sender = harness.serve()
    try:
        assert emulator.wait_for(lambda e: bool(with_button(e, RESUME)), timeout=CLICK_TIMEOUT_S)
        click(emulator, sender, with_button(emulator, RESUME)[-1], RESUME, ORCHESTRATOR)
        wait_card_text(emulator, card, "rolled back")
        assert [m.text for m in with_button(emulator, RESUME)] == []
    finally:
        stop_cleanly(process)
