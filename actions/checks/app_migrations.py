"""Scenario 5, step 1: which migrations the database has applied, and which of the phase's are.

drizzle's migrator records each applied migration in ``drizzle.__drizzle_migrations`` as the
sha256 (hex) of the migration's SQL text, with ``created_at`` in epoch milliseconds. So the
phase's ``*.sql`` files in the repo are hashed here and looked up by hash: a file is applied
exactly when its hash is in the table, whatever its name.

The table name comes from config. It is accepted only as ``[schema.]table`` identifiers and
quoted with :class:`psycopg.sql.Identifier`; anything else is refused before any connection.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from psycopg import errors
from psycopg.sql import SQL, Identifier

from actions.checks.database import Cursor, DatabaseFailure, run_read_only
from actions.checks.result import CheckResult
from actions.errors import InputError

DEFAULT_TABLE = "drizzle.__drizzle_migrations"
# Unquoted-identifier shape, ASCII only; PostgreSQL silently truncates names past 63 bytes,
# which could point the query at a different table, so longer ones are refused.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# Hand-written down scripts (the procedure's migrations/rollback/phase2-rollback.sql) are never
# applied by the migrator; counting them would report them as pending forever.
_NOT_MIGRATIONS = frozenset({"rollback"})


@dataclass(frozen=True)
class AppliedMigration:
    id: int
    hash: str
    created_at: datetime | None  # drizzle stores epoch milliseconds (bigint)


class AppliedMigrations(NamedTuple):
    """read_applied_migrations' answer; unpacks as ``ok, reason, migrations``."""

    ok: bool  # the lookup worked
    reason: str
    migrations: tuple[AppliedMigration, ...]  # newest first


@dataclass(frozen=True)
class MigrationFile:
    path: str  # relative to the repo, forward slashes
    sha256: str  # of the file's bytes: drizzle's migrator stores this as `hash`


@dataclass(frozen=True)
class MigrationReport:
    ok: bool  # the lookup worked
    reason: str
    applied: tuple[AppliedMigration, ...]  # newest first
    files: tuple[MigrationFile, ...]  # the phase's migration files in the repo
    phase_applied: tuple[str, ...]  # phase file paths whose hash is applied
    phase_pending: tuple[str, ...]  # phase file paths not applied
    duration_s: float = 0.0


def parse_table_name(name: str) -> tuple[str, ...] | None:
    """``("schema", "table")`` or ``("table",)``, or None when ``name`` is not that shape."""
    parts = tuple(name.split("."))
    if len(parts) > 2 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        return None
    return parts


def table_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be used as the migrations table, or None when it can."""
    if parse_table_name(name) is not None:
        return None
    shown = name if len(name) <= 80 else name[:79] + "…"
    return (
        f"refused migrations table name {shown!r}: expected [schema.]table made of letters,"
        " digits and underscores"
    )


def read_applied_migrations(
    *, url: str, table: str = DEFAULT_TABLE, limit: int = 50, timeout_s: float
) -> AppliedMigrations:
    """The newest ``limit`` rows of the migrations table (the procedure's ``SELECT *``)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parts = parse_table_name(table)
    if parts is None:
        return AppliedMigrations(False, table_name_problem(table) or "", ())
    outcome = run_read_only(
        url=url, timeout_s=timeout_s, work=lambda cursor: _applied(cursor, parts, limit)
    )
    if isinstance(outcome, DatabaseFailure):
        return AppliedMigrations(False, _table_reason(outcome, table), ())
    return AppliedMigrations(True, "", outcome)


def list_migration_files(
    *, repo: Path, directory: str = "migrations", phase: str
) -> tuple[MigrationFile, ...]:
    """The phase's ``*.sql`` files under ``repo/directory``, sorted by path.

    A file belongs to the phase when its path below ``directory`` contains the phase name (the
    procedure's ``ls -la migrations/ | grep phase2``). Files under a ``rollback`` directory are
    down scripts, not migrations, and are left out. A missing directory has no files. Raises
    InputError when ``phase`` is empty or ``directory`` leads outside the repo.
    """
    if not phase:
        raise InputError("the phase name is empty, so every migration would match")
    root = repo.resolve()
    if Path(directory).is_absolute():
        raise InputError(f"the migrations directory {directory!r} must be relative to the repo")
    base = (root / directory).resolve()
    if not base.is_relative_to(root):
        raise InputError(f"the migrations directory {directory!r} leads outside the repo")
    if not base.is_dir():
        return ()
    found = []
    # os.walk does not follow directory symlinks, so the walk stays below base.
    for current, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d.lower() not in _NOT_MIGRATIONS)
        for name in names:
            path = Path(current) / name
            relative = path.relative_to(base).as_posix()
            if not name.endswith(".sql") or phase not in relative:
                continue
            if not path.resolve().is_relative_to(root):
                continue  # a file symlink pointing out of the repo is not the repo's migration
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found.append(MigrationFile(path.relative_to(root).as_posix(), digest))
    return tuple(sorted(found, key=lambda file: file.path))


def compare_migrations(
    *, url: str, repo: Path, directory: str, phase: str, table: str, timeout_s: float
) -> MigrationReport:
    """Applied migrations beside the phase's files: which of the phase's are applied, pending.

    The files are listed even when the database cannot be read, so the card can still show them.
    """
    started = time.monotonic()

    def report(ok: bool, reason: str, files: tuple[MigrationFile, ...] = ()) -> MigrationReport:
        return MigrationReport(ok, reason, (), files, (), (), time.monotonic() - started)

    parts = parse_table_name(table)
    if parts is None:
        return report(False, table_name_problem(table) or "")
    try:
        files = list_migration_files(repo=repo, directory=directory, phase=phase)
    except InputError as error:
        return report(False, error.user_message)
    except OSError as error:
        return report(False, f"could not read the migration files: {error.strerror or error}")

    def work(cursor: Cursor) -> tuple[tuple[AppliedMigration, ...], set[str]]:
        applied = _applied(cursor, parts, 50)
        # Asked by hash rather than taken from the newest 50, so an old migration still counts.
        query = SQL("SELECT DISTINCT hash FROM {} WHERE hash = ANY(%s)").format(Identifier(*parts))
        cursor.execute(query, ([file.sha256 for file in files],))
        return applied, {str(row[0]) for row in cursor.fetchall()}

    outcome = run_read_only(url=url, timeout_s=timeout_s, work=work)
    if isinstance(outcome, DatabaseFailure):
        return report(False, _table_reason(outcome, table), files)
    applied, present = outcome
    return MigrationReport(
        ok=True,
        reason="",
        applied=applied,
        files=files,
        phase_applied=tuple(file.path for file in files if file.sha256 in present),
        phase_pending=tuple(file.path for file in files if file.sha256 not in present),
        duration_s=time.monotonic() - started,
    )


def migrations_check(report: MigrationReport) -> CheckResult:
    """ok iff the lookup worked; details name the newest migration and the phase's files."""
    details: list[str] = []
    if report.applied:
        newest = report.applied[0]
        when = newest.created_at.strftime("%Y-%m-%d %H:%M UTC") if newest.created_at else "?"
        details.append(f"newest applied: #{newest.id} {newest.hash[:12]} at {when}")
    details += [f"applied: {path}" for path in report.phase_applied]
    details += [f"pending: {path}" for path in report.phase_pending]
    if not report.files:
        details.append("no phase migration files in the repo")
    return CheckResult(
        name="migrations",
        kind="migrations",
        ok=report.ok,
        reason=report.reason,
        duration_s=report.duration_s,
        details=tuple(details),
    )


def _applied(cursor: Cursor, parts: tuple[str, ...], limit: int) -> tuple[AppliedMigration, ...]:
    query = SQL(
        "SELECT id, hash, created_at FROM {} ORDER BY created_at DESC NULLS LAST, id DESC LIMIT %s"
    ).format(Identifier(*parts))
    cursor.execute(query, (limit,))
    return tuple(
        AppliedMigration(id=int(row_id), hash=str(digest), created_at=_from_epoch_ms(created))
        for row_id, digest, created in cursor.fetchall()
    )


def _from_epoch_ms(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, int | float | Decimal | str):
        return None
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None  # not a timestamp we can show; the row itself still counts


def _table_reason(failure: DatabaseFailure, table: str) -> str:
    if failure.sqlstate == errors.UndefinedTable.sqlstate:
        return f"no table {table} (no migrations applied yet?)"
    if failure.sqlstate == errors.UndefinedColumn.sqlstate:
        return f"{table} has no id, hash and created_at columns: is it drizzle's migrations table?"
    return failure.reason
