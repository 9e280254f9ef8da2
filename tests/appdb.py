"""The demo app's database on the test PostgreSQL (bot/local/demo/appdb.py builds it), and
what the tests read back from it: the migrations table, columns, and row checksums that show
which tables a rollback touched.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from psycopg import sql

from bot.local.demo.appdb import MIGRATIONS_TABLE, migrated_database

__all__ = ["MIGRATIONS_TABLE", "migrated_database"]

UNTOUCHED = ("customers", "email_messages", "modules")


def migration_hashes(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()
    return [str(row[0]) for row in rows]


def columns_of(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [str(row[0]) for row in rows]


def table_checksums(url: str, tables: tuple[str, ...] = UNTOUCHED) -> dict[str, str]:
    """An md5 of each table's rows in order: equal before and after means untouched."""
    sums = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            query = sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t")
            row = conn.execute(query.format(sql.Identifier(table))).fetchone()
            sums[table] = str(row[0] if row else None)
    return sums


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
