"""Scenario 5 through ``rollback-bot serve``, SIGKILLed right after each database step.

The bot kills itself (``ROLLBACK_BOT_KILL_AFTER_STEP``) once the step is journaled done; a
second ``serve`` on the same store offers Resume, and the resumed run finishes with the
database and the code at the target and nothing done twice: one backup, one down run, and the
migration rows gone exactly once.
"""

from __future__ import annotations

import pytest

from bot.flows.run_steps import ROLLBACK_DB_STEPS
from bot.local.demo.sandbox import ORCHESTRATOR, TAG_T8
from store import IncidentState, PlanState, SqliteStore
from tests.appdb import columns_of, migrated_database, migration_hashes, table_checksums
from tests.gitrepo import git
from tests.pgserver import PgServer
from tests.slackrun import (
    CLICK_TIMEOUT_S,
    ENGINEER,
    RESUME,
    Harness,
    card_with,
    click,
    told,
    wait_card_text,
    with_button,
)
from tests.slackrun import harness as harness  # the fixture
from tests.test_rollback_crash import stop_cleanly, wait_killed

RESTORE = "database_restore"
APPROVE = "rollback_approve"  # the database step undoes the migration: nothing to waive
DB_STEPS = [step.name for step in ROLLBACK_DB_STEPS if step.name.startswith("db_")]


@pytest.mark.parametrize("step", [*DB_STEPS, "reset"])
def test_serve_killed_after_a_database_step_resumes_and_rolls_back_once(
    harness: Harness, pg_server: PgServer, step: str
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    url = migrated_database(pg_server, sandbox.repo)
    hashes, untouched = migration_hashes(url), table_checksums(url)
    checkpoint = git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")

    doomed, sender = harness.serve(DATABASE_URL=url, ROLLBACK_BOT_KILL_AFTER_STEP=step)
    sent = sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
    assert sent.status == 200, sent
    card = card_with(emulator, "awaits approval")
    assert "Database step" in str(card.blocks), card.blocks
    click(emulator, sender, card, APPROVE, ORCHESTRATOR)
    wait_killed(doomed, step)

    process, sender = harness.serve(DATABASE_URL=url)
    assert emulator.wait_for(lambda e: bool(with_button(e, RESUME)), timeout=CLICK_TIMEOUT_S)
    announcement = with_button(emulator, RESUME)[-1]
    click(emulator, sender, announcement, RESUME, ORCHESTRATOR)
    click(emulator, sender, announcement, RESUME, ORCHESTRATOR)  # a double click
    final = wait_card_text(emulator, card, "rolled back")
    assert "service healthy" in final.text, final.text
    assert "Database rolled back" in str(final.blocks) or "already at the target" in str(
        final.blocks
    )
    stop_cleanly(process)

    store = SqliteStore(sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        journal = store.journal(plan.id)
    finally:
        store.close()
    done = [e.step for e in journal if e.status == "done"]
    assert done == [s.name for s in ROLLBACK_DB_STEPS], [(e.step, e.status) for e in journal]
    assert plan.state is PlanState.DONE and plan.attempt == 2 and not plan.waived
    assert incident.state is IncidentState.ROLLED_BACK
    # The database is the target's, once: the other tables untouched, one backup on disk.
    assert migration_hashes(url) == hashes[:-1]
    assert "stage" not in columns_of(url, "deals")
    assert table_checksums(url) == untouched
    backups = sorted(p.name for p in (sandbox.store_path.parent / "backups").iterdir())
    stamp = f"{plan.created_at:%Y%m%d%H%M%S}"
    assert backups == [f"incident-{incident.id}-plan-{plan.id}-{stamp}.dump"], backups
    assert git(sandbox.repo, "rev-parse", "HEAD") == checkpoint


def test_restore_from_backup_after_the_database_step_puts_both_back_and_aborts(
    harness: Harness, pg_server: PgServer
) -> None:
    sandbox, emulator = harness.sandbox, harness.emulator
    url = migrated_database(pg_server, sandbox.repo)
    hashes, untouched = migration_hashes(url), table_checksums(url)
    head = git(sandbox.repo, "rev-parse", "HEAD")

    doomed, sender = harness.serve(DATABASE_URL=url, ROLLBACK_BOT_KILL_AFTER_STEP="db_apply")
    sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
    card = card_with(emulator, "awaits approval")
    click(emulator, sender, card, APPROVE, ORCHESTRATOR)
    wait_killed(doomed, "db_apply")
    assert "stage" not in columns_of(url, "deals")  # the database step was committed

    process, sender = harness.serve(DATABASE_URL=url)
    assert emulator.wait_for(lambda e: bool(with_button(e, RESTORE)), timeout=CLICK_TIMEOUT_S)
    stopped = with_button(emulator, RESTORE)[-1]
    assert RESUME in str(stopped.blocks)
    click(emulator, sender, stopped, RESTORE, ORCHESTRATOR)
    final = wait_card_text(emulator, card, "aborted")
    assert "the database was restored from" in str(final.blocks), final.blocks
    click(emulator, sender, stopped, RESUME, ORCHESTRATOR)  # from the older copy of the card
    assert told(emulator, ORCHESTRATOR, "The rollback was aborted.")
    stop_cleanly(process)

    store = SqliteStore(sandbox.store_path)
    try:
        (incident,) = store.list_incidents(states=list(IncidentState))
        (plan,) = store.plans_of(incident.id)
        events = [e.action for e in store.timeline(limit=200)]
    finally:
        store.close()
    assert plan.state is PlanState.ABORTED and "database_restored" in events
    assert migration_hashes(url) == hashes and "stage" in columns_of(url, "deals")
    assert table_checksums(url) == untouched
    assert git(sandbox.repo, "rev-parse", "HEAD") == head  # the code never moved
