"""The high-risk removal through the real Bolt app on the demo sandbox: three files, the second
of which breaks the email routes, end with the first removed, the second restored from its
backup, the third untouched, the service healthy and a report naming the second; and each
way of asking wrongly gets its reason with nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from store import IncidentState, PlanState, TimelineAction
from tests.gitrepo import git
from tests.test_edge_delivery import _click
from tests.test_escalation import Clock, running
from tests.test_rollback_flow import CHANNEL, card_with, told
from tests.test_watch import green_commit

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
HARMLESS, BREAKING, LAST = (
    "server/email/legacy-sender.ts",
    "server/email-config.ts",
    "tests/email.test.ts",
)


def drilled(local: LocalSlack, *scenarios: str, ok: bool = True) -> None:
    """A drill of each scenario on record, just now (the drill itself is tested elsewhere)."""
    for scenario in scenarios:
        local.store.record_drill(
            scenario=scenario,
            started_at=local.deps.clock(),
            ok=ok,
            duration_s=1.0,
            commit_sha=None,
            verified_by="git",
            exercised=("clone", "break", "rollback", "verify", "cleanup"),
            problem="",
            actor=ENGINEER,
        )


@contextmanager
def removal_ready(sandbox: Sandbox) -> Iterator[LocalSlack]:
    green_commit(sandbox)
    with running(sandbox, Clock()) as (local, _):
        drilled(local, "email", "critical")
        yield local


def thread_of(emulator: SlackEmulator, card: Message) -> list[Message]:
    return [m for m in emulator.messages(CHANNEL) if m.thread_ts == card.ts and m.ts != card.ts]


def remove(local: LocalSlack, *paths: str) -> Message:
    local.sender.slash_command("/rollback", "remove " + " ".join(paths), user_id=ENGINEER)
    card = card_with(local.emulator, "awaits approval")
    assert local.deps.work.wait_idle(60)
    return card


def assert_second_restored(sandbox: Sandbox, start: str) -> None:
    """The first file removed in its commit on ``start``, pushed with lease; the second's
    commit reset and kept on a pushed backup branch; the third untouched; the pre-change
    checkpoint on the remote."""
    repo, origin = sandbox.repo, sandbox.origin
    head = git(repo, "rev-parse", "HEAD")
    assert git(repo, "log", "-1", "--format=%s") == f"stabilize(phase2): remove {HARMLESS}"
    assert git(repo, "rev-parse", "HEAD~1") == start
    assert not (repo / HARMLESS).exists()
    assert (repo / BREAKING).is_file() and (repo / LAST).is_file()
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    branch = git(repo, "branch", "--show-current")
    assert git(origin, "rev-parse", f"refs/heads/{branch}") == head  # pushed, leased
    backups = git(origin, "for-each-ref", "--format=%(refname)", "refs/heads/phase2-removal-*")
    (backup,) = backups.splitlines()
    assert (
        git(origin, "log", "-1", "--format=%s", backup) == f"stabilize(phase2): remove {BREAKING}"
    )
    assert git(origin, "tag", "--list", "checkpoint-*", "--points-at", start)


def test_removal_of_three_files_stops_at_the_breaking_second_and_restores_it(
    sandbox: Sandbox,
) -> None:
    with removal_ready(sandbox) as local:
        start = git(sandbox.repo, "rev-parse", "HEAD")
        card = remove(local, HARMLESS, BREAKING, LAST)
        assert "removal of 3 files awaits approval" in card.text
        _click(local, card, "rollback_approve")
        assert local.emulator.wait_for(
            lambda e: (
                "removal stopped at a breaking file" in (e.message(CHANNEL, card.ts) or card).text
            ),
            timeout=120,
        )
        assert local.deps.work.wait_idle(60)
        final = local.emulator.message(CHANNEL, card.ts)
        replies = thread_of(local.emulator, card)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        events = [e.action for e in local.store.timeline(incident_id=incident.id, limit=500)]
        health = httpx.get(f"{local.deps.settings.config.service.base_url}/api/email/messages")
    assert_second_restored(sandbox, start)
    assert health.status_code == 200
    assert final is not None
    shown = str(final.blocks)
    assert BREAKING in shown and "broke" in shown and "untouched" in shown
    assert "Service healthy" in shown
    said = [str(m.blocks) for m in replies]
    assert any(HARMLESS in text and "checklist passed" in text for text in said)
    assert any(BREAKING in text and "broke" in text for text in said)
    assert any("Removed 1 of 3 files" in text and LAST in text for text in said)
    assert not any(LAST in text and "untouched" not in text for text in said)
    assert plan.state is PlanState.DONE and incident.state is IncidentState.RESOLVED
    assert events.count(TimelineAction.REMOVAL_FILE) == 2
    assert TimelineAction.REMOVAL_DONE in events
    assert local.store.list_locks() == []


def test_removal_without_a_fresh_email_drill_is_refused_with_the_command_to_run(
    sandbox: Sandbox,
) -> None:
    green_commit(sandbox)
    with running(sandbox, Clock()) as (local, _):
        drilled(local, "critical")
        drilled(local, "email", ok=False)
        local.sender.slash_command("/rollback", f"remove {BREAKING}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "/rollback drill email")
        assert local.store.list_incidents(states=list(IncidentState)) == []


def test_removal_is_refused_while_frozen_busy_or_dirty_and_nothing_changes(
    sandbox: Sandbox,
) -> None:
    with removal_ready(sandbox) as local:
        before = git(sandbox.repo, "rev-parse", "HEAD")
        lock = f"repo:{local.deps.settings.config.git.path}"
        assert local.store.acquire_lock(lock, owner="drill:U0OTHER", reason="drill critical")
        local.sender.slash_command("/rollback", f"remove {HARMLESS}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "The repository is busy (drill critical")
        local.store.release_lock(lock, owner="drill:U0OTHER")

        (sandbox.repo / "server" / "wip.ts").write_text("half done\n")
        local.sender.slash_command("/rollback", f"remove {HARMLESS}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "uncommitted or untracked work")
        local.sender.slash_command("/rollback", "remove server/*.go", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "matches no tracked file")
        incident = local.store.open_incident(
            scenario="critical", severity="5", trigger="t", requester=ENGINEER, channel=CHANNEL
        )
        local.store.freeze_phase(phase="phase2", incident_id=incident.id, by=ORCHESTRATOR)
        local.sender.slash_command("/rollback", f"remove {HARMLESS}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "The high-risk removal is refused")

        assert local.deps.work.wait_idle(30)
        removals = [
            i for i in local.store.list_incidents(states=list(IncidentState)) if i.is_removal
        ]
    assert removals == []
    assert git(sandbox.repo, "rev-parse", "HEAD") == before


def test_removal_approved_after_a_freeze_began_is_refused(sandbox: Sandbox) -> None:
    with removal_ready(sandbox) as local:
        before = git(sandbox.repo, "rev-parse", "HEAD")
        card = remove(local, HARMLESS)
        incident = local.store.open_incident(
            scenario="critical", severity="5", trigger="t", requester=ENGINEER, channel=CHANNEL
        )
        local.store.freeze_phase(phase="phase2", incident_id=incident.id, by=ORCHESTRATOR)
        _click(local, card, "rollback_approve")
        assert told(local.emulator, ORCHESTRATOR, "The high-risk removal is refused")
        assert local.deps.work.wait_idle(30)
        plans = [p.state for i in local.store.list_incidents() for p in local.store.plans_of(i.id)]
    assert plans == [PlanState.PROPOSED]
    assert git(sandbox.repo, "rev-parse", "HEAD") == before
