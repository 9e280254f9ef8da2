"""The watch through the real app on the demo sandbox, with the scheduler ticked on a moving
clock: a breaking commit in the working copy opens an incident with a plan back to the last
green commit after ``failures_before_incident`` red runs, then adds to it; off means off."""

from __future__ import annotations

import time
from pathlib import Path

from bot.jobs import WATCH_TIMER, ensure_timers
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.loopback import LocalSlack
from bot.scheduler import TICK_S, Scheduler
from store import IncidentState, SqliteStore
from tests.gitrepo import BRANCH, git
from tests.slackrun import Harness, card_with, service_health
from tests.slackrun import harness as harness  # the fixture
from tests.test_drill import with_scratch_service
from tests.test_edge_delivery import _click
from tests.test_escalation import Clock, running, tick
from tests.test_rollback_crash import stop_cleanly
from tests.test_rollback_flow import CHANNEL, _with_orchestrators, told

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
INTERVAL_S = 60


def restore_green_tree(sandbox: Sandbox, **watch: str) -> str:
    """A commit on top of the broken demo tip whose tree is the healthy T+8h checkpoint's; the
    sandbox's watch (off in the demo) switched on, with ``watch`` keys of its own."""
    settings = {"enabled": "true", "interval_s": "60", **watch}
    text = sandbox.config_path.read_text()
    section = "[watch]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items())
    start = text.index("[watch]\n")
    end = text.index("\n[", start + 1) + 1
    sandbox.config_path.write_text(text[:start] + section + text[end:])
    return green_commit(sandbox)


def green_commit(sandbox: Sandbox) -> str:
    """A commit on top of the broken demo tip with the healthy T+8h tree, pushed."""
    repo = sandbox.repo
    git(repo, "read-tree", "-u", "--reset", TAG_T8)
    git(repo, "commit", "-q", "--allow-empty", "-m", "fix(phase2): restore the email config")
    git(repo, "push", "-q", "origin", "HEAD")
    return git(repo, "rev-parse", "HEAD")


def card_ts(local: LocalSlack) -> str:
    (incident,) = local.store.list_incidents(states=list(IncidentState))
    assert incident.message_ts is not None
    return incident.message_ts


def only_watch(local: LocalSlack) -> None:
    ensure_timers(local.deps)
    for timer in ("continuous-validation", "checkpoint-reminder", "home-refresh"):
        local.store.cancel_timer(timer)


def look(local: LocalSlack, scheduler: Scheduler, clock: Clock) -> int:
    clock.advance(seconds=INTERVAL_S + 1)
    return tick(local, scheduler)


def test_a_breaking_commit_opens_one_incident_with_a_plan_to_the_last_green_commit(
    sandbox: Sandbox,
) -> None:
    green = restore_green_tree(sandbox)
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        only_watch(local)
        assert look(local, scheduler, clock) == 1
        assert local.store.commit_verdicts([green]) == {green: True}
        assert look(local, scheduler, clock) == 1  # green and unmoved: nothing to run
        (sandbox.repo / "server" / "email-config.ts").unlink()
        git(sandbox.repo, "commit", "-q", "-am", "refactor: drop the email config")
        bad = git(sandbox.repo, "rev-parse", "HEAD")
        look(local, scheduler, clock)  # red once: not yet an incident
        assert local.store.list_incidents() == []
        look(local, scheduler, clock)  # red twice: the incident, with its plan
        (incident,) = local.store.list_incidents()
        look(local, scheduler, clock)  # still red, nothing new: no second incident, no line
        quiet = [e.action.value for e in local.store.timeline(incident_id=incident.id)]
        with (sandbox.repo / "server" / "routes.ts").open("a") as out:
            out.write("// another red commit\n")
        git(sandbox.repo, "commit", "-q", "-am", "chore: another commit, still red")
        worse = git(sandbox.repo, "rev-parse", "HEAD")
        look(local, scheduler, clock)  # another red commit: added to that incident
        look(local, scheduler, clock)  # and not again while it stays the same
        card_now = local.emulator.message(CHANNEL, card_ts(local))
        assert card_now is not None
        _click(local, card_now, "rollback_reject")
        local.deps.work.wait_idle(30)
        look(local, scheduler, clock)
        look(local, scheduler, clock)  # rejected: the same bad commit is not reported again
        incidents = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        timeline = local.store.timeline(incident_id=incident.id)
    assert len(incidents) == 1 and incidents[0].state is IncidentState.REJECTED
    assert incident.trigger.startswith(f"validation failing since {bad[:7]}")
    assert "email" in incident.trigger
    assert plan.body["target_sha"] == green and plan.body["head_sha"] == bad
    assert "awaits approval" in card_now.text, "the proposal was not posted"
    assert "watch_incident" in quiet and "watch_still_red" not in quiet
    (added,) = [e for e in timeline if e.action.value == "watch_still_red"]
    assert added.details["head"] == worse and "email" in str(added.details["failing"])
    assert local.store.commit_verdicts([bad]) == {bad: False}


def test_watch_adds_to_an_engineers_incident_and_never_reports_that_commit_again(
    sandbox: Sandbox,
) -> None:
    restore_green_tree(sandbox)
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        only_watch(local)
        look(local, scheduler, clock)
        local.sender.slash_command("/rollback", "scenario critical 3 deals slow", user_id=ENGINEER)
        assert local.emulator.wait_for(lambda e: bool(local.store.list_incidents()), timeout=30)
        local.deps.work.wait_idle(30)
        (incident,) = local.store.list_incidents()
        (sandbox.repo / "server" / "email-config.ts").unlink()
        git(sandbox.repo, "commit", "-q", "-am", "refactor: drop the email config")
        for _ in range(3):  # red, red (added to the engineer's incident), red
            look(local, scheduler, clock)
        assert local.store.resolve_incident(
            incident.id,
            expected=list(IncidentState),
            resolution="fixed forward",
            resolved_by=ENGINEER,
            lesson="",
        )
        look(local, scheduler, clock)  # the same red commit, its incident closed
        look(local, scheduler, clock)
        incidents = local.store.list_incidents(states=list(IncidentState))
        timeline = local.store.timeline(incident_id=incident.id)
    assert [i.id for i in incidents] == [incident.id]
    assert [e.action.value for e in timeline].count("watch_still_red") == 1


def test_watch_judges_a_commit_pushed_to_the_remote_in_a_clone_and_tells_a_red_one_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    green = restore_green_tree(sandbox)
    with_scratch_service(sandbox)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "--branch", BRANCH, str(sandbox.origin), str(other))
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        only_watch(local)
        look(local, scheduler, clock)
        (other / "server" / "email-config.ts").unlink()
        git(other, "commit", "-q", "-am", "refactor: drop the email config")
        git(other, "push", "-q", "origin", BRANCH)
        bad = git(other, "rev-parse", "HEAD")
        look(local, scheduler, clock)  # the remote's new head, judged in a clone: red
        look(local, scheduler, clock)  # judged already: not told again
        (other / "server" / "email-config.ts").write_text("export const email = true\n")
        git(other, "add", "-A")
        git(other, "commit", "-q", "-m", "fix: the email config back")
        git(other, "push", "-q", "origin", BRANCH)
        fixed = git(other, "rev-parse", "HEAD")
        look(local, scheduler, clock)  # the fix, judged in a clone: green, nothing said
        assert git(sandbox.repo, "rev-parse", "HEAD") == green  # the looks moved nothing live
        # The red commit reaches the working copy: judged in a clone is not served here, so
        # the watch restarts the live service on it before its checklist.
        git(sandbox.repo, "fetch", "-q", "origin")
        git(sandbox.repo, "merge", "-q", "--ff-only", bad)
        look(local, scheduler, clock)
        health = service_health(sandbox)
        told = [m for m in local.emulator.messages(CHANNEL) if "fails the checklist" in m.text]
        verdicts = local.store.commit_verdicts([green, bad, fixed])
        events = [e for e in local.store.timeline() if e.action == "watch_remote_red"]
    assert [m.text for m in told] == [f"origin/{BRANCH} is at {bad[:7]}, which fails the checklist"]
    assert "email" in str(told[0].blocks) and "don't pull it" in str(told[0].blocks)
    assert verdicts == {green: True, bad: False, fixed: True}
    assert [e.details["head"] for e in events] == [bad]
    assert health["email"] is False, health  # the live service runs the pulled commit
    assert local.store.list_incidents() == []  # one red run here so far: no incident yet


def test_only_an_orchestrator_switches_the_watch_and_off_means_nothing_runs(
    sandbox: Sandbox,
) -> None:
    _with_orchestrators(sandbox, ORCHESTRATOR)
    restore_green_tree(sandbox)
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        only_watch(local)
        local.sender.slash_command("/rollback", "watch off", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "Only an orchestrator can switch the watch")
        local.sender.slash_command("/rollback", "watch off", user_id=ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "The watch is off")
        local.deps.work.wait_idle(30)
        look(local, scheduler, clock)
        head = git(sandbox.repo, "rev-parse", "HEAD")
        verdicts = local.store.commit_verdicts([head])
        switched = [e for e in local.store.timeline() if e.action == "watch_switched"]
        timer = local.store.get_timer(WATCH_TIMER)
    assert verdicts == {}  # nothing was checked while off
    assert [(e.actor, e.details["on"]) for e in switched] == [(ORCHESTRATOR, False)]
    assert timer is not None and timer.interval_s == INTERVAL_S


def test_serve_watch_opens_the_incident_within_its_intervals(harness: Harness) -> None:
    sandbox = harness.sandbox
    green = restore_green_tree(sandbox, interval_s="1", failures_before_incident="2")
    process, _ = harness.serve()

    def verdict(sha: str) -> bool | None:
        store = SqliteStore(sandbox.store_path)
        try:
            return store.commit_verdicts([sha]).get(sha)
        finally:
            store.close()

    deadline = time.monotonic() + 60
    while verdict(green) is None and time.monotonic() < deadline:
        harness.emulator.wait_for_change(harness.emulator.version, timeout=0.5)
    assert verdict(green) is True
    (sandbox.repo / "server" / "email-config.ts").unlink()
    git(sandbox.repo, "commit", "-q", "-am", "refactor: drop the email config")
    broke_at = time.monotonic()
    card = card_with(harness.emulator, "awaits approval", timeout=90)
    took = time.monotonic() - broke_at
    stop_cleanly(process)
    # Two intervals, the scheduler's tick for each, and two checklists (one with a restart).
    assert took < 2 * (1 + TICK_S) + 2 * 15, took
    assert "validation failing since" in str(card.blocks)
