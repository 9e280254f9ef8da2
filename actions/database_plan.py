"""Scenario 5's plan: which migrations a rollback takes back, with what SQL, at what cost.

Computed from the database's real state, the way Atlas's ``migrate down`` does it: the
migration files the code rollback removes (in the repository at HEAD, not at the target) are
hashed as drizzle hashes them, and those whose hash the migrations table holds are the ones
applied after the target, newest first. Each gets its down SQL from the repository at HEAD
(``<rollback_dir>/<migration>.down.sql``, else the procedure's one ``<phase>-rollback.sql``),
or the configured ``rollback_command`` runs once with ``{migration}`` set to the newest
migration that stays. Every table and column the down SQL drops is counted now, so the card
can say what would be lost unless it is in the backup.

The plan holds the SQL text itself: what runs is exactly what was shown and approved, even
after the reset has taken the down files out of the working copy.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

import git
from psycopg import errors
from psycopg.sql import SQL, Composable, Identifier

from actions.checks.app_migrations import parse_table_name
from actions.checks.database import Cursor, DatabaseFailure, run_read_only
from actions.errors import DatabaseError, InputError
from actions.gitrun import Deadline, git_ok
from actions.sql_text import Dropped, dropped_by, split_statements, transaction_control

#: A migration's name goes into a command's argument and into messages: plain names only.
_MIGRATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MAX_SQL_BYTES = 1_000_000
_NOT_MIGRATIONS = frozenset({"rollback"})


@dataclass(frozen=True)
class DownMigration:
    name: str  # the file's name without .sql: phase2_0002_add_deal_stage
    path: str  # the migration file, relative to the repository
    hash: str  # sha256 of its text at HEAD, as drizzle's migrator records it


@dataclass(frozen=True)
class DownScript:
    path: str  # relative to the repository, as read at HEAD
    sql: str
    covers: tuple[str, ...]  # the migrations it takes back


@dataclass(frozen=True)
class DataAtRisk:
    what: str  # "table deals" or "column deals.stage"
    count: int | None  # rows (table) or non-null values (column) now; None: not there now


@dataclass(frozen=True)
class DatabasePlan:
    table: str  # the migrations table, [schema.]table
    migrations: tuple[DownMigration, ...]  # applied after the target, newest first
    scripts: tuple[DownScript, ...]  # in the order they run; empty with a command
    command: tuple[str, ...]  # rollback_command's argv, {migration} filled in; () with SQL
    applied_before: tuple[str, ...]  # every hash in the table when planned, sorted
    at_risk: tuple[DataAtRisk, ...]
    #: Why the step cannot be done here (no URL, no pg_dump, the database unreachable); the
    #: rollback then needs the orchestrator's waiver, as a code-only rollback does.
    unavailable: str = ""

    @property
    def needed(self) -> bool:
        """The step has work: migrations applied after the target, and the means to undo them."""
        return bool(self.migrations) and not self.unavailable

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(sorted(migration.hash for migration in self.migrations))

    @property
    def remaining(self) -> tuple[str, ...]:
        """The hashes the table must list afterwards: exactly the target's migrations."""
        gone = set(self.removed)
        return tuple(digest for digest in self.applied_before if digest not in gone)


def is_migration_file(path: str) -> bool:
    """A migration's up SQL: ``*.sql``, not a ``.down.sql`` and not in a ``rollback`` folder
    (drizzle's ``meta/*.json`` and the hand-written down scripts are not migrations)."""
    pure = PurePosixPath(path)
    if pure.suffix != ".sql" or pure.name.endswith(".down.sql"):
        return False
    return not any(part.lower() in _NOT_MIGRATIONS for part in pure.parts[:-1])


def database_unavailable(table: str, reason: str) -> DatabasePlan:
    return DatabasePlan(table, (), (), (), (), (), unavailable=reason)


def plan_database_step(
    *,
    repo: git.Repo,
    head_sha: str,
    target_sha: str,
    url: str,
    table: str,
    migrations_dir: str,
    rollback_dir: str,
    phase: str,
    rollback_command: str | None,
    timeout_s: float,
) -> DatabasePlan:
    """The database part of rolling ``head_sha`` back to ``target_sha``. InputError when a
    down script is missing (named), DatabaseError when the database cannot be read."""
    parts = parse_table_name(table)
    if parts is None:
        raise InputError(f"The migrations table name {table!r} is not [schema.]table.")
    deadline = Deadline(timeout_s)
    at_head = _migration_files(repo, head_sha, migrations_dir, rollback_dir, deadline)
    at_target = _migration_files(repo, target_sha, migrations_dir, rollback_dir, deadline)
    added = {path: digest for path, digest in at_head.items() if path not in at_target}
    applied = _read_applied(url, parts, deadline)
    crossed = sorted(
        (path for path, digest in added.items() if digest in applied),
        key=lambda path: (applied[added[path]], path),
        reverse=True,
    )
    migrations = tuple(DownMigration(_name_of(path), path, added[path]) for path in crossed)
    before = tuple(sorted(applied))
    if not migrations:
        return DatabasePlan(table, (), (), (), before, ())
    if rollback_command:
        kept = sorted(
            (path for path, digest in at_target.items() if digest in applied),
            key=lambda path: (applied[at_target[path]], path),
        )
        command = _command(rollback_command, kept)
        return DatabasePlan(table, migrations, (), command, before, ())
    scripts = _down_scripts(repo, head_sha, migrations, rollback_dir, phase)
    at_risk = _count_at_risk(url, scripts, deadline)
    return DatabasePlan(table, migrations, scripts, (), before, at_risk)


def _migration_files(
    repo: git.Repo, sha: str, directory: str, rollback_dir: str, deadline: Deadline
) -> dict[str, str]:
    """path -> sha256 of every migration file under ``directory`` at commit ``sha``."""
    listed = git_ok(
        repo,
        ["ls-tree", "-r", "-z", "--name-only", "--end-of-options", sha, "--", directory],
        deadline.left("listing the migration files"),
    )
    down_root = PurePosixPath(rollback_dir)
    found = {}
    for path in filter(None, listed.split("\0")):
        if not is_migration_file(path) or PurePosixPath(path).is_relative_to(down_root):
            continue
        found[path] = hashlib.sha256(_blob(repo, sha, path)).hexdigest()
    return found


def _blob(repo: git.Repo, sha: str, path: str) -> bytes:
    try:
        blob = repo.commit(sha).tree / path
    except (KeyError, ValueError):
        raise DatabaseError(f"{path} is not in commit {sha[:12]}.") from None
    if blob.size > _MAX_SQL_BYTES:
        raise InputError(f"{path} is over {_MAX_SQL_BYTES // 1000} kB; read it by hand.")
    data: bytes = blob.data_stream.read()
    return data


def _has_blob(repo: git.Repo, sha: str, path: str) -> bool:
    try:
        repo.commit(sha).tree / path
    except KeyError:
        return False
    return True


def _read_applied(url: str, parts: tuple[str, ...], deadline: Deadline) -> dict[str, float]:
    """hash -> when it was applied (epoch ms, 0 when unknown); empty without a table."""

    def work(cursor: Cursor) -> dict[str, float]:
        query = SQL("SELECT hash, created_at FROM {}").format(Identifier(*parts))
        cursor.execute(query)
        return {str(digest): float(created or 0) for digest, created in cursor.fetchall()}

    outcome = run_read_only(url=url, timeout_s=deadline.left("reading the migrations"), work=work)
    if isinstance(outcome, DatabaseFailure):
        if outcome.sqlstate == errors.UndefinedTable.sqlstate:
            return {}  # no migrations table: the database has nothing applied to take back
        raise DatabaseError(
            f"The database cannot be read ({outcome.reason}), so its step cannot be planned."
        )
    return outcome


def _name_of(path: str) -> str:
    name = PurePosixPath(path).name.removesuffix(".sql")
    if not _MIGRATION_NAME.match(name):
        raise InputError(f"The migration file {path} has a name I will not put in a command.")
    return name


def _command(template: str, kept: list[str]) -> tuple[str, ...]:
    if not kept:
        raise InputError(
            "database.rollback_command rolls back *to* a migration, and none of the target's "
            "migrations is applied, so there is none to name. Roll the database back by hand."
        )
    # Split first, then fill one word: the name can never become a second shell word.
    to = _name_of(kept[-1])
    return tuple(word.replace("{migration}", to) for word in shlex.split(template))


def _down_scripts(
    repo: git.Repo,
    head_sha: str,
    migrations: tuple[DownMigration, ...],
    rollback_dir: str,
    phase: str,
) -> tuple[DownScript, ...]:
    own = {m.name: f"{rollback_dir}/{m.name}.down.sql" for m in migrations}
    missing = [path for path in own.values() if not _has_blob(repo, head_sha, path)]
    if not missing:
        return tuple(
            DownScript(own[m.name], _text(repo, head_sha, own[m.name]), (m.name,))
            for m in migrations
        )
    combined = f"{rollback_dir}/{phase}-rollback.sql"
    if _has_blob(repo, head_sha, combined):
        names = tuple(m.name for m in migrations)
        return (DownScript(combined, _text(repo, head_sha, combined), names),)
    shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
    raise InputError(
        f"No down SQL for {len(missing)} applied migration(s): {shown} is missing (nor is there "
        f"a {combined} for them all). Nothing was changed. Add the file, or set "
        "database.rollback_command, and ask again."
    )


def _text(repo: git.Repo, sha: str, path: str) -> str:
    try:
        text = _blob(repo, sha, path).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text.") from None
    for statement in split_statements(text):
        if transaction_control(statement):
            raise InputError(
                f"Statement {statement.number} of {path} (`{statement.first_line}`) steers the "
                "transaction itself, so the down SQL cannot run in one checked transaction. "
                "Nothing was changed. Take it out (a plain BEGIN/COMMIT around the file is fine)."
            )
    return text


def _count_at_risk(
    url: str, scripts: tuple[DownScript, ...], deadline: Deadline
) -> tuple[DataAtRisk, ...]:
    dropped: list[Dropped] = []
    for script in scripts:
        for statement in split_statements(script.sql):
            dropped += [item for item in dropped_by(statement) if item not in dropped]
    if not dropped:
        return ()

    def work(cursor: Cursor) -> tuple[DataAtRisk, ...]:
        return tuple(DataAtRisk(item.label, _count(cursor, item)) for item in dropped)

    outcome = run_read_only(url=url, timeout_s=deadline.left("counting the data"), work=work)
    if isinstance(outcome, DatabaseFailure):
        raise DatabaseError(f"The data the down SQL drops cannot be counted ({outcome.reason}).")
    return outcome


def _count(cursor: Cursor, item: Dropped) -> int | None:
    counted: Composable = SQL("*") if item.column is None else Identifier(item.column)
    query = SQL("SELECT count({}) FROM {}").format(counted, Identifier(*item.table))
    try:
        # A savepoint, so a table or column that is not there does not end the session.
        with cursor.connection.transaction():
            cursor.execute(query)
            row = cursor.fetchone()
    except (errors.UndefinedTable, errors.UndefinedColumn, errors.InvalidSchemaName):
        return None
    return int(row[0]) if row is not None else None
