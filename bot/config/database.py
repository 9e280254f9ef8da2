"""``[database]``: where the database is named (never the URL itself) and how its step is done."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from actions.errors import ConfigError
from bot.config.model import DatabaseConfig
from bot.config.section import Section, seconds

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_RE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")


def parse_database(top: Section, *, store_dir: Path) -> DatabaseConfig:
    if not top.has("database"):
        return DatabaseConfig(url_env=None, backup_dir=store_dir / "backups")
    section = top.table("database")
    url_env = section.optional_text("url_env", "the name of an environment variable")
    if url_env is not None and not ENV_NAME_RE.match(url_env):
        raise ConfigError(
            f"{section.key('url_env')}: expected an environment variable name such as "
            "DATABASE_URL (the URL itself never goes in this file)"
        )
    table = section.optional_text("migrations_table") or "drizzle.__drizzle_migrations"
    if not _TABLE_RE.match(table):
        raise ConfigError(
            f"{section.key('migrations_table')}: expected [schema.]table such as "
            f"drizzle.__drizzle_migrations, got {table!r}"
        )
    config = DatabaseConfig(
        url_env=url_env,
        probe_sql=section.optional_text("probe_sql", "an SQL query") or "SELECT 1",
        migrations_table=table,
        migrations_dir=_inside_repo(section, "migrations_dir", "migrations"),
        slow_query_ms=section.number("slow_query_ms", 100.0, "milliseconds"),
        timeout_s=seconds(section, "timeout_s", 5.0),
        rollback_dir=_inside_repo(section, "rollback_dir", "migrations/rollback"),
        rollback_command=_rollback_command(section),
        backup_dir=_backup_dir(section, store_dir),
    )
    section.finish()
    return config


def _inside_repo(section: Section, key: str, default: str) -> str:
    directory = section.optional_text(key, "a folder inside git.path") or default
    if directory.startswith("/") or ".." in Path(directory).parts:
        raise ConfigError(f"{section.key(key)}: must be a folder inside git.path")
    return directory


def _rollback_command(section: Section) -> str | None:
    command = section.optional_text("rollback_command", "a command with {migration} in it")
    if command is None:
        return None
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ConfigError(f"{section.key('rollback_command')}: cannot be split: {error}") from None
    # The migration's name is filled into one word of the command, never pasted into a shell
    # line, so a name from the database cannot become a second command.
    if not any("{migration}" in word for word in words):
        raise ConfigError(
            f"{section.key('rollback_command')}: expected {{migration}} where the migration "
            "to roll back goes, e.g. npm run db:rollback -- --to={migration}"
        )
    return command


def _backup_dir(section: Section, store_dir: Path) -> Path:
    raw = section.optional_text("backup_dir", "a folder, relative to the store's folder")
    return (store_dir / (raw or "backups")).resolve()
