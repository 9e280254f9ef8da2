"""Scenario 5's steps: back the database up, try the down SQL, run it, restore if asked.

PostgreSQL's DDL is transactional, so the down SQL runs in one transaction with its check (the
migrations table must list exactly the target's migrations): a dry run ends in ROLLBACK and
changes nothing, the real run ends in COMMIT, and a failure anywhere before the COMMIT leaves
the database as it was. Each step reads the state first: a backup already on disk is kept, and
a database already at the target's migrations is not rolled back twice, so a step run again
after a crash has no second effect.
"""

from __future__ import annotations

import hashlib
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg.sql import SQL, Identifier

from actions.checks.app_migrations import parse_table_name
from actions.checks.database import url_secrets
from actions.database_plan import DatabasePlan
from actions.errors import DatabaseError
from actions.pgtools import ToolRun, require_tool, run_tool
from actions.redact import redact
from actions.sql_text import is_transaction_wrapper, split_statements

_UNCHANGED = "The database and the code are unchanged."


@dataclass(frozen=True)
class DatabaseBackup:
    path: str
    size: int
    sha256: str
    restore_command: str  # for a person to run by hand; names no secret


@dataclass(frozen=True)
class DownRun:
    committed: bool  # False for a dry run
    already_done: bool  # the table already listed exactly the target's migrations
    statements: int
    rows_removed: int  # migration rows the bot deleted (0 when the down SQL did it)


def backup_database(
    *, url: str, path: str, backup_dir: Path, name: str, timeout_s: float
) -> DatabaseBackup:
    """``pg_dump -Fc`` of the database into ``backup_dir/name.dump``, checked by reading its
    table of contents back; an existing complete dump of that name is kept as it is."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise DatabaseError(f"Refused backup name {name!r}.")
    pg_dump = require_tool("pg_dump", path=path)
    pg_restore = require_tool("pg_restore", path=path)
    backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(backup_dir, 0o700)  # an existing folder too: a dump holds every row
    final = backup_dir / f"{name}.dump"
    if not final.exists():
        partial = backup_dir / f"{name}.dump.partial"
        partial.unlink(missing_ok=True)
        # Made 0600 before pg_dump opens it, so no other user can read it while it is written.
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        dumped = run_tool(
            [pg_dump, "--format=custom", "--no-password", f"--file={partial}"],
            url=url,
            path=path,
            timeout_s=timeout_s,
        )
        if dumped.status != 0:
            partial.unlink(missing_ok=True)
            raise DatabaseError(f"pg_dump failed: {dumped.complaint}. {_UNCHANGED}")
        _require_readable(pg_restore, partial, url, path, timeout_s)
        os.chmod(partial, 0o600)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.rename(final)
    else:
        _require_readable(pg_restore, final, url, path, timeout_s)
    return DatabaseBackup(
        path=str(final),
        size=final.stat().st_size,
        sha256=file_sha256(final),
        restore_command=(
            'pg_restore --clean --if-exists --single-transaction -d "$DATABASE_URL" '
            + shlex.quote(str(final))
        ),
    )


def file_sha256(path: Path) -> str:
    """A dump's sha256, read in chunks (a dump can be larger than memory)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _require_readable(pg_restore: str, dump: Path, url: str, path: str, timeout_s: float) -> None:
    listed = run_tool([pg_restore, "--list", str(dump)], url=url, path=path, timeout_s=timeout_s)
    if listed.status != 0:
        raise DatabaseError(f"The backup {dump} cannot be read back: {listed.complaint}.")


def run_down_sql(*, url: str, plan: DatabasePlan, commit: bool, timeout_s: float) -> DownRun:
    """The plan's down SQL and the migration rows' removal in one transaction, checked, then
    COMMIT (``commit``) or ROLLBACK (a dry run). DatabaseError names the statement that failed."""
    parts = _table(plan)
    try:
        conn = _connect(url, timeout_s)
    except psycopg.Error as error:
        raise DatabaseError(
            f"The database cannot be reached ({_first_line(error, url)}). {_UNCHANGED}"
        ) from None
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('lock_timeout', %s, true)",
                (f"{int(timeout_s * 1000)}ms", f"{max(1000, int(timeout_s * 500))}ms"),
            )
            # The table is locked first, so nothing applies a migration while the check runs.
            cursor.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(Identifier(*parts)))
            now = _hashes(cursor, parts)
            if now == plan.remaining:
                conn.rollback()
                return DownRun(committed=commit, already_done=True, statements=0, rows_removed=0)
            if now != plan.applied_before:
                raise DatabaseError(
                    "The migrations table changed since the plan was made (it lists "
                    f"{len(now)} migrations, the plan saw {len(plan.applied_before)}). "
                    f"{_UNCHANGED} Ask again for a fresh plan."
                )
            statements = _run_scripts(cursor, plan, url)
            cursor.execute(
                SQL("DELETE FROM {} WHERE hash = ANY(%s)").format(Identifier(*parts)),
                (list(plan.removed),),
            )
            removed = cursor.rowcount
            after = _hashes(cursor, parts)
            if after != plan.remaining:
                raise DatabaseError(
                    f"After the down SQL the migrations table lists {len(after)} migrations, "
                    f"not the target's {len(plan.remaining)}. Rolled back: {_UNCHANGED}"
                )
        if commit:
            conn.commit()
        else:
            conn.rollback()
        return DownRun(commit, False, statements, max(0, removed))
    except psycopg.Error as error:
        raise DatabaseError(
            f"The down SQL could not run ({_first_line(error, url)}). {_UNCHANGED}"
        ) from None
    finally:
        conn.close()


def _run_scripts(cursor: psycopg.Cursor[TupleRow], plan: DatabasePlan, url: str) -> int:
    count = 0
    for script in plan.scripts:
        for statement in split_statements(script.sql):
            if is_transaction_wrapper(statement):
                continue  # the file's own BEGIN/COMMIT: it runs inside ours
            try:
                cursor.execute(statement.text.encode())
            except psycopg.Error as error:
                raise DatabaseError(
                    f"Statement {statement.number} of {script.path} failed "
                    f"(`{statement.first_line}`): {_first_line(error, url)}. "
                    f"The transaction was rolled back: {_UNCHANGED}"
                ) from None
            if cursor.connection.info.transaction_status is not TransactionStatus.INTRANS:
                # A statement that ended the transaction (the reader missed it): stop before
                # anything else runs outside the one checked transaction.
                raise DatabaseError(
                    f"Statement {statement.number} of {script.path} (`{statement.first_line}`) "
                    "ended the step's transaction; nothing more was run. Look at the database."
                )
            count += 1
    return count


def read_migration_hashes(*, url: str, plan: DatabasePlan, timeout_s: float) -> tuple[str, ...]:
    """The hashes the migrations table lists now, sorted (the command's before and after)."""
    parts = _table(plan)
    try:
        with _connect(url, timeout_s) as conn, conn.cursor() as cursor:
            return _hashes(cursor, parts)
    except psycopg.Error as error:
        raise DatabaseError(
            f"The migrations table cannot be read ({_first_line(error, url)})."
        ) from None


def run_rollback_command(
    *, url: str, path: str, plan: DatabasePlan, cwd: Path, timeout_s: float
) -> ToolRun:
    """The configured rollback command, once; DatabaseError when it fails."""
    if not plan.command:
        raise DatabaseError("This plan has no rollback command.")
    done = run_tool(
        plan.command,
        url=url,
        path=path,
        timeout_s=timeout_s,
        cwd=cwd,
        extra_env={"DATABASE_URL": url},
    )
    if done.status != 0:
        raise DatabaseError(
            f"The rollback command failed ({done.complaint}). It is not transactional: "
            "check the migrations table before going on."
        )
    return done


def restore_database(*, url: str, path: str, backup: Path, timeout_s: float) -> ToolRun:
    """``pg_restore --clean`` of a backup into the database, in one transaction."""
    pg_restore = require_tool("pg_restore", path=path)
    if not backup.is_file():
        raise DatabaseError(f"The backup {backup} is not there any more. Nothing was restored.")
    done = run_tool(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            "--no-owner",
            f"--dbname={_dbname(url)}",
            str(backup),
        ],
        url=url,
        path=path,
        timeout_s=timeout_s,
    )
    if done.status != 0:
        raise DatabaseError(f"pg_restore failed ({done.complaint}); the database is unchanged.")
    return done


def _dbname(url: str) -> str:
    """The database the URL really names, as libpq resolves it (a URL without a dbname means
    the user's), asked of the server: pg_restore --clean must not go anywhere else."""
    try:
        with _connect(url, 10.0) as conn:
            return str(conn.info.dbname)
    except psycopg.Error as error:
        raise DatabaseError(
            f"The database cannot be reached ({_first_line(error, url)}); nothing was restored."
        ) from None


def _table(plan: DatabasePlan) -> tuple[str, ...]:
    parts = parse_table_name(plan.table)
    if parts is None:
        raise DatabaseError(f"The migrations table name {plan.table!r} is not [schema.]table.")
    return parts


def _hashes(cursor: psycopg.Cursor[TupleRow], parts: tuple[str, ...]) -> tuple[str, ...]:
    cursor.execute(SQL("SELECT hash FROM {} ORDER BY hash").format(Identifier(*parts)))
    return tuple(str(row[0]) for row in cursor.fetchall())


def _connect(url: str, timeout_s: float) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(
        url,
        connect_timeout=max(2, math.ceil(timeout_s)),
        fallback_application_name="rollback-bot",
    )


def _first_line(error: psycopg.Error, url: str) -> str:
    if isinstance(error, errors.LockNotAvailable):
        return "another session holds the migrations table"
    lines = str(error).strip().splitlines()
    text = " ".join((lines[0] if lines else type(error).__name__).split())
    return redact(text, secrets=url_secrets(url))[:300]
