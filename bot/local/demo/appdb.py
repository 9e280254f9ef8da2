"""The demo app's database, migrated the way drizzle's migrator does it, with data in it.

Every up migration in the repository's working tree runs in file order, and each one's sha256
goes into ``drizzle.__drizzle_migrations`` with an increasing ``created_at`` (epoch ms), so the
bot sees exactly what a drizzle-managed database looks like. Then rows go into every table, so
a rollback that drops a column drops real values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

from actions.database_plan import is_migration_file
from bot.local.demo.postgres import PgServer

MIGRATIONS_TABLE = "drizzle.__drizzle_migrations"


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
            "INSERT INTO deals (title, amount) "
            "SELECT 'deal ' || n, n * 100 FROM generate_series(1, 4) n"
        )
    return url
