"""The bisect through the real app, on the demo sandbox and its service: 64 commits removed by
a rollback, one of them breaking the service's start-up, named in at most 7 checklist runs."""

from __future__ import annotations

from bot.local.demo.sandbox import Sandbox
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from tests.gitrepo import git
from tests.test_drill import with_scratch_service
from tests.test_edge_delivery import _click
from tests.test_escalation import Clock, running, settled_card
from tests.test_rollback_flow import CHANNEL, told
from tests.test_watch import restore_green_tree

ENGINEER = "U0ENG"
BAD_AT = 31  # of 64


def sixty_four_commits(sandbox: Sandbox) -> list[str]:
    repo, made = sandbox.repo, []
    for number in range(64):
        notes = sandbox.repo / "docs" / "notes.md"
        notes.parent.mkdir(exist_ok=True)
        with notes.open("a") as out:
            out.write(f"note {number}\n")
        if number == BAD_AT:  # the procedure's own break: the service no longer starts
            with (repo / "server" / "routes.ts").open("a") as out:
                out.write("BROKEN\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"docs: note {number}")
        made.append(git(repo, "rev-parse", "HEAD"))
    git(repo, "push", "-q", "origin", "HEAD")
    return made


def report_in_thread(local: LocalSlack, card: Message) -> Message:
    def found() -> list[Message]:
        return [
            m for m in local.emulator.messages(CHANNEL)
            if m.thread_ts == card.ts and m.text.startswith("Bisect: incident")
        ]  # fmt: skip

    assert local.emulator.wait_for(lambda e: bool(found()), timeout=180)
    return found()[0]


def test_bisect_names_the_bad_commit_among_sixty_four_in_at_most_seven_runs(
    sandbox: Sandbox,
) -> None:
    green = restore_green_tree(sandbox, enabled="false")
    with_scratch_service(sandbox)
    made = sixty_four_commits(sandbox)
    with running(sandbox, Clock()) as (local, _):
        local.sender.slash_command("/rollback", "bisect 1", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "There is no incident #1")
        local.sender.slash_command("/rollback", f"to {green}", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        _click(local, card, "rollback_approve_anyway")
        assert local.emulator.wait_for(
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=90
        )
        local.deps.work.wait_idle(60)
        local.sender.slash_command("/rollback", "bisect 1", user_id=ENGINEER)
        report = report_in_thread(local, card)
        (done,) = [e for e in local.store.timeline(limit=1000) if e.action == "bisect_done"]
    culprit = made[BAD_AT]
    assert done.details["first_bad"] == culprit and done.details["commits"] == 64
    assert done.details["runs"] <= 7
    shown = str(report.blocks)
    assert culprit[:7] in shown and "server starts" in shown and "routes.ts" in shown
    assert f"/rollback cherry-pick 1 {made[0][:12]}" in shown
    assert git(sandbox.repo, "rev-parse", "HEAD") == green  # nothing live moved
