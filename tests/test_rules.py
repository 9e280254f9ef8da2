"""The bot's rules, each proved through the real path so that removing it fails a test.

Seven rules once survived their own removal: the approval's expiry, ``requester_can_approve``
letting the requester approve, Resume and Abort for orchestrators only, no reminder for a
checkpoint that exists, the repository lock during a checkpoint, the email scenario's target,
and refusing a checkpoint during a rebase. Each test here sends signed requests through the
real app to a real repository with a bare origin, and checks what changed and what did not.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.jobs import HOME_TIMER, WATCH_TIMER, build_jobs, ensure_timers
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.loopback import LocalSlack
from bot.scheduler import Scheduler
from bot.views.blocks import unescape
from store import IncidentState, PlanState
from tests.gitrepo import git, install_hook
from tests.httpservers import HttpService, serve
from tests.test_checkpoint_flow import _config, _repo
from tests.test_edge_delivery import _click, _wait
from tests.test_rollback_flow import BRANCH, CHANNEL, card_with

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
APPROVE = "rollback_approve_anyway"  # the sandbox's history crosses a schema migration


@pytest.fixture
def service() -> Iterator[HttpService]:
    with serve() as running:
        yield running


def _refs(path: Path) -> str:
    return git(path, "for-each-ref", "--format=%(refname) %(objectname)")


def _private(local: LocalSlack, user: str) -> list[str]:
    return [unescape(m.text) for m in local.emulator.messages() if m.ephemeral_to == user]


def _told(local: LocalSlack, user: str, words: str, timeout: float = 30) -> None:
    _wait(local.emulator, words, lambda e: any(words in s for s in _private(local, user)), timeout)


def _set_slack(sandbox: Sandbox, line: str) -> None:
    text = sandbox.config_path.read_text()
    sandbox.config_path.write_text(re.sub(r"(?m)^\[slack\]$", f"[slack]\n{line}", text, count=1))


# -- 1. an approval expires ----------------------------------------------------------------------


def test_approval_after_the_expiry_is_refused_and_nothing_runs(sandbox: Sandbox) -> None:
    now = [datetime.now(UTC)]
    before = (_refs(sandbox.repo), _refs(sandbox.origin))
    config = load_config(sandbox.config_path)
    with LocalSlack(config, environ={}, clock=lambda: now[0], scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        now[0] += timedelta(minutes=config.slack.approval_expiry_min, seconds=1)
        _click(local, card, APPROVE)
        _told(local, ORCHESTRATOR, "This plan expired")
        local.deps.work.wait_idle(30)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        journal = local.store.journal(plan.id)
    assert plan.state is PlanState.PROPOSED and journal == []
    assert (_refs(sandbox.repo), _refs(sandbox.origin)) == before


def test_approval_just_before_the_expiry_runs(sandbox: Sandbox) -> None:
    now = [datetime.now(UTC)]
    config = load_config(sandbox.config_path)
    with LocalSlack(config, environ={}, clock=lambda: now[0], scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        now[0] += timedelta(minutes=config.slack.approval_expiry_min, seconds=-5)
        _click(local, card, APPROVE)
        _wait(
            local.emulator,
            "done",
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text,
            40,
        )


# -- 2. requester_can_approve = true ---------------------------------------------------------------


def test_requester_may_approve_their_own_rollback_when_the_config_allows_it(
    sandbox: Sandbox,
) -> None:
    _set_slack(sandbox, "requester_can_approve = true")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ORCHESTRATOR)
        card = card_with(local.emulator, "awaits approval")
        _click(local, card, APPROVE, user=ORCHESTRATOR)
        _wait(
            local.emulator,
            "done",
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text,
            40,
        )
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.requested_by == plan.approved_by == ORCHESTRATOR
    assert git(sandbox.repo, "rev-parse", "HEAD") == git(
        sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}"
    )


# -- 3. Resume and Abort are for orchestrators ----------------------------------------------------


@pytest.mark.parametrize("action", ["rollback_resume", "rollback_abort"])
def test_only_an_orchestrator_may_resume_or_abort_a_stopped_rollback(
    sandbox: Sandbox, action: str
) -> None:
    hook = install_hook(
        sandbox.origin,
        "pre-receive",
        'while read old new ref; do [ "$ref" = "refs/heads/'
        + BRANCH
        + '" ] && { echo protected; exit 1; }; done; exit 0\n',
    )
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        _click(local, card, APPROVE)
        _wait(
            local.emulator,
            "stopped",
            lambda e: "stopped" in (e.message(CHANNEL, card.ts) or card).text,
            40,
        )
        hook.unlink()
        local.deps.work.wait_idle(30)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        journal_before = local.store.journal(plan.id)
        locks_before = local.store.list_locks()
        stopped = local.emulator.message(CHANNEL, card.ts)
        assert stopped is not None
        _click(local, stopped, action, user=ENGINEER)
        _told(local, ENGINEER, "Only an orchestrator can")
        local.deps.work.wait_idle(30)
        after = local.store.get_plan(plan.id)
        refused = [e for e in local.store.timeline(limit=200) if e.action == "permission_refused"]
        journal_after = local.store.journal(plan.id)
        locks_after = local.store.list_locks()
    assert after is not None and after.state is PlanState.STOPPED
    assert journal_after == journal_before and locks_after == locks_before
    assert [e.actor for e in refused] == [ENGINEER]


# -- 4. no reminder for a checkpoint that exists --------------------------------------------------


def test_no_reminder_for_a_checkpoint_that_already_exists(
    tmp_path: Path, service: HttpService
) -> None:
    work, _ = _repo(tmp_path / "repos")
    started = datetime.now(UTC) - timedelta(hours=7, minutes=59)
    config = _config(tmp_path, work, service, endpoint="/healthy", started=started)
    git(work, "tag", "-a", "phase2-checkpoint-T+8h", "-m", "Phase 2 Checkpoint: 8 hours")
    started = config.project.started_at
    now = [started + timedelta(hours=7, minutes=59)]
    with LocalSlack(config, environ={}, clock=lambda: now[0], scheduler=False) as local:
        ensure_timers(local.deps)
        for other in (
            HOME_TIMER,
            WATCH_TIMER,
        ):  # timers of their own; this test is about the reminder
            local.store.cancel_timer(other)
        scheduler = Scheduler(local.deps, build_jobs(local.app.client))
        now[0] = started + timedelta(hours=8, seconds=3)
        fired = [job for job in scheduler.tick()]
        assert len(fired) == 1
        fired[0].result(timeout=60)
        local.deps.work.wait_idle(30)
        posted = [m for m in local.emulator.messages(CHANNEL) if "is due" in m.text]
        after = local.store.get_timer("checkpoint-reminder")
    assert posted == []
    assert after is not None and after.due_at == started + timedelta(hours=12)  # it fired


# -- 5. the repository lock is held during a checkpoint --------------------------------------------


def test_a_second_checkpoint_is_refused_while_the_first_holds_the_lock(
    tmp_path: Path, service: HttpService
) -> None:
    work, origin = _repo(tmp_path / "repos")
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    go = tmp_path / "go"
    # The first checkpoint's checklist waits (bounded) until the test lets it finish.
    waiter = f"{sys.executable} -c \"import os,time;[time.sleep(0.05) for _ in range(600) if not os.path.exists('{go}')]\""
    text = config.source.read_text().replace(
        "ready_timeout_s = 5",
        f'ready_timeout_s = 5\nvalidate = "{waiter.replace(chr(34), chr(92) + chr(34))}"',
    )
    config.source.write_text(text)
    config = load_config(config.source)
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command("/checkpoint", "T+4h first", user_id=ENGINEER)
        _wait(local.emulator, "locked", lambda e: local.store.list_locks())
        local.sender.slash_command("/checkpoint", "T+5h second", user_id="U0OTHER")
        _told(local, "U0OTHER", "The repository is busy")
        go.write_text("")
        _wait(
            local.emulator,
            "first done",
            lambda e: any("created" in m.text for m in e.messages(CHANNEL)),
            60,
        )
        local.deps.work.wait_idle(30)
    tags = git(origin, "tag", "--list")
    assert "phase2-checkpoint-T+4h" in tags and "phase2-checkpoint-T+5h" not in tags


# -- 6. the email scenario's target ----------------------------------------------------------------


def test_email_scenario_targets_the_commit_before_the_first_email_removal(
    sandbox: Sandbox,
) -> None:
    removal = git(sandbox.repo, "log", "--format=%H", "--grep=remove legacy email sender")
    expected = git(sandbox.repo, "rev-parse", f"{removal}^")
    assert expected != git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario email 3 inbox is down", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.body["target_sha"] == expected
    shown = str(card.blocks)
    assert expected[:7] in shown
    # The procedure chose the target: its evidence is shown, and a plain Approve suffices for
    # "not a checkpoint tag" (only the crossed migration still asks for "approve anyway").
    assert "the commit before the first email removal" in shown
    assert "remove legacy email sender" in shown and "remove old email config" in shown
    assert "server/email-config.ts" in shown and "server/email/legacy-sender.ts" in shown
    assert "is not a checkpoint tag" not in shown


# -- 7. no checkpoint during a rebase --------------------------------------------------------------


def test_checkpoint_is_refused_while_a_rebase_is_in_progress(
    tmp_path: Path, service: HttpService
) -> None:
    work, origin = _repo(tmp_path / "repos")
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    (work / "server/routes.ts").write_text("export const changed = 1\n")
    (work / ".git" / "rebase-merge").mkdir()
    before = (_refs(work), _refs(origin), git(work, "status", "--porcelain"))
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command("/checkpoint", "T+4h mid-rebase", user_id=ENGINEER)
        _wait(
            local.emulator,
            "refused",
            lambda e: any(
                "rebase is in progress" in unescape(m.text + str(m.blocks)) for m in e.messages()
            ),
            60,
        )
        local.deps.work.wait_idle(30)
    assert (_refs(work), _refs(origin), git(work, "status", "--porcelain")) == before
