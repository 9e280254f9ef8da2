"""The drill and the bisect through ``rollback-bot serve`` (a real process, signed requests from
the loopback emulator): a drill leaves the live repository exactly as it was and makes its
scenario tested in ``/rollback status``; a bisect refuses an incident never rolled back, then
names the one bad commit of 64 removed by a rollback in at most 7 checklist runs."""

from __future__ import annotations

from bot.local.demo.sandbox import ORCHESTRATOR
from store import SqliteStore
from tests.gitrepo import git
from tests.slackrun import ENGINEER, Harness, card_with, click, told, wait_card_text
from tests.slackrun import harness as harness  # the fixture
from tests.test_bisect_flow import BAD_AT, sixty_four_commits
from tests.test_drill import live_state, with_scratch_service
from tests.test_rollback_crash import stop_cleanly
from tests.test_rollback_flow import CHANNEL
from tests.test_watch import restore_green_tree


def test_serve_drill_leaves_the_live_repository_as_it_was_and_status_shows_it_tested(
    harness: Harness,
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    (sandbox.repo / "server" / "wip.ts").write_text("export const halfDone = true\n")
    before = live_state(sandbox)
    process, sender = harness.serve()
    sender.slash_command("/rollback", "drill critical", user_id=ENGINEER)
    card_with(emulator, "Drill: critical: passed", timeout=120)
    sender.slash_command("/rollback", "status", user_id=ENGINEER)
    assert emulator.wait_for(
        lambda e: any(
            m.ephemeral_to == ENGINEER and "critical: *HIGH* · tested" in str(m.blocks)
            for m in e.messages()
        ),
        timeout=30,
    )
    stop_cleanly(process)
    assert live_state(sandbox) == before


def test_serve_bisect_refuses_an_incident_never_rolled_back_then_names_the_bad_commit(
    harness: Harness,
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    green = restore_green_tree(sandbox, enabled="false")
    with_scratch_service(sandbox)
    made = sixty_four_commits(sandbox)
    process, sender = harness.serve()
    sender.slash_command("/rollback", "scenario minor 1 a typo on the login page", user_id=ENGINEER)
    card_with(emulator, "Incident #1")
    sender.slash_command("/rollback", "bisect 1", user_id=ENGINEER)
    assert told(emulator, ENGINEER, "Incident #1 was never rolled back: nothing to bisect.")
    sender.slash_command("/rollback", f"to {green}", user_id=ENGINEER)
    card = card_with(emulator, "awaits approval")
    click(emulator, sender, card, "rollback_approve_anyway", ORCHESTRATOR)
    wait_card_text(emulator, card, "rolled back", timeout=120)
    sender.slash_command("/rollback", "bisect 2", user_id=ENGINEER)
    assert emulator.wait_for(
        lambda e: any(
            m.thread_ts == card.ts and m.text.startswith("Bisect: incident")
            for m in e.messages(CHANNEL)
        ),
        timeout=180,
    ), [m.text for m in emulator.messages()]
    stop_cleanly(process)
    store = SqliteStore(sandbox.store_path)
    try:
        (done,) = [e for e in store.timeline(limit=1000) if e.action == "bisect_done"]
    finally:
        store.close()
    assert done.details["first_bad"] == made[BAD_AT] and done.details["commits"] == 64
    assert done.details["runs"] <= 7
    assert git(sandbox.repo, "rev-parse", "HEAD") == green
