"""Drills through the real Bolt app, on the demo sandbox: the practice runs in an isolated
clone and leaves the live working copy, its refs, its index and its remote exactly as they
were; it is recorded, and the confidence table follows from the record."""

from __future__ import annotations

import hashlib
import shlex
import sys
from pathlib import Path

from bot.local.demo.sandbox import SERVICE_SCRIPT, Sandbox
from bot.local.loopback import LocalSlack
from tests.gitrepo import git
from tests.servehelp import bot_env, run_cli
from tests.test_escalation import Clock, running
from tests.test_rollback_flow import CHANNEL, told

ENGINEER = "U0ENG"


def with_scratch_service(sandbox: Sandbox) -> None:
    """``drills.scratch_command``: the demo service, serving a clone on the port it is given."""
    command = shlex.join([sys.executable, "-P", str(SERVICE_SCRIPT), "serve"])
    config = sandbox.config_path.read_text()
    sandbox.config_path.write_text(
        config + f'\n[drills]\nscratch_command = "{command} --root {{path}} --port {{port}}"\n'
    )


def live_state(sandbox: Sandbox) -> tuple[str, ...]:
    """Every ref here and on the remote, the status, the index's bytes, HEAD."""
    index = hashlib.sha256((sandbox.repo / ".git" / "index").read_bytes()).hexdigest()
    return (
        git(sandbox.repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(sandbox.origin, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(sandbox.repo, "status", "--porcelain", "--untracked-files=all"),
        git(sandbox.repo, "rev-parse", "HEAD"),
        index,
        git(sandbox.repo, "stash", "list"),
    )


def drill_result(local: LocalSlack) -> str:
    assert local.emulator.wait_for(
        lambda e: any(
            m.text.startswith("Drill: critical: p") or m.text.startswith("Drill: critical: f")
            for m in e.messages(CHANNEL)
        ),
        timeout=120,
    )
    local.deps.work.wait_idle(60)
    (shown,) = [m for m in local.emulator.messages(CHANNEL) if m.text.startswith("Drill: critical")]
    return str(shown.blocks)


def drill_thread(local: LocalSlack) -> list[str]:
    """The replies under the drill's message, oldest first."""
    (parent,) = [
        m for m in local.emulator.messages(CHANNEL) if m.text.startswith("Drill: critical")
    ]
    return [
        m.text
        for m in local.emulator.messages(CHANNEL)
        if m.thread_ts == parent.ts and m.ts != parent.ts
    ]


def test_drill_leaves_the_live_repository_exactly_as_it_was_and_counts_as_tested(
    sandbox: Sandbox,
) -> None:
    (sandbox.repo / "server" / "wip.ts").write_text("export const halfDone = true\n")
    before = live_state(sandbox)
    with running(sandbox, Clock()) as (local, _):
        local.sender.slash_command("/rollback", "status", user_id=ENGINEER)
        local.deps.work.wait_idle(30)
        local.sender.slash_command("/rollback", "drill critical", user_id=ENGINEER)
        shown = drill_result(local)
        thread = drill_thread(local)
        (record,) = local.store.latest_drills().values()
        local.sender.slash_command("/rollback", "status", user_id=ENGINEER)
        assert local.emulator.wait_for(
            lambda e: any("critical: *HIGH* · tested" in str(m.blocks) for m in e.messages()),
            timeout=30,
        )
        locks = local.store.list_locks()
    assert live_state(sandbox) == before
    assert record.ok and record.verified_by == "git" and record.scenario == "critical"
    assert record.commit_sha == before[3]
    assert record.exercised == ("clone", "break", "rollback", "verify", "cleanup")
    assert "Passed" in shown and "verified at git level" in shown
    # The thread tells the steps as they pass, then the verdict.
    assert thread[:5] == [
        "Clone into a scratch folder, with a scratch remote: done",
        "Create the test branch and commit the intentional break: done",
        "Roll it back: backup pushed, reset, leased push: done",
        "Verify: done",
        "Clean up: done",
    ]
    assert thread[-1].startswith("The drill passed in ") and thread[-1].endswith("recorded.")
    assert locks == []
    printed = run_cli(["confidence", "--config", str(sandbox.config_path)], bot_env())
    assert printed.returncode == 0, printed.stderr
    assert "critical    | HIGH       | Yes (passed" in printed.stdout
    assert "email       | LOW        | No" in printed.stdout
    assert "Action required: drill minor, email" in printed.stdout
    assert not any(Path("/tmp").glob("rollback-bot-drill-*/clone")), "the scratch folder stayed"


def _drill_processes() -> list[str]:
    """Processes still running from a drill's scratch folder (its service, or its children)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "rollback-bot-drill-" in cmdline and "pytest" not in cmdline:
            found.append(cmdline)
    return found


def test_drill_with_a_scratch_service_runs_the_checklist_on_it_and_stops_it(
    sandbox: Sandbox,
) -> None:
    with_scratch_service(sandbox)
    before = live_state(sandbox)
    with running(sandbox, Clock()) as (local, _):
        local.sender.slash_command("/rollback", "drill critical", user_id=ENGINEER)
        shown = drill_result(local)
        (record,) = local.store.latest_drills().values()
    assert live_state(sandbox) == before
    # The demo's tip is broken on purpose (its email endpoints): the scratch service says so.
    assert not record.ok and record.verified_by == "service"
    assert "checklist failed on the scratch service" in record.problem
    assert "email" in record.problem
    assert "Failed" in shown
    thread = drill_thread(local)
    assert thread[-3:-1] == ["Verify: failed", "Clean up: done"]
    assert thread[-1].startswith("The drill failed")
    assert _drill_processes() == [], "the scratch service outlived its drill"


def test_drill_of_an_unknown_scenario_is_refused(sandbox: Sandbox) -> None:
    with running(sandbox, Clock()) as (local, _):
        local.sender.slash_command("/rollback", "drill chaos", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "Which scenario to drill?")
        assert local.store.latest_drills() == {}


def test_confidence_table_documentation_names_readme_sections_that_exist() -> None:
    from bot.flows.drill import DOCUMENTATION

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    headings = {line.lstrip("# ").strip() for line in readme.splitlines() if line.startswith("## ")}
    for scenario, where in DOCUMENTATION.items():
        section = where.removeprefix("README: ").split(" (the ")[0]
        assert section in headings, (scenario, section)
