"""Repositories in states a rollback cannot start from: refused before anything exists or changes.

A scenario whose plan cannot be made leaves no incident behind (asking again must not pile up
ghost incidents in status), and a held ``.git/index.lock`` stops a rollback before its backup
is pushed, with a card that says exactly which step stopped and why.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import load_config
from bot.local.demo.sandbox import Sandbox
from bot.local.loopback import LocalSlack
from bot.views.blocks import unescape
from store import IncidentState, PlanState
from tests.gitrepo import git
from tests.test_edge_delivery import _click, _wait
from tests.test_rollback_flow import CHANNEL, card_with

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
APPROVE, RESUME = "rollback_approve_anyway", "rollback_resume"


def _refs(path: Path) -> str:
    return git(path, "for-each-ref", "--format=%(refname) %(objectname)")


def _detach(sb: Sandbox) -> None:
    git(sb.repo, "checkout", "-q", "--detach", "HEAD")


def _rebase_in_progress(sb: Sandbox) -> None:
    (sb.repo / ".git" / "rebase-merge").mkdir()


def _origin_gone(sb: Sandbox) -> None:
    shutil.move(str(sb.origin), str(sb.origin) + ".moved")


def _nothing_to_roll_back_to(sb: Sandbox) -> None:
    for tag in git(sb.repo, "tag", "--list", "phase2-checkpoint-*").splitlines():
        git(sb.repo, "tag", "-d", tag)


BROKEN: dict[str, Callable[[Sandbox], None]] = {
    "detached-head": _detach,
    "rebase-in-progress": _rebase_in_progress,
    "origin-unreachable": _origin_gone,
    "no-checkpoint": _nothing_to_roll_back_to,
}


@pytest.mark.parametrize("breakage", list(BROKEN))
def test_a_scenario_that_cannot_be_planned_leaves_no_incident_however_often_asked(
    sandbox: Sandbox, breakage: str
) -> None:
    BROKEN[breakage](sandbox)
    before = _refs(sandbox.repo)
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        for attempt in range(1, 4):
            local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
            _wait(
                local.emulator,
                f"refusal {attempt}",
                lambda e, n=attempt: len([m for m in e.messages() if m.ephemeral_to]) >= n,
            )
        local.deps.work.wait_idle(30)
        said = [unescape(m.text) for m in local.emulator.messages() if m.ephemeral_to]
        assert all("Nothing was changed" in s or "nothing was changed" in s for s in said), said
        assert local.store.list_incidents(states=list(IncidentState)) == []
        assert [m for m in local.emulator.messages(CHANNEL) if not m.ephemeral] == []
        local.sender.slash_command("/rollback", "status", user_id=ENGINEER)
        _wait(
            local.emulator,
            "status",
            lambda e: any("Open incidents" in str(m.blocks) for m in e.messages()),
        )
        status = next(m for m in local.emulator.messages() if "Open incidents" in str(m.blocks))
        assert "Open incidents*: none" in str(status.blocks)
    assert _refs(sandbox.repo) == before


def test_a_held_index_lock_stops_the_rollback_before_the_backup_is_pushed(
    sandbox: Sandbox,
) -> None:
    head = git(sandbox.repo, "rev-parse", "HEAD")
    origin_before = _refs(sandbox.origin)
    lock = sandbox.repo / ".git" / "index.lock"
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        lock.write_text("")  # another git process starts meanwhile
        _click(local, card, APPROVE)
        _wait(
            local.emulator,
            "stopped",
            lambda e: "stopped" in (e.message(CHANNEL, card.ts) or card).text,
            60,
        )
        stopped = local.emulator.message(CHANNEL, card.ts)
        assert stopped is not None
        shown = unescape(str(stopped.blocks))
        assert "Check the plan still holds" in shown and "index.lock" in shown, shown
        assert git(sandbox.repo, "rev-parse", "HEAD") == head
        assert _refs(sandbox.origin) == origin_before  # no backup branch was pushed
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        assert plan.state is PlanState.STOPPED and plan.result["stopped_at"] == "verify"

        lock.unlink()  # the other git process is done: Resume finishes the rollback
        _click(local, stopped, RESUME)
        _wait(
            local.emulator,
            "rolled back",
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text,
            90,
        )
        local.deps.work.wait_idle(30)
        plan = local.store.get_plan(plan.id) or plan
    assert plan.state is PlanState.DONE
    assert git(sandbox.repo, "rev-parse", "HEAD") != head
