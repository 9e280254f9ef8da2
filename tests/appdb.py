"""The demo app's database on the test PostgreSQL, migrated the way drizzle's migrator does it.

Every up migration in the repository's working tree runs in file order, and each one's sha256
goes into ``drizzle.__drizzle_migrations`` with an increasing ``created_at`` (epoch ms), so the
bot sees exactly what a drizzle-managed database looks like. Then rows go into every table, so
a rollback that drops a column drops real values, and checksums show what else was touched.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from psycopg import sql

from actions.database_plan import is_migration_file
from tests.pgserver import PgServer

MIGRATIONS_TABLE = "drizzle.__drizzle_migrations"
UNTOUCHED = ("customers", "email_messages", "modules")


def migrated_database(server: PgServer, repo: Path) -> str:
    """A new database with every migration of ``repo``'s working tree applied, and data."""
    url = server.create_database()
    files = sorted(
        path
        for path in (repo / "migrations").rglob("*.sql")
        if is_migration_file(path.relative_to(repo).as_posix())
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations "
            "(id serial PRIMARY KEY, hash text NOT NULL, created_at bigint)"
        )
        for number, path in enumerate(files, start=1):
            data = path.read_bytes()
            conn.execute(data)
            conn.execute(
                "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (%s, %s)",
                (hashlib.sha256(data).hexdigest(), 1_700_000_000_000 + number * 60_000),
            )
        conn.execute(
            "INSERT INTO customers (name) SELECT 'customer ' || n FROM generate_series(1, 30) n"
        )
        conn.execute("INSERT INTO modules (name) VALUES ('customers'), ('deals'), ('email')")
        conn.execute(
            "INSERT INTO email_messages (subject, body) "
            "SELECT 'subject ' || n, 'body ' || n FROM generate_series(1, 12) n"
        )
        conn.execute(
            "INSERT INTO deals (title, amount) SELECT 'deal ' || n, n * 100 FROM generate_series(1, 4) n"
        )
    return url


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
