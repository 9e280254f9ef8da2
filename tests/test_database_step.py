"""Scenario 5 end to end: the database rolled back with the code, on a real PostgreSQL.

The demo sandbox's history adds ``phase2_0002_add_deal_stage`` after the T+8h checkpoint, with
its down SQL in ``migrations/rollback/``. The app's database here is migrated the way drizzle
does it (tests/appdb.py), so the plan is computed from a real migrations table, and the
rollback runs pg_dump, the dry run and the real run through the Bolt app and the emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actions.pgtools import find_tool, tool_search_path
from bot.config import load_config
from bot.flows.run_steps import ROLLBACK_DB_STEPS
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.loopback import LocalSlack
from store import IncidentState, PlanState
from tests.appdb import columns_of, migrated_database, migration_hashes, table_checksums
from tests.gitrepo import git
from tests.pgserver import PgServer, free_port
from tests.test_escalation import settled_card
from tests.test_rollback_flow import CHANNEL, button, told

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
DOWN = "migrations/rollback/phase2_0002_add_deal_stage.down.sql"


@contextmanager
def running(sandbox: Sandbox, url: str) -> Iterator[LocalSlack]:
    config = load_config(sandbox.config_path)
    with LocalSlack(config, environ={"DATABASE_URL": url}, scheduler=False) as local:
        yield local


def _commit(sandbox: Sandbox, path: str, text: str | None, message: str) -> None:
    target = sandbox.repo / path
    if text is None:
        git(sandbox.repo, "rm", "-q", "--", path)
    else:
        target.write_text(text)
        git(sandbox.repo, "add", "--", path)
    git(sandbox.repo, "commit", "-q", "-m", message)
    git(sandbox.repo, "push", "-q", "origin", "HEAD")


def _rolled_back(local: LocalSlack, ts: str) -> str:
    """The card's blocks once its rollback ended: done, or stopped at a step."""

    def ended(emulator: object) -> bool:
        card = local.emulator.message(CHANNEL, ts)
        return card is not None and ("rolled back" in card.text or "stopped" in card.text)

    assert local.emulator.wait_for(ended, timeout=90)
    local.deps.work.wait_idle(60)
    card = local.emulator.message(CHANNEL, ts)
    assert card is not None
    return str(card.blocks)


def test_database_scenario_rolls_back_schema_and_code_under_one_approval(
    sandbox: Sandbox, pg_server: PgServer, tmp_path: Path
) -> None:
    url = migrated_database(pg_server, sandbox.repo)
    hashes, untouched = migration_hashes(url), table_checksums(url)
    checkpoint = git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")
    with running(sandbox, url) as local:
        local.sender.slash_command("/rollback", "scenario database deals 500", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        text = str(card.blocks)
        assert "Database step" in text and "phase2_0002_add_deal_stage" in text, text
        assert DOWN in text and "column deals.stage (4 values)" in text
        # The database step undoes the migration, so nothing is waived: a plain Approve.
        approve = button(card, "rollback_approve")
        local.sender.block_action(
            user_id=ORCHESTRATOR, action=approve, message=local.emulator.message_payload(card)
        )
        final = _rolled_back(local, card.ts)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        journal = [e.step for e in local.store.journal(plan.id) if e.status == "done"]
    assert plan.state is PlanState.DONE and not plan.waived, plan.result
    assert journal == [step.name for step in ROLLBACK_DB_STEPS]
    assert "Database rolled back" in final and "Service healthy" in final, final
    assert "Nothing is lost" in final and "stays ahead" not in final
    # The migrations table and the schema are the target's; the other tables are untouched.
    assert migration_hashes(url) == hashes[:-1]
    assert "stage" not in columns_of(url, "deals") and columns_of(url, "deals")
    assert table_checksums(url) == untouched
    assert git(sandbox.repo, "rev-parse", "HEAD") == checkpoint
    # The dump restores into a scratch database, with the dropped column and its values.
    backup = Path(plan.result["db_backup"])
    assert backup.is_file() and backup.stat().st_mode & 0o077 == 0
    scratch = pg_server.create_database()
    restored = subprocess.run(
        [
            str(find_tool("pg_restore", path=tool_search_path(os.environ["PATH"]))),
            "--no-owner",
            f"--dbname={scratch}",
            str(backup),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    assert "stage" in columns_of(scratch, "deals")
    assert migration_hashes(scratch) == hashes


def test_missing_down_sql_refuses_the_plan_and_names_the_file(
    sandbox: Sandbox, pg_server: PgServer
) -> None:
    url = migrated_database(pg_server, sandbox.repo)
    _commit(sandbox, DOWN, None, "chore: lose the down SQL")
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with running(sandbox, url) as local:
        local.sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, DOWN)
        local.deps.work.wait_idle(30)
        incidents = local.store.list_incidents(states=list(IncidentState))
    assert incidents == []
    assert git(sandbox.repo, "rev-parse", "HEAD") == head
    assert "stage" in columns_of(url, "deals")


def test_down_sql_failing_halfway_changes_neither_database_nor_code(
    sandbox: Sandbox, pg_server: PgServer
) -> None:
    url = migrated_database(pg_server, sandbox.repo)
    broken = "ALTER TABLE deals DROP COLUMN stage;\nUPDATE deals SET no_such_column = 1;\n"
    _commit(sandbox, DOWN, broken, "chore: a down SQL that fails on its second statement")
    head, hashes = git(sandbox.repo, "rev-parse", "HEAD"), migration_hashes(url)
    with running(sandbox, url) as local:
        local.sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        local.sender.block_action(
            user_id=ORCHESTRATOR,
            action=button(card, "rollback_approve"),
            message=local.emulator.message_payload(card),
        )
        final = _rolled_back(local, card.ts)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.state is PlanState.STOPPED and plan.result["stopped_at"] == "db_dry_run"
    assert "Statement 2" in final and "UPDATE deals SET no_such_column" in final, final
    assert "stage" in columns_of(url, "deals") and migration_hashes(url) == hashes
    assert git(sandbox.repo, "rev-parse", "HEAD") == head


def test_an_unreachable_database_leaves_only_the_waiver(sandbox: Sandbox) -> None:
    url = f"postgresql://app:s3cret-pw@127.0.0.1:{free_port()}/app"
    with running(sandbox, url) as local:
        local.sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        text = str(card.blocks)
        anyway = button(card, "rollback_approve_anyway")
    assert "database step is unavailable" in text and "cannot be read" in text, text
    assert "s3cret-pw" not in text and "s3cret-pw" not in str(anyway)


def test_a_missing_pg_dump_leaves_only_the_waiver_and_names_the_tools(
    sandbox: Sandbox, pg_server: PgServer, tmp_path: Path
) -> None:
    url = migrated_database(pg_server, sandbox.repo)
    config = load_config(sandbox.config_path)
    no_tools = tmp_path / "bin-without-postgres"
    no_tools.mkdir()
    with LocalSlack(
        config, environ={"DATABASE_URL": url}, scheduler=False, tool_path=str(no_tools)
    ) as local:
        local.sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        text = str(card.blocks)
        button(card, "rollback_approve_anyway")  # the waiver is all that is offered
    assert "database step is unavailable" in text, text
    assert "pg_dump and pg_restore not installed here" in text, text
    assert "'rollback_approve'" not in text  # no plain Approve: the database would stay ahead


def test_a_drop_table_down_sql_counts_the_rows_it_would_lose(
    sandbox: Sandbox, pg_server: PgServer
) -> None:
    url = migrated_database(pg_server, sandbox.repo)
    down = '-- both go\nBEGIN;\nALTER TABLE "deals" DROP COLUMN IF EXISTS stage;\nDROP TABLE IF EXISTS ghosts, email_messages;\nCOMMIT;\n'
    _commit(sandbox, DOWN, down, "chore: a down SQL that drops a table too")
    with running(sandbox, url) as local:
        local.sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
        text = str(settled_card(local, "awaits approval").blocks)
    assert "column deals.stage (4 values)" in text, text
    assert "table email_messages (12 rows)" in text and "table ghosts (not there now)" in text
    assert "2 statements" in text  # the file's own BEGIN and COMMIT do not count


COMMAND_SCRIPT = """\
import os, sys
import psycopg
to = sys.argv[1].removeprefix("--to=")
assert to == "phase2_0001_customer_search_index", to  # the newest migration that stays
assert "DATABASE_URL" in os.environ and "PGPASSWORD" not in sys.argv[1]
with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    conn.execute("ALTER TABLE deals DROP COLUMN stage")
    conn.execute("DELETE FROM drizzle.__drizzle_migrations WHERE hash = %s", (sys.argv[2],))
with open(sys.argv[3], "a") as ran:
    ran.write("ran\\n")
"""


def test_rollback_command_runs_once_with_the_migration_to_go_back_to(
    sandbox: Sandbox, pg_server: PgServer, tmp_path: Path
) -> None:
    url = migrated_database(pg_server, sandbox.repo)
    hashes = migration_hashes(url)
    script, ran = tmp_path / "db_rollback.py", tmp_path / "ran.txt"
    script.write_text(COMMAND_SCRIPT)
    command = f"{sys.executable} {script} --to={{migration}} {hashes[-1]} {ran}"
    text = sandbox.config_path.read_text()
    sandbox.config_path.write_text(
        text.replace("[database]\n", f"[database]\nrollback_command = {json.dumps(command)}\n", 1)
    )
    with running(sandbox, url) as local:
        local.sender.slash_command("/rollback", "scenario database", user_id=ENGINEER)
        card = settled_card(local, "awaits approval")
        shown = str(card.blocks)
        local.sender.block_action(
            user_id=ORCHESTRATOR,
            action=button(card, "rollback_approve"),
            message=local.emulator.message_payload(card),
        )
        final = _rolled_back(local, card.ts)
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
        done = [e.step for e in local.store.journal(plan.id) if e.status == "done"]
    assert "--to=phase2_0001_customer_search_index" in shown and "no dry run" in shown
    assert plan.state is PlanState.DONE and "db_dry_run" not in done and "db_apply" in done
    assert ran.read_text() == "ran\n"  # once
    assert migration_hashes(url) == hashes[:-1] and "stage" not in columns_of(url, "deals")
    assert "Database rolled back" in final
