"""Scenario 4: the quick fix on its own branch, and a rollback to the newest green checkpoint."""

from __future__ import annotations

from bot.config import load_config
from bot.local.demo.sandbox import TAG_T4, TAG_T8, Sandbox
from bot.local.loopback import LocalSlack
from store import IncidentState
from tests.gitrepo import git
from tests.test_escalation import settled_card, told
from tests.test_rollback_flow import CHANNEL, button

ENGINEER, ORCHESTRATOR, OTHER = "U0ENG", "U0ORCH", "U0OTHER"
FIX = "fix/phase2-performance-optimization"


def _click(local: LocalSlack, user: str, card_ts: str, action: str) -> None:
    card = local.emulator.message(CHANNEL, card_ts)
    assert card is not None
    local.sender.block_action(
        user_id=user, action=button(card, action), message=local.emulator.message_payload(card)
    )


def test_create_fix_branch_pushes_it_from_head_once_and_never_forced(sandbox: Sandbox) -> None:
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command(
            "/rollback", "scenario performance search takes 3 s", user_id=ENGINEER
        )
        card = settled_card(local, "quick fix first")
        shown = str(card.blocks)
        _click(local, OTHER, card.ts, "fix_branch")
        told(local, OTHER, "Only whoever reported incident #1 or an orchestrator")
        _click(local, ENGINEER, card.ts, "fix_branch")
        told(local, ENGINEER, f"`{FIX}` is on origin, from HEAD")
        _click(local, ENGINEER, card.ts, "fix_branch")  # again: nothing to do, no error
        local.deps.work.wait_idle(30)
        created = [e for e in local.store.timeline(limit=200) if e.action == "fix_branch_created"]
    assert git(sandbox.origin, "rev-parse", f"refs/heads/{FIX}") == head
    assert git(sandbox.repo, "rev-parse", f"refs/heads/{FIX}") == head
    assert git(sandbox.repo, "symbolic-ref", "--short", "HEAD") != FIX  # not switched to it
    assert len(created) == 1
    # Scenario 4, step 1, measured when it was reported: the demo's slow search and its log.
    assert "Diagnostics" in shown and "endpoint customers: 2." in shown
    assert "over the 2 s limit" in shown and "slow query: customers search took 2500ms" in shown


def test_fix_branch_already_elsewhere_on_the_remote_is_left_alone(sandbox: Sandbox) -> None:
    t8 = git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")
    git(sandbox.repo, "push", "-q", "origin", f"{t8}:refs/heads/{FIX}")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario performance slow", user_id=ENGINEER)
        card = settled_card(local, "quick fix first")
        _click(local, ENGINEER, card.ts, "fix_branch")
        told(local, ENGINEER, "origin already has")
    assert git(sandbox.origin, "rev-parse", f"refs/heads/{FIX}") == t8


def test_performance_rolls_back_to_the_newest_checkpoint_whose_checklist_passed(
    sandbox: Sandbox,
) -> None:
    t4 = git(sandbox.repo, "rev-parse", f"{TAG_T4}^{{commit}}")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        # T+4h was made by the bot on a green checklist; T+8h is a tag the bot knows nothing of.
        local.store.record_checkpoint(
            tag=TAG_T4, commit=t4, healthy=True, requested_by=ENGINEER, forced_by=None
        )
        local.sender.slash_command(
            "/rollback", "scenario performance 4 APIs > 2 s", user_id=ENGINEER
        )
        card = settled_card(local, "awaits approval")
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.body["target_ref"] == TAG_T4 and plan.body["target_sha"] == t4
    assert "the newest checkpoint whose checklist passed" in str(card.blocks)
