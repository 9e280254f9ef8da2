"""Rollback faults end to end: bad input, a dirty tree, a moved remote, a failing restart, a
refused push and a locked store. Each ends in a clear message (ephemeral, or on the incident
card), a repository in a known state with nothing lost, and a store that says what happened.

Same harness as tests/test_rollback_flow.py: the demo sandbox's real repository, bare origin and
service (started by its restart command), LocalSlack with the loopback Slack emulator, signed
commands and clicks. Faults come from the outside only (hooks in the bare origin, a second
clone, a raw SQLite connection, a broken restart command); nothing in the bot is patched.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

from bot.config import load_config
from bot.local.demo.sandbox import (
    PHASE1_BRANCH,
    TAG_T4,
    TAG_T8,
    Sandbox,
    build_sandbox,
)
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from bot.views.blocks import unescape
from store import Incident, IncidentState, Plan, PlanState
from tests.gitrepo import git, install_hook, push_from, show_file
from tests.servehelp import free_port
from tests.test_rollback_flow import BRANCH, CHANNEL, button, card_with, told

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
BRANCH_REF = f"refs/heads/{BRANCH}"


@pytest.fixture
def quiet_sandbox(tmp_path: Path) -> Sandbox:
    """The sandbox without its service: for requests refused before anything would run."""
    return build_sandbox(tmp_path / "sandbox", service_port=free_port())


# -- helpers ---------------------------------------------------------------------------------------


def all_refs(path: Path) -> str:
    return git(path, "for-each-ref", "--format=%(refname) %(objectname)")


def rev(path: Path, name: str) -> str:
    return git(path, "rev-parse", f"{name}^{{commit}}")


def latest(emulator: SlackEmulator, card: Message) -> Message:
    return emulator.message(CHANNEL, card.ts) or card


def wait_card(emulator: SlackEmulator, card: Message, words: str, timeout: float = 40) -> Message:
    """The card once its text or blocks say ``words``."""

    def shows(e: SlackEmulator) -> bool:
        now = latest(e, card)
        return words in now.text or words in str(now.blocks)

    assert emulator.wait_for(shows, timeout=timeout), str(latest(emulator, card).blocks)
    return latest(emulator, card)


def ephemerals(emulator: SlackEmulator, user: str) -> list[str]:
    """What the person reads: the text with Slack's three entities decoded."""
    return [unescape(m.text) for m in emulator.messages() if m.ephemeral_to == user]


def action_ids(message: Message) -> list[str]:
    return [
        element["action_id"]
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def click(local: LocalSlack, card: Message, action_id: str, *, user: str = ORCHESTRATOR) -> None:
    """Click a button of the card as it is now."""
    now = latest(local.emulator, card)
    local.sender.block_action(
        user_id=user, action=button(now, action_id), message=local.emulator.message_payload(now)
    )


def incidents(local: LocalSlack) -> list[Incident]:
    return local.store.list_incidents(states=list(IncidentState))


def plan_now(local: LocalSlack, plan_id: int) -> Plan:
    found = local.store.get_plan(plan_id)
    assert found is not None
    return found


def incident_now(local: LocalSlack, incident_id: int) -> Incident:
    found = local.store.get_incident(incident_id)
    assert found is not None
    return found


def set_restart(sandbox: Sandbox, command: str) -> None:
    text = sandbox.config_path.read_text()
    escaped = command.replace("\\", "\\\\").replace('"', '\\"')
    changed = re.sub(r"(?m)^restart = .*$", lambda _: f'restart = "{escaped}"', text, count=1)
    assert changed != text
    sandbox.config_path.write_text(changed)


def request_critical(local: LocalSlack) -> Message:
    """`/rollback scenario critical 5` by the engineer; the card awaiting approval."""
    local.sender.slash_command("/rollback", "scenario critical 5", user_id=ENGINEER)
    return card_with(local.emulator, "awaits approval")


# -- 1. unknown scenario or severity ----------------------------------------------------------------


def test_scenario_unknown_name_is_refused_with_the_valid_forms(quiet_sandbox: Sandbox) -> None:
    sb = quiet_sandbox
    before = (all_refs(sb.repo), all_refs(sb.origin))
    with LocalSlack(load_config(sb.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario bogus API down", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "`bogus` is not a scenario")
        local.deps.work.wait_idle(30)
        (said,) = ephemerals(local.emulator, ENGINEER)
        assert "minor, critical, email, performance, database, security" in said
        assert "Valid forms" in said and "/rollback scenario <minor|critical|" in said
        assert incidents(local) == [] and local.store.list_locks() == []
        assert [m for m in local.emulator.messages(CHANNEL) if not m.ephemeral] == []
    assert (all_refs(sb.repo), all_refs(sb.origin)) == before


def test_scenario_out_of_range_severity_is_refused_with_the_valid_forms(
    quiet_sandbox: Sandbox,
) -> None:
    sb = quiet_sandbox
    before = (all_refs(sb.repo), all_refs(sb.origin))
    with LocalSlack(load_config(sb.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 9", user_id=ENGINEER)
        local.deps.work.wait_idle(30)
        opened = incidents(local)
        said = ephemerals(local.emulator, ENGINEER)
    assert (all_refs(sb.repo), all_refs(sb.origin)) == before
    assert opened == [], [(i.severity, i.trigger) for i in opened]
    assert len(said) == 1 and "`9` is not a severity" in said[0], said
    assert "/rollback scenario <minor|critical|" in said[0] and "[1-5|low|" in said[0]


# -- 2. a target that is not a checkpoint, or not an ancestor ---------------------------------------


def test_rollback_to_non_checkpoint_ancestor_needs_approve_anyway(sandbox: Sandbox) -> None:
    work, origin = sandbox.repo, sandbox.origin
    old_head = rev(work, "HEAD")
    # An ancestor no checkpoint tag points at: the migration after T+8h, before the breakage.
    target = rev(work, "HEAD~3")
    assert git(work, "log", "-1", "--format=%s", target) == "feat(phase2): add deal stage column"
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", f"to {target}", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        text = str(card.blocks)
        assert f"{target} is not a checkpoint tag" in text and "(not a checkpoint)" in text
        assert "not an ancestor" not in text
        assert action_ids(card) == ["rollback_approve_anyway", "rollback_reject"]
        anyway = button(card, "rollback_approve_anyway")
        assert "is not a checkpoint tag" in str(anyway["confirm"])
        payload = local.emulator.message_payload(card)
        # The same plan through a plain Approve (a forged payload): refused, nothing runs.
        plain = {**anyway, "action_id": "rollback_approve"}
        local.sender.block_action(user_id=ORCHESTRATOR, action=plain, message=payload)
        assert told(local.emulator, ORCHESTRATOR, "needs an explicit confirmation")
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        (plan,) = local.store.plans_of(incident.id)
        assert plan.state is PlanState.PROPOSED and local.store.journal(plan.id) == []
        assert rev(work, "HEAD") == old_head and rev(origin, BRANCH_REF) == old_head
        refused = [e for e in local.store.timeline(limit=100) if e.action == "approval_refused"]
        assert len(refused) == 1 and "explicit confirmation" in refused[0].details["reason"]

        local.sender.block_action(user_id=ORCHESTRATOR, action=anyway, message=payload)
        final = wait_card(local.emulator, card, "rolled back")
        local.deps.work.wait_idle(30)
        incident = incident_now(local, incident.id)
        plan = plan_now(local, plan.id)
    assert "service healthy" in final.text, final.text
    assert rev(work, "HEAD") == target and rev(origin, BRANCH_REF) == target
    assert git(work, "status", "--porcelain", "--untracked-files=no") == ""
    assert rev(origin, f"refs/heads/{plan.body['backup_branch']}") == old_head
    assert (plan.state, plan.forced, plan.waived, plan.approved_by) == (
        PlanState.DONE,
        True,
        False,
        ORCHESTRATOR,
    )
    assert (incident.state, incident.from_sha, incident.to_sha) == (
        IncidentState.ROLLED_BACK,
        old_head,
        target,
    )


def test_rollback_to_non_ancestor_says_the_branch_would_jump(quiet_sandbox: Sandbox) -> None:
    work, origin = quiet_sandbox.repo, quiet_sandbox.origin
    # A side branch off T+4h with a commit the phase branch never had.
    base = rev(work, TAG_T4)
    side = git(work, "commit-tree", f"{base}^{{tree}}", "-p", base, "-m", "side experiment")
    git(work, "update-ref", "refs/heads/side-experiment", side)
    head = rev(work, "HEAD")
    before = (all_refs(work), all_refs(origin))
    with LocalSlack(load_config(quiet_sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "to side-experiment", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        text = str(card.blocks)
        assert "side-experiment is not an ancestor of HEAD (the branch would jump)" in text
        assert "side-experiment is not a checkpoint tag" in text
        assert action_ids(card) == ["rollback_approve_anyway", "rollback_reject"]
        plain = {**button(card, "rollback_approve_anyway"), "action_id": "rollback_approve"}
        local.sender.block_action(
            user_id=ORCHESTRATOR, action=plain, message=local.emulator.message_payload(card)
        )
        assert told(local.emulator, ORCHESTRATOR, "not an ancestor of HEAD")
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        (plan,) = local.store.plans_of(incident.id)
    assert plan.state is PlanState.PROPOSED and not plan.body["target_is_ancestor"]
    assert plan.body["target_sha"] == side and incident.state is IncidentState.AWAITING_APPROVAL
    assert rev(work, "HEAD") == head and (all_refs(work), all_refs(origin)) == before


# -- 3. option-like or malicious ref names ----------------------------------------------------------


MALICIOUS_TARGETS = (
    ("--upload-pack=touch${IFS}x", "it starts with '-'"),
    ("'x;rm -rf /'", "Give exactly one target"),
    ("../../etc", "contains '..'"),
    ("-x", "it starts with '-'"),
    ("x;touch${IFS}x", "Unknown rollback target"),  # a legal ref name: git is asked, safely
    ("$(touch${IFS}x)", "Unknown rollback target"),
    (f"{PHASE1_BRANCH}^{{commit}}", "not a valid tag or commit"),
)


def test_rollback_to_option_like_or_malicious_target_is_refused(
    quiet_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = quiet_sandbox
    monkeypatch.chdir(tmp_path)  # a stray `touch x` would land here or in the sandbox
    before = (all_refs(sb.repo), all_refs(sb.origin), git(sb.repo, "status", "--porcelain"))
    with LocalSlack(load_config(sb.config_path), environ={}, scheduler=False) as local:
        for number, (target, why) in enumerate(MALICIOUS_TARGETS, start=1):
            local.sender.slash_command("/rollback", f"to {target}", user_id=ENGINEER)

            def answered(e: SlackEmulator, n: int = number) -> bool:
                return len(ephemerals(e, ENGINEER)) >= n

            assert local.emulator.wait_for(answered, timeout=30), target
            said = ephemerals(local.emulator, ENGINEER)[number - 1]
            assert why in said, (target, said)
            if why != "Unknown rollback target":
                assert "/rollback to <checkpoint-tag|commit>" in said, said
        local.deps.work.wait_idle(30)
        assert incidents(local) == [] and local.store.list_locks() == []
        assert [m for m in local.emulator.messages(CHANNEL) if not m.ephemeral] == []
    assert list(sb.root.rglob("x")) == [] and list(tmp_path.rglob("x")) == []
    assert not (Path(__file__).resolve().parents[1] / "x").exists()
    assert (all_refs(sb.repo), all_refs(sb.origin), git(sb.repo, "status", "--porcelain")) == (
        before
    )


# -- 4. a dirty tree --------------------------------------------------------------------------------


def test_dirty_tree_is_kept_on_the_pushed_backup_branch(sandbox: Sandbox) -> None:
    work, origin = sandbox.repo, sandbox.origin
    old_head = rev(work, "HEAD")
    checkpoint = rev(work, TAG_T8)
    readme = (work / "README.md").read_text() + "\nUnsaved note about the outage.\n"
    (work / "README.md").write_text(readme)  # modified, not staged
    index_ts = (work / "server" / "index.ts").read_text() + "// staged fix attempt\n"
    (work / "server" / "index.ts").write_text(index_ts)
    git(work, "add", "server/index.ts")  # staged
    (work / "notes").mkdir()
    (work / "notes" / "wip.md").write_text("half an idea\n")  # untracked
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        card = request_critical(local)
        text = str(card.blocks)
        assert "3 files" in text and "README.md" in text and "notes/wip.md" in text
        click(local, card, "rollback_approve_anyway")
        final = wait_card(local.emulator, card, "rolled back")
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        (plan,) = local.store.plans_of(incident.id)
        journal = local.store.journal(plan.id)
    # The database step was waived: the card says what was kept and what stays ahead.
    assert "Kept*: the commits" in str(final.blocks) and "database stays ahead" in str(final.blocks)
    backup = f"refs/heads/{plan.body['backup_branch']}"
    snapshot = rev(origin, backup)
    # On the origin: the old HEAD underneath, all three kinds of work on top.
    assert rev(origin, f"{backup}^1") == old_head
    assert show_file(origin, backup, "README.md") == readme
    assert show_file(origin, backup, "server/index.ts") == index_ts
    assert show_file(origin, backup, "notes/wip.md") == "half an idea\n"
    # The index is kept apart too (second parent), as `git stash` keeps it.
    assert show_file(origin, f"{backup}^2", "server/index.ts") == index_ts
    assert show_file(origin, f"{backup}^2", "README.md") == show_file(origin, old_head, "README.md")
    assert [e.after.get("snapshot") for e in journal if e.step == "snapshot" and e.after] == [
        snapshot
    ]
    # Here: tracked files exactly at the checkpoint, nothing staged.
    assert rev(work, "HEAD") == checkpoint and rev(origin, BRANCH_REF) == checkpoint
    assert git(work, "status", "--porcelain", "--untracked-files=no") == ""
    assert (work / "README.md").read_text() == show_file(work, checkpoint, "README.md")
    assert (work / "server" / "index.ts").read_text() == show_file(
        work, checkpoint, "server/index.ts"
    )
    # `git reset --hard` leaves untracked files where they are; the bot takes out those the
    # backup holds, so the working copy is exactly the target.
    assert not (work / "notes").exists()
    assert "1 untracked file (`notes/wip.md`), each kept on" in str(final.blocks)
    assert incident.state is IncidentState.ROLLED_BACK and plan.state is PlanState.DONE


# -- 5. the remote moved since the plan -------------------------------------------------------------


def _second_clone(sandbox: Sandbox) -> Path:
    clone = sandbox.root / "colleague"
    git(sandbox.root, "clone", "-q", "--branch", BRANCH, str(sandbox.origin), str(clone))
    return clone


def test_remote_moved_before_approval_is_refused_without_a_plan_that_would_drop_it(
    sandbox: Sandbox,
) -> None:
    work, origin = sandbox.repo, sandbox.origin
    head = rev(work, "HEAD")
    clone = _second_clone(sandbox)
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        card = request_critical(local)
        pushed = push_from(clone, "server/hotfix.ts", "fix\n", "hotfix pushed from elsewhere")
        click(local, card, "rollback_approve_anyway")
        assert told(local.emulator, ORCHESTRATOR, f"origin moved from {head[:7]} to {pushed[:7]}")
        said = next(t for t in ephemerals(local.emulator, ORCHESTRATOR) if "moved" in t)
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        plans = local.store.plans_of(incident.id)
        journals = [local.store.journal(p.id) for p in plans]
        locks = local.store.list_locks()
        cards = [m for m in local.emulator.messages(CHANNEL) if "awaits approval" in m.text]
    # A fresh plan would drop the pushed hotfix from origin: there is none, and it says why.
    assert "has commits this working copy lacks" in said and "git pull --ff-only" in said
    assert len(cards) == 1
    assert [p.state for p in plans] == [PlanState.PROPOSED] and journals == [[]]
    assert incident.state is IncidentState.AWAITING_APPROVAL and locks == []
    assert rev(work, "HEAD") == head and rev(origin, BRANCH_REF) == pushed
    assert git(origin, "for-each-ref", "refs/heads/phase2-broken-*") == ""


def test_commits_only_the_remote_has_are_not_lost_by_a_rollback(sandbox: Sandbox) -> None:
    work, origin = sandbox.repo, sandbox.origin
    head = rev(work, "HEAD")
    clone = _second_clone(sandbox)
    pushed = push_from(clone, "server/hotfix.ts", "fix\n", "hotfix pushed from elsewhere")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/rollback", "scenario critical 5", user_id=ENGINEER)
        local.deps.work.wait_idle(30)
        cards = [m for m in local.emulator.messages(CHANNEL) if "awaits approval" in m.text]
        if cards:  # planned: approve it and see what the remote keeps
            click(local, cards[0], "rollback_approve_anyway")
            wait_card(local.emulator, cards[0], "rolled back")
            local.deps.work.wait_idle(30)
        else:  # refused at planning: the engineer must hear why
            assert ephemerals(local.emulator, ENGINEER)
    # Either the plan is refused (pull first), or the remote's commit is kept somewhere on
    # origin; a rollback must not make a colleague's pushed commit unreachable there.
    kept = git(origin, "for-each-ref", "--contains", pushed, "--format=%(refname)")
    assert kept, f"{pushed[:10]} is on no branch of origin any more"
    assert rev(work, "HEAD") in (head, rev(work, TAG_T8))


def test_remote_moved_during_the_run_stops_at_the_lease_and_abort_releases(
    sandbox: Sandbox,
) -> None:
    work, origin = sandbox.repo, sandbox.origin
    old_head = rev(work, "HEAD")
    checkpoint = rev(work, TAG_T8)
    # A colleague's commit, on origin under another name for now.
    clone = _second_clone(sandbox)
    (clone / "server" / "hotfix.ts").write_text("fix\n")
    git(clone, "add", "server/hotfix.ts")
    git(clone, "commit", "-q", "-m", "hotfix pushed while the rollback ran")
    git(clone, "push", "-q", "origin", "HEAD:refs/heads/hotfix")
    hotfix = rev(clone, "HEAD")
    # The moment the bot's backup branch arrives, the colleague's push lands on the branch:
    # after the plan was verified, before the leased push.
    install_hook(
        origin,
        "post-receive",
        "while read old new ref; do\n"
        '  case "$ref" in\n'
        f"    refs/heads/phase2-broken-*) git update-ref {BRANCH_REF} {hotfix} ;;\n"
        "  esac\n"
        "done\n",
    )
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        card = request_critical(local)
        click(local, card, "rollback_approve_anyway")
        stopped = wait_card(local.emulator, card, "rollback stopped")
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        (plan,) = local.store.plans_of(incident.id)
        locks = local.store.list_locks()
        journal = local.store.journal(plan.id)
        blocks = str(stopped.blocks)
        assert "Stopped at “Push with lease”" in blocks, blocks
        assert f"origin moved since the plan (now {hotfix[:7]})" in blocks
        assert "nothing was overwritten" in blocks
        assert f"the backup branch {plan.body['backup_branch']} is on origin" in blocks
        assert action_ids(stopped) == ["rollback_resume", "rollback_abort"]
        assert "Kept*: the commits" in blocks  # the backup was pushed: the card says how to look
        # The state the abort will leave: origin keeps the colleague's commit, nothing forced.
        backup = f"refs/heads/{plan.body['backup_branch']}"
        assert rev(origin, BRANCH_REF) == hotfix
        assert rev(origin, backup) == old_head
        assert rev(work, "HEAD") == checkpoint  # the reset had run before the push
        assert (plan.state, incident.state) == (PlanState.STOPPED, IncidentState.STOPPED)
        assert plan.result["stopped_at"] == "push"
        assert [(lock.owner) for lock in locks] == [f"rollback:{plan.id}"]
        assert [(e.step, e.status) for e in journal][-2:] == [
            ("push", "started"),
            ("push", "failed"),
        ]

        click(local, stopped, "rollback_abort")
        wait_card(local.emulator, card, "aborted by <@U0ORCH>", timeout=30)
        local.deps.work.wait_idle(30)
        aborted = latest(local.emulator, card)
        plan = plan_now(local, plan.id)
        incident = incident_now(local, incident.id)
        locks = local.store.list_locks()
        freeze = local.store.freeze_of(incident.id)
    text = str(aborted.blocks)
    # The working copy did move back before the stop: the phase is frozen as after a rollback.
    assert freeze is not None and freeze.lifted_at is None
    assert "at “Push with lease”" in text and "the lock is released" in text
    assert f"HEAD is at {checkpoint[:10]}" in text and "Kept*: the commits" in text
    assert action_ids(aborted) == []
    assert plan.state is PlanState.ABORTED and plan.result["head_at_abort"] == checkpoint
    assert incident.state is IncidentState.ABORTED and locks == []
    assert incident.backup_branch == plan.body["backup_branch"]
    assert rev(origin, BRANCH_REF) == hotfix and rev(origin, backup) == old_head


# -- 6. a failing restart ---------------------------------------------------------------------------


def test_failing_restart_still_rolls_back_but_reports_service_not_healthy(
    sandbox: Sandbox,
) -> None:
    work, origin = sandbox.repo, sandbox.origin
    old_head = rev(work, "HEAD")
    checkpoint = rev(work, TAG_T8)
    set_restart(sandbox, "sh -c 'echo the service would not start >&2; exit 3'")
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        card = request_critical(local)
        click(local, card, "rollback_approve_anyway")
        final = wait_card(local.emulator, card, "rolled back")
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        (plan,) = local.store.plans_of(incident.id)
        locks = local.store.list_locks()
    blocks = str(final.blocks)
    assert "service NOT healthy" in final.text, final.text
    assert "Rollback done" in blocks and "Service NOT healthy" in blocks
    assert "failing “server starts”" in blocks
    assert rev(work, "HEAD") == checkpoint and rev(origin, BRANCH_REF) == checkpoint
    assert rev(origin, f"refs/heads/{plan.body['backup_branch']}") == old_head
    assert (incident.state, incident.healthy) == (IncidentState.ROLLED_BACK, False)
    assert plan.state is PlanState.DONE and locks == []
    assert plan.result["healthy"] is False and "server starts" in plan.result["failing"]


# -- 7. a push rejected for another reason ----------------------------------------------------------


def test_push_refused_by_the_remote_stops_and_resume_runs_only_the_push(sandbox: Sandbox) -> None:
    work, origin = sandbox.repo, sandbox.origin
    old_head = rev(work, "HEAD")
    checkpoint = rev(work, TAG_T8)
    hook = install_hook(
        origin,
        "pre-receive",
        "while read old new ref; do\n"
        f'  if [ "$ref" = "{BRANCH_REF}" ]; then\n'
        '    echo "branch protected: ask the release manager"; exit 1\n'
        "  fi\n"
        "done\n",
    )
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        card = request_critical(local)
        click(local, card, "rollback_approve_anyway")
        stopped = wait_card(local.emulator, card, "rollback stopped")
        local.deps.work.wait_idle(30)
        (incident,) = incidents(local)
        (plan,) = local.store.plans_of(incident.id)
        backup = f"refs/heads/{plan.body['backup_branch']}"
        blocks = str(stopped.blocks)
        assert "Stopped at “Push with lease”" in blocks, blocks
        assert "origin refused the push" in blocks and "branch protected" in blocks
        assert "nothing was overwritten" in blocks
        assert f"already reset to {checkpoint[:7]}" in blocks  # says where HEAD is
        assert action_ids(stopped) == ["rollback_resume", "rollback_abort"]
        assert rev(origin, BRANCH_REF) == old_head and rev(origin, backup) == old_head
        assert rev(work, "HEAD") == checkpoint
        assert (plan.state, plan.attempt, incident.state) == (
            PlanState.STOPPED,
            1,
            IncidentState.STOPPED,
        )
        assert [lock.owner for lock in local.store.list_locks()] == [f"rollback:{plan.id}"]

        hook.unlink()
        click(local, stopped, "rollback_resume")
        final = wait_card(local.emulator, card, "rolled back")
        local.deps.work.wait_idle(30)
        plan = plan_now(local, plan.id)
        incident = incident_now(local, incident.id)
        journal = local.store.journal(plan.id)
        locks = local.store.list_locks()
    assert "service healthy" in final.text, final.text
    assert rev(work, "HEAD") == checkpoint and rev(origin, BRANCH_REF) == checkpoint
    assert rev(origin, backup) == old_head
    first = [e.step for e in journal if e.attempt == 1 and e.status == "done"]
    second = [e.step for e in journal if e.attempt == 2]
    assert first == [
        "lock",
        "verify",
        "snapshot",
        "backup_branch",
        "push_backup",
        "reset",
        "clean_untracked",
    ]
    assert second[0] == "push" and not set(first) & set(second), second
    assert [e.step for e in journal if e.attempt == 2 and e.status == "done"] == [
        "push",
        "clear_caches",
        "validate",
        "record",
        "unlock",
    ]
    assert (plan.state, plan.attempt) == (PlanState.DONE, 2)
    assert (incident.state, incident.healthy) == (IncidentState.ROLLED_BACK, True)
    assert locks == []


# -- 8. the store locked by another writer ----------------------------------------------------------


def test_store_locked_by_another_writer_says_busy_and_changes_nothing(
    quiet_sandbox: Sandbox,
) -> None:
    sb = quiet_sandbox
    before = (all_refs(sb.repo), all_refs(sb.origin))
    with LocalSlack(load_config(sb.config_path), environ={}, scheduler=False) as local:
        other = sqlite3.connect(sb.store_path, isolation_level=None, timeout=1)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process's write transaction
            started = time.monotonic()
            local.sender.slash_command("/rollback", "scenario critical 5", user_id=ENGINEER)
            assert told(local.emulator, ENGINEER, "the store is busy", timeout=20)
            waited = time.monotonic() - started
        finally:
            other.rollback()
            other.close()
        said = ephemerals(local.emulator, ENGINEER)
        local.deps.work.wait_idle(30)
        assert incidents(local) == [] and local.store.list_locks() == []
        assert [m for m in local.emulator.messages(CHANNEL) if not m.ephemeral] == []
        # Once the writer is gone, the same request goes through.
        card = request_critical(local)
        (incident,) = incidents(local)
    assert len(said) == 1 and "Nothing was changed; try again in a moment" in said[0], said
    assert waited >= 4  # the store waited its busy timeout before giving up
    assert incident.state is IncidentState.AWAITING_APPROVAL and "awaits approval" in card.text
    assert (all_refs(sb.repo), all_refs(sb.origin)) == before
