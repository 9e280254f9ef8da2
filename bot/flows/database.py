"""Scenario 5 in a rollback: the database step planned with the code, and run under its journal.

A rollback that crosses migration files gets a database section when a database is set
(``database.url_env``): the migrations applied after the target, their down SQL, and the data
it drops. The steps run after the code's backup is pushed and before the reset, so a failure
before the database's COMMIT leaves the code untouched too:

1. ``db_backup``: ``pg_dump -Fc`` into ``database.backup_dir``;
2. ``db_dry_run``: BEGIN, the down SQL, the check, ROLLBACK (skipped for a rollback command,
   which is not transactional);
3. ``db_apply``: the same, then COMMIT; or the rollback command, once, with the migrations
   table read before and after.

Without a URL, or without pg_dump, or with the database unreachable, the step is unavailable
and says why; the card then offers today's waiver ("Approve anyway", the database stays ahead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from actions.database_plan import DatabasePlan, database_unavailable, plan_database_step
from actions.database_steps import (
    backup_database,
    read_migration_hashes,
    run_down_sql,
    run_rollback_command,
)
from actions.errors import DatabaseError
from actions.git import open_repo
from actions.pgtools import find_tool
from actions.rollback_plan import RollbackPlan
from bot.deps import Deps

if TYPE_CHECKING:  # run_steps lists these steps, so it imports this module, not the reverse
    from bot.flows.run_context import RunContext

PLAN_TIMEOUT_S = 30.0
BACKUP_TIMEOUT_S = 30 * 60.0
DOWN_TIMEOUT_S = 10 * 60.0


def with_database_step(deps: Deps, plan: RollbackPlan) -> RollbackPlan:
    """The plan with its database section, when it crosses migration files. A missing down
    script refuses the plan (InputError, naming the file); an unreachable database or a missing
    pg_dump makes the step unavailable, which the card explains."""
    if not plan.migrations_crossed:
        return plan
    config = deps.settings.config
    table = config.database.migrations_table
    url = deps.settings.database_url
    if url is None:
        name = config.database.url_env
        reason = f"{name} is not set" if name else "no database is configured (database.url_env)"
        return replace(plan, database=database_unavailable(table, reason))
    missing = [
        tool
        for tool in ("pg_dump", "pg_restore")
        if find_tool(tool, path=deps.settings.tool_path) is None
    ]
    if missing:
        reason = f"{' and '.join(missing)} not installed here, so no backup can be taken"
        return replace(plan, database=database_unavailable(table, reason))
    try:
        database = plan_database_step(
            repo=open_repo(config.git.path),
            head_sha=plan.head_sha,
            target_sha=plan.target_sha,
            url=url.reveal(),
            table=table,
            migrations_dir=config.database.migrations_dir,
            rollback_dir=config.database.rollback_dir,
            phase=config.project.phase,
            rollback_command=config.database.rollback_command,
            timeout_s=PLAN_TIMEOUT_S,
        )
    except DatabaseError as error:
        database = database_unavailable(table, error.user_message)
    return replace(plan, database=database)


# -- the steps -----------------------------------------------------------------------------------


def _database(run: RunContext) -> DatabasePlan:
    database = run.rollback.database
    assert database is not None and database.needed, "a database step ran without its plan"
    return database


def _url(run: RunContext) -> str:
    url = run.deps.settings.database_url
    if url is None:
        name = run.deps.settings.config.database.url_env or "database.url_env"
        raise DatabaseError(
            f"{name} is not set in the bot's environment any more, so the database step cannot "
            "run. Nothing more was changed. Set it and Resume."
        )
    return url.reveal()


def check_database(run: RunContext) -> Mapping[str, Any]:
    """Before anything changes: the tools are here and the database is as planned."""
    database, url = _database(run), _url(run)
    for tool in ("pg_dump", "pg_restore"):
        if find_tool(tool, path=run.deps.settings.tool_path) is None:
            raise DatabaseError(f"{tool} is not installed here. Nothing was changed.")
    now = read_migration_hashes(url=url, plan=database, timeout_s=PLAN_TIMEOUT_S)
    if now not in (database.applied_before, database.remaining):
        raise DatabaseError(
            "The migrations table changed since the plan was made. Nothing was changed; "
            "abort this one and ask again for a fresh plan."
        )
    return {"db_checked": True}


def back_up_database(run: RunContext) -> Mapping[str, Any]:
    backup_dir = run.deps.settings.config.database.backup_dir
    if backup_dir is None:  # the config loader always sets it; a hand-made Config may not
        raise DatabaseError("database.backup_dir is not set. Nothing was changed.")
    backup = backup_database(
        url=_url(run),
        path=run.deps.settings.tool_path,
        backup_dir=backup_dir,
        # The plan's creation time too: a store made afresh reuses ids, never this name.
        name=f"incident-{run.plan.incident_id}-plan-{run.plan.id}-{run.plan.created_at:%Y%m%d%H%M%S}",
        timeout_s=BACKUP_TIMEOUT_S,
    )
    return {
        "db_backup": backup.path,
        "db_backup_bytes": backup.size,
        "db_backup_sha256": backup.sha256,
        "db_restore": backup.restore_command,
    }


def dry_run_down_sql(run: RunContext) -> Mapping[str, Any]:
    tried = run_down_sql(url=_url(run), plan=_database(run), commit=False, timeout_s=DOWN_TIMEOUT_S)
    return {"db_dry_run": "already at the target" if tried.already_done else "passed"}


def roll_database_back(run: RunContext) -> Mapping[str, Any]:
    database, url = _database(run), _url(run)
    if database.command:
        before = read_migration_hashes(url=url, plan=database, timeout_s=PLAN_TIMEOUT_S)
        if before == database.remaining:
            return {"db_rolled_back": True, "db_already": True}
        if before != database.applied_before:
            # Neither as planned nor at the target: an earlier run of the (non-transactional)
            # command may have stopped half way. Running it again could do its work twice.
            raise DatabaseError(
                f"The migrations table lists {len(before)} migrations: neither the plan's "
                f"{len(database.applied_before)} nor the target's {len(database.remaining)}. "
                "The rollback command may have half run; look at the database, then Resume."
            )
        run_rollback_command(
            url=url,
            path=run.deps.settings.tool_path,
            plan=database,
            cwd=run.deps.settings.config.git.path,
            timeout_s=DOWN_TIMEOUT_S,
        )
        after = read_migration_hashes(url=url, plan=database, timeout_s=PLAN_TIMEOUT_S)
        if after != database.remaining:
            raise DatabaseError(
                f"After the rollback command the migrations table lists {len(after)} "
                f"migrations, not the target's {len(database.remaining)}. The code is "
                "untouched; look at the database before you Resume."
            )
        return {"db_rolled_back": True, "db_before": len(before), "db_after": len(after)}
    done = run_down_sql(url=url, plan=database, commit=True, timeout_s=DOWN_TIMEOUT_S)
    return {
        "db_rolled_back": True,
        "db_already": done.already_done,
        "db_statements": done.statements,
        "db_rows_removed": done.rows_removed,
    }
