"""`rollback-bot rollback` from a terminal, for when Slack is down: the real process, the demo
sandbox's repository, bare origin and service, and the store's timeline afterwards."""

from __future__ import annotations

import getpass
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.local.demo.sandbox import (
    PHASE_BRANCH,
    TAG_T4,
    TAG_T8,
    Sandbox,
    build_sandbox,
    start_service,
    stop_service,
)
from store import IncidentState, PlanState, SqliteStore
from tests.gitrepo import git, install_hook
from tests.servehelp import ROOT, bot_env, free_port, run_cli

ACTOR = f"os:{getpass.getuser()}"
TAG_T9 = "phase2-checkpoint-T+9h"  # added by a test: after the migration, before the breakage
FROZEN = (
    "while read old new ref; do\n"
    f'  if [ "$ref" = "refs/heads/{PHASE_BRANCH}" ]; then echo "phase branch frozen" >&2; exit 1; fi\n'
    "done\nexit 0\n"
)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sb = build_sandbox(tmp_path / "sandbox", service_port=free_port())
    try:
        yield sb
    finally:
        stop_service(sb)  # a rollback's checklist restarts it; never leave one behind


@pytest.fixture
def running(sandbox: Sandbox) -> Sandbox:
    start_service(sandbox)
    return sandbox


def rollback(
    sb: Sandbox, *args: str, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = bot_env(**env)
    environ.pop("DATABASE_URL", None)  # the sandbox has no database, as in the Slack tests
    cli = ["rollback", *args, "--config", str(sb.config_path)]
    return run_cli(cli, environ, timeout=120, input=input)


def repo_state(sb: Sandbox) -> tuple[str, str, str, str]:
    return (
        git(sb.repo, "rev-parse", "HEAD"),
        git(sb.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}"),
        git(sb.origin, "for-each-ref", "--format=%(refname)", "refs/heads/"),
        git(sb.repo, "status", "--porcelain"),
    )


def commit_of(sb: Sandbox, ref: str) -> str:
    return git(sb.repo, "rev-parse", f"{ref}^{{commit}}")


def store_of(sb: Sandbox) -> SqliteStore:
    return SqliteStore(sb.store_path)


def stopped_plan(sb: Sandbox) -> int:
    """A rollback to T+8h stopped at the lease push: origin's hook refuses the phase branch."""
    hook = install_hook(sb.origin, "pre-receive", FROZEN)
    result = rollback(sb, "--to", TAG_T8, "--yes", "--approve-anyway")
    hook.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ Push with lease" in result.stdout and "phase branch frozen" in result.stdout
    match = re.search(r"rollback-bot rollback --resume (\d+)", result.stdout)
    assert match is not None, result.stdout
    return int(match.group(1))


# -- approving on the terminal -------------------------------------------------------------------


def test_typed_approve_anyway_rolls_back_keeps_everything_and_records_the_os_user(
    running: Sandbox,
) -> None:
    sb = running
    old_head = git(sb.repo, "rev-parse", "HEAD")
    (sb.repo / "server" / "wip.ts").write_text("export const halfDone = true\n")
    checkpoint = commit_of(sb, TAG_T8)

    result = rollback(sb, "--to", TAG_T8, input="approve anyway\n")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # The plan, as text: target, HEAD, commits leaving, uncommitted work, the crossed migration.
    assert f"Back to: {TAG_T8} {checkpoint[:7]} (a checkpoint)" in out
    assert f"Now: {old_head[:7]}" in out and "4 commits leave the branch" in out
    assert "server/wip.ts" in out and "phase2_0002_add_deal_stage.sql" in out
    assert "Type “approve anyway” to roll back" in out
    assert "[1]" not in out  # no Slack buttons on the terminal
    # One line per finished step, then the final card.
    steps = [line for line in out.splitlines() if line.startswith("✓ ")]
    assert steps[:2] == ["✓ Lock the repository", "✓ Check the plan still holds"]
    assert "✓ Reset to the target" in steps and steps[-1] == "✓ Unlock the repository"
    assert "ROLLED BACK" in out and "Service healthy" in out
    assert git(sb.repo, "rev-parse", "HEAD") == checkpoint
    assert git(sb.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == checkpoint
    store = store_of(sb)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        events = {event.action: event for event in store.timeline()}
    finally:
        store.close()
    backup = plan.body["backup_branch"]
    assert git(sb.origin, "rev-parse", f"refs/heads/{backup}^") == old_head  # snapshot on top
    assert git(sb.origin, "show", f"refs/heads/{backup}:server/wip.ts") == (
        "export const halfDone = true"
    )
    approved = events["rollback_approved"]
    assert (approved.actor, approved.surface, approved.details["waived"]) == (
        ACTOR,
        "terminal",
        True,
    )
    assert events["rollback_done"].actor == ACTOR
    assert events["incident_opened"].surface == "terminal"
    assert (plan.state, plan.approved_by, plan.requested_by) == (PlanState.DONE, ACTOR, ACTOR)
    assert (incident.state, incident.healthy) == (IncidentState.ROLLED_BACK, True)


def _tag_t9(sb: Sandbox) -> str:
    """A checkpoint after the migration and before the breakage: a plan with no warnings."""
    git(sb.repo, "tag", "-a", TAG_T9, "-m", "Phase 2 Checkpoint: 9 hours", "HEAD~2")
    git(sb.repo, "push", "-q", "origin", f"refs/tags/{TAG_T9}")
    return commit_of(sb, TAG_T9)


@pytest.mark.parametrize("how", ["typed short sha", "--yes"])
def test_plan_without_warnings_takes_the_short_sha_or_yes(running: Sandbox, how: str) -> None:
    target = _tag_t9(running)
    if how == "--yes":
        result = rollback(running, "--to", TAG_T9, "--yes")
    else:
        result = rollback(running, "--to", TAG_T9, input=f"{target[:7]}\n")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "[!]" not in result.stdout and "approve anyway" not in result.stdout
    assert (f"Type “{target[:7]}” to roll back" in result.stdout) == (how != "--yes")
    assert git(running.repo, "rev-parse", "HEAD") == target
    assert git(running.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == target


def test_done_but_unhealthy_exits_3_and_a_commit_target_needs_approve_anyway(
    running: Sandbox,
) -> None:
    # HEAD~1 removed the old email config: the email routes answer 500 there.
    target = git(running.repo, "rev-parse", "HEAD~1")

    result = rollback(running, "--to", target, input="approve anyway\n")

    assert result.returncode == 3, result.stdout + result.stderr
    assert f"{target} is not a checkpoint tag" in result.stdout
    assert "ROLLED BACK" in result.stdout and "Service NOT healthy" in result.stdout
    assert git(running.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == target
    store = store_of(running)
    try:
        (plan,) = store.plans_of(1)
    finally:
        store.close()
    assert (plan.state, plan.forced, plan.waived) == (PlanState.DONE, True, False)


@pytest.mark.parametrize("answer", ["SHA\n", "yes\n", "approve\n", ""])
def test_anything_but_the_confirmation_rejects_the_plan_and_changes_nothing(
    sandbox: Sandbox, answer: str
) -> None:
    before = repo_state(sandbox)
    # The short sha is not enough: the T+8h plan crosses a migration, so it needs the words.
    typed = answer.replace("SHA", commit_of(sandbox, TAG_T8)[:7])

    result = rollback(sandbox, "--to", TAG_T8, input=typed)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("Not approved; nothing was changed.")
    assert repo_state(sandbox) == before
    store = store_of(sandbox)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        rejected = [e for e in store.timeline() if e.action == "rollback_rejected"]
    finally:
        store.close()
    assert (plan.state, incident.state) == (PlanState.REJECTED, IncidentState.REJECTED)
    assert [(e.actor, e.surface) for e in rejected] == [(ACTOR, "terminal")]


def test_yes_with_warnings_is_refused_unless_approve_anyway(running: Sandbox) -> None:
    sb = running
    before = repo_state(sb)

    refused = rollback(sb, "--to", TAG_T8, "--yes")

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "--approve-anyway" in refused.stderr and "nothing was changed" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert repo_state(sb) == before
    store = store_of(sb)
    try:
        assert [plan.state for plan in store.plans_of(1)] == [PlanState.REJECTED]
    finally:
        store.close()

    approved = rollback(sb, "--to", TAG_T8, "--yes", "--approve-anyway")

    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert git(sb.repo, "rev-parse", "HEAD") == commit_of(sb, TAG_T8)


@pytest.mark.parametrize(
    "args",
    [
        ["--to", TAG_T8, "--approve-anyway"],
        ["--resume", "1", "--yes"],
        ["--abort", "1", "--approve-anyway", "--yes"],
    ],
)
def test_flags_that_do_not_go_together_are_refused_before_anything(
    sandbox: Sandbox, args: list[str]
) -> None:
    result = rollback(sandbox, *args)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("rollback-bot: --") and result.stdout == ""
    assert not sandbox.store_path.exists()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["--to", "--upload-pack=touch x"],
            2,
            "is not a valid rollback target: it starts with '-'",
        ),
        (["--to=--upload-pack=touch x"], 2, "is not a valid rollback target: it starts with '-'"),
        (["--to", "--upload-pack=touch_x"], 2, "argument --to: expected one argument"),
        (["--to", "-x"], 2, "argument --to: expected one argument"),
        (["--to", "bad..ref"], 2, "is not a valid rollback target"),
        (["--to", "no-such-tag"], 1, "Unknown rollback target 'no-such-tag'"),
        (["--resume", "7"], 2, "There is no rollback plan #7"),
        (["--abort", "seven"], 2, "argument --abort: invalid int value"),
    ],
)
def test_bad_targets_and_plans_get_a_clear_refusal_and_change_nothing(
    sandbox: Sandbox, args: list[str], code: int, says: str
) -> None:
    before = repo_state(sandbox)

    result = rollback(sandbox, *args)

    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stderr and result.stdout == ""
    if not result.stderr.startswith("usage:"):
        assert len(result.stderr.strip().splitlines()) == 1
    assert repo_state(sandbox) == before
    for where in (sandbox.repo, sandbox.root, ROOT):
        assert not (where / "x").exists() and not (where / "touch_x").exists()
    if sandbox.store_path.exists():
        store = store_of(sandbox)
        try:
            assert store.list_incidents(states=list(IncidentState)) == []
        finally:
            store.close()


# -- a stopped rollback: resume or abort ---------------------------------------------------------


def test_stopped_rollback_resumes_from_the_terminal(running: Sandbox) -> None:
    sb = running
    old_head = git(sb.repo, "rev-parse", "HEAD")
    checkpoint = commit_of(sb, TAG_T8)
    plan_id = stopped_plan(sb)
    assert git(sb.repo, "rev-parse", "HEAD") == checkpoint  # reset locally, origin refused
    assert git(sb.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == old_head

    result = rollback(sb, "--resume", str(plan_id))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Resuming rollback plan #{plan_id} from “Push with lease”" in result.stdout
    steps = [line for line in result.stdout.splitlines() if line.startswith("✓ ")]
    assert steps[0] == "✓ Push with lease"  # the steps done before are not run again
    assert git(sb.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == checkpoint
    store = store_of(sb)
    try:
        plan = store.get_plan(plan_id)
        resumed = [e for e in store.timeline() if e.action == "rollback_resumed"]
    finally:
        store.close()
    assert plan is not None and (plan.state, plan.attempt) == (PlanState.DONE, 2)
    assert [(e.actor, e.surface) for e in resumed] == [(ACTOR, "terminal")]

    again = rollback(sb, "--resume", str(plan_id))
    assert again.returncode == 1 and "The rollback has finished." in again.stderr


def test_stopped_rollback_blocks_a_new_one_and_aborts_from_the_terminal(running: Sandbox) -> None:
    sb = running
    old_head = git(sb.repo, "rev-parse", "HEAD")
    plan_id = stopped_plan(sb)

    blocked = rollback(sb, "--to", TAG_T4, "--yes", "--approve-anyway")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert f"rollback-bot rollback --abort {plan_id}" in blocked.stderr

    result = rollback(sb, "--abort", str(plan_id))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"aborted by {ACTOR} at “Push with lease”" in result.stdout
    assert "Kept: the commits" in result.stdout  # how to get the abandoned work back
    assert git(sb.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == old_head
    store = store_of(sb)
    try:
        plan = store.get_plan(plan_id)
        incident = store.get_incident(plan.incident_id) if plan else None
        locks = store.list_locks()
        aborted = [e for e in store.timeline() if e.action == "rollback_aborted"]
    finally:
        store.close()
    assert plan is not None and plan.state is PlanState.ABORTED
    assert incident is not None and incident.state is IncidentState.ABORTED
    assert locks == []
    assert [(e.actor, e.surface) for e in aborted] == [(ACTOR, "terminal")]
    assert git(sb.origin, "rev-parse", f"refs/heads/{plan.body['backup_branch']}") == old_head

    again = rollback(sb, "--resume", str(plan_id))
    assert again.returncode == 1 and "The rollback was aborted." in again.stderr


def test_a_plan_left_running_by_a_dead_process_is_stopped_then_resumed(running: Sandbox) -> None:
    sb = running
    killed = rollback(
        sb,
        "--to",
        TAG_T8,
        "--yes",
        "--approve-anyway",
        ROLLBACK_BOT_KILL_AFTER_STEP="push_backup",
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    store = store_of(sb)
    try:
        (plan,) = store.unfinished_plans()
    finally:
        store.close()
    assert plan.state is PlanState.RUNNING

    result = rollback(sb, "--resume", str(plan.id))

    assert result.returncode == 0, result.stdout + result.stderr
    notice = f"Notice: rollback plan #{plan.id} (incident #{plan.incident_id}) was left running"
    assert notice in result.stdout and "now stopped at “Reset to the target”" in result.stdout
    assert git(sb.origin, "rev-parse", f"refs/heads/{PHASE_BRANCH}") == commit_of(sb, TAG_T8)
