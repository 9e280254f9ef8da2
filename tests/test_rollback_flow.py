"""Rollbacks end to end through the Bolt app: signed commands and clicks, the demo sandbox's real
repository, bare origin and service (started and stopped by its restart command)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.config import load_config
from bot.flows.run_steps import STEP_NAMES
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from store import IncidentState, PlanState
from tests.gitrepo import git

BRANCH = "feature/phase2-module-integration"
CHANNEL = "C0INCIDENTS"


def card_with(emulator: SlackEmulator, words: str, timeout: float = 30) -> Message:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in e.messages(CHANNEL) if words in m.text and not m.deleted]

    assert emulator.wait_for(lambda e: bool(found(e)), timeout=timeout), [
        m.text for m in emulator.messages()
    ]
    return found(emulator)[-1]


def told(emulator: SlackEmulator, user: str, words: str, timeout: float = 30) -> bool:
    return emulator.wait_for(
        lambda e: any(m.ephemeral_to == user and words in m.text for m in e.messages()),
        timeout=timeout,
    )


def button(message: Message, action_id: str) -> dict[str, Any]:
    return next(
        element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


def test_critical_scenario_rolls_back_to_the_last_checkpoint_and_keeps_everything(
    sandbox: Sandbox,
) -> None:
    work, origin = sandbox.repo, sandbox.origin
    old_head = git(work, "rev-parse", "HEAD")
    (work / "server" / "wip.ts").write_text("export const halfDone = true\n")
    checkpoint = git(work, "rev-parse", f"{TAG_T8}^{{commit}}")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command(
            "/rollback", "scenario critical 5 API completely broken", user_id="U0ENG"
        )
        card = card_with(local.emulator, "awaits approval")
        text = str(card.blocks)
        assert "severity-4-plus" in text and TAG_T8 in text and "<@U0ORCH>" in text
        assert "server/wip.ts" in text  # the uncommitted work is named on the plan
        # The sandbox's history adds a schema migration after T+8h: only "Approve anyway".
        approve = button(card, "rollback_approve_anyway")
        assert "confirm" in approve
        payload = local.emulator.message_payload(card)

        local.sender.block_action(user_id="U0ENG", action=approve, message=payload)
        assert told(local.emulator, "U0ENG", "Only an orchestrator can approve")
        assert git(work, "rev-parse", "HEAD") == old_head

        local.sender.block_action(user_id="U0ORCH", action=approve, message=payload)
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=40
        )
        final = local.emulator.message(CHANNEL, card.ts)
        incident = local.store.list_incidents(states=list(IncidentState))[0]
        plan = local.store.plans_of(incident.id)[-1]
    assert final is not None and "service healthy" in final.text, final.text
    assert "Rollback done" in str(final.blocks) and "Service healthy" in str(final.blocks)
    # The untracked work left the working copy (the service runs exactly the target); the
    # card says where it is kept.
    assert not (work / "server" / "wip.ts").exists()
    assert "1 untracked file (`server/wip.ts`), each kept on" in str(final.blocks)
    assert git(work, "rev-parse", "HEAD") == checkpoint
    assert git(origin, "rev-parse", f"refs/heads/{BRANCH}") == checkpoint
    backup = plan.body["backup_branch"]
    assert git(origin, "rev-parse", f"refs/heads/{backup}^") == old_head
    assert git(origin, "show", f"refs/heads/{backup}:server/wip.ts") == (
        "export const halfDone = true"
    )
    assert (incident.state, incident.from_sha, incident.to_sha, incident.healthy) == (
        IncidentState.ROLLED_BACK,
        old_head,
        checkpoint,
        True,
    )
    assert plan.state is PlanState.DONE and plan.approved_by == "U0ORCH" and plan.waived


def test_clean_untracked_off_keeps_untracked_files_after_the_reset(sandbox: Sandbox) -> None:
    work = sandbox.repo
    (work / "server" / "wip.ts").write_text("export const halfDone = true\n")
    text = sandbox.config_path.read_text()
    sandbox.config_path.write_text(text.replace("[git]\n", "[git]\nclean_untracked = false\n", 1))
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5", user_id="U0ENG")
        card = card_with(local.emulator, "awaits approval")
        payload = local.emulator.message_payload(card)
        approve = button(card, "rollback_approve_anyway")
        local.sender.block_action(user_id="U0ORCH", action=approve, message=payload)
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=40
        )
        final = local.emulator.message(CHANNEL, card.ts)
    assert (work / "server" / "wip.ts").read_text() == "export const halfDone = true\n"
    assert final is not None and "Removed from the working copy" not in str(final.blocks)


def _with_orchestrators(sandbox: Sandbox, *users: str, extra: str = "") -> None:
    text = sandbox.config_path.read_text()
    listed = ", ".join(f'"{user}"' for user in users)
    text = text.replace('orchestrators = ["U0ORCH"]', f"orchestrators = [{listed}]{extra}")
    sandbox.config_path.write_text(text)


def test_twenty_concurrent_approvals_and_redeliveries_roll_back_once(sandbox: Sandbox) -> None:
    work, origin = sandbox.repo, sandbox.origin
    git(origin, "config", "core.logAllRefUpdates", "always")  # count the pushes the origin got
    orchestrators = [f"U0ORCH{n}" for n in range(20)]
    _with_orchestrators(sandbox, *orchestrators)
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5", user_id="U0ENG")
        card = card_with(local.emulator, "awaits approval")
        approve = button(card, "rollback_approve_anyway")
        payload = local.emulator.message_payload(card)
        barrier = threading.Barrier(20)

        def click(user: str) -> list[int]:
            barrier.wait(timeout=10)
            sent = local.sender.block_action(user_id=user, action=approve, message=payload)
            again = local.sender.resend(sent, retry_num=1)
            return [sent.status, again.status]

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = [s for pair in pool.map(click, orchestrators) for s in pair]
        assert statuses == [200] * 40
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=40
        )
        local.deps.work.wait_idle(30)
        incident = local.store.list_incidents(states=list(IncidentState))[0]
        (plan,) = local.store.plans_of(incident.id)
        journal = local.store.journal(plan.id)
        approvals = [e for e in local.store.timeline(limit=500) if e.action == "rollback_approved"]
        refused = sum(
            1 for m in local.emulator.messages() if m.ephemeral_to and "Already approved" in m.text
        )
    backups = git(origin, "for-each-ref", "--format=%(refname)", "refs/heads/phase2-broken-*")
    assert len(backups.splitlines()) == 1
    resets = git(work, "reflog", "--format=%gs", BRANCH).splitlines()
    assert sum("rollback-bot: reset" in line for line in resets) == 1
    pushed = git(origin, "reflog", "--format=%gs", f"refs/heads/{BRANCH}").splitlines()
    assert len(pushed) == 1, pushed
    assert [e.step for e in journal if e.status == "done"] == list(STEP_NAMES)
    assert len(approvals) == 1 and plan.attempt == 1
    assert refused == 19  # every other orchestrator was told, once (redeliveries ran nothing)


def test_requester_cannot_approve_their_own_rollback_but_may_reject(sandbox: Sandbox) -> None:
    _with_orchestrators(sandbox, "U0ORCH", "U0ORCH2")
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario security", user_id="U0ORCH")
        card = card_with(local.emulator, "awaits approval")
        payload = local.emulator.message_payload(card)
        approve = button(card, "rollback_approve_anyway")
        local.sender.block_action(user_id="U0ORCH", action=approve, message=payload)
        assert told(local.emulator, "U0ORCH", "another orchestrator must approve it")
        local.sender.block_action(
            user_id="U0ORCH2", action=button(card, "rollback_reject"), message=payload
        )
        assert local.emulator.wait_for(
            lambda e: "rejected" in (e.message(CHANNEL, card.ts) or card).text, timeout=30
        )
        # A late approval of a rejected plan changes nothing.
        local.sender.block_action(user_id="U0ORCH2", action=approve, message=payload)
        assert told(local.emulator, "U0ORCH2", "Already rejected")
        incident = local.store.list_incidents(states=list(IncidentState))[0]
    assert git(sandbox.repo, "rev-parse", "HEAD") == head
    assert incident.state is IncidentState.REJECTED


def test_plain_approve_cannot_waive_crossed_migrations(sandbox: Sandbox) -> None:
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5", user_id="U0ENG")
        card = card_with(local.emulator, "awaits approval")
        anyway = button(card, "rollback_approve_anyway")
        # The same plan, clicked through a plain Approve (as a forged payload would).
        plain = {**anyway, "action_id": "rollback_approve"}
        payload = local.emulator.message_payload(card)
        local.sender.block_action(user_id="U0ORCH", action=plain, message=payload)
        assert told(local.emulator, "U0ORCH", "crosses 1 schema migration")
    assert git(sandbox.repo, "rev-parse", "HEAD") == head


def test_approval_after_head_moved_is_refused_and_a_fresh_plan_posted(sandbox: Sandbox) -> None:
    work = sandbox.repo
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5", user_id="U0ENG")
        card = card_with(local.emulator, "awaits approval")
        (work / "hotfix.ts").write_text("fix\n")
        git(work, "add", "hotfix.ts")
        git(work, "commit", "-q", "-m", "hotfix behind the bot's back")
        moved = git(work, "rev-parse", "HEAD")
        local.sender.block_action(
            user_id="U0ORCH",
            action=button(card, "rollback_approve_anyway"),
            message=local.emulator.message_payload(card),
        )
        assert told(local.emulator, "U0ORCH", "HEAD moved from")
        assert local.emulator.wait_for(
            lambda e: (
                "replaced by a fresh plan" in str((e.message(CHANNEL, card.ts) or card).blocks)
            ),
            timeout=30,
        )
        fresh = [m for m in local.emulator.messages(CHANNEL) if "awaits approval" in m.text]
        incident = local.store.list_incidents()[0]
        plans = local.store.plans_of(incident.id)
    assert git(work, "rev-parse", "HEAD") == moved
    assert [p.state for p in plans] == [PlanState.SUPERSEDED, PlanState.PROPOSED]
    assert plans[1].body["head_sha"] == moved
    assert len(fresh) == 1 and fresh[0].ts != card.ts and "hotfix behind" in str(fresh[0].blocks)


def _roll_back(local: LocalSlack) -> Message:
    local.sender.slash_command("/rollback", "scenario critical 5", user_id="U0ENG")
    card = card_with(local.emulator, "awaits approval")
    local.sender.block_action(
        user_id="U0ORCH",
        action=button(card, "rollback_approve_anyway"),
        message=local.emulator.message_payload(card),
    )
    assert local.emulator.wait_for(
        lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=40
    )
    return card


def test_cherry_pick_brings_a_good_commit_back_after_approval(sandbox: Sandbox) -> None:
    work, origin = sandbox.repo, sandbox.origin
    good = git(work, "log", "-1", "--format=%H", "--grep=add deal stage column")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        _roll_back(local)
        checkpoint = git(work, "rev-parse", "HEAD")
        local.sender.slash_command("/rollback", f"cherry-pick 1 {good[:8]}", user_id="U0ENG")
        card = card_with(local.emulator, "cherry-pick of 1 commit awaits approval")
        assert "add deal stage column" in str(card.blocks)
        payload = local.emulator.message_payload(card)
        local.sender.block_action(
            user_id="U0ENG", action=button(card, "rollback_approve"), message=payload
        )
        assert told(local.emulator, "U0ENG", "Only an orchestrator can approve")
        local.sender.block_action(
            user_id="U0ORCH", action=button(card, "rollback_approve"), message=payload
        )
        assert local.emulator.wait_for(
            lambda e: "commits picked back" in (e.message(CHANNEL, card.ts) or card).text,
            timeout=40,
        )
        final = local.emulator.message(CHANNEL, card.ts)
        events = [e.action for e in local.store.timeline(limit=200)]
    head = git(work, "rev-parse", "HEAD")
    assert git(origin, "rev-parse", f"refs/heads/{BRANCH}") == head
    assert git(work, "rev-parse", "HEAD^") == checkpoint
    assert f"(cherry picked from commit {good})" in git(work, "log", "-1", "--format=%B")
    assert final is not None and "Service healthy" in str(final.blocks)
    assert events.count("cherry_pick_approved") == 1 and events.count("cherry_pick_done") == 1


def test_cherry_pick_of_an_incident_without_rollback_is_refused(sandbox: Sandbox) -> None:
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario minor 1 typo", user_id="U0ENG")
        card_with(local.emulator, "fix forward")
        local.sender.slash_command("/rollback", f"cherry-pick 1 {head[:8]}", user_id="U0ENG")
        assert told(local.emulator, "U0ENG", "has no backup branch to pick from")
        local.sender.slash_command("/rollback", f"cherry-pick 99 {head[:8]}", user_id="U0ENG")
        assert told(local.emulator, "U0ENG", "There is no incident #99")
    assert git(sandbox.repo, "rev-parse", "HEAD") == head


def test_status_shows_the_rollback_and_where_the_work_is_kept(sandbox: Sandbox) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        _roll_back(local)
        local.sender.slash_command("/rollback", "status", user_id="U0ENG")
        assert local.emulator.wait_for(
            lambda e: any("work kept on" in str(m.blocks) for m in e.messages()), timeout=30
        )
        status = next(m for m in local.emulator.messages() if "work kept on" in str(m.blocks))
    assert "rolled back" in str(status.blocks) and "phase2-broken-" in str(status.blocks)
    assert "service healthy" in str(status.blocks)
