"""The tests' PostgreSQL: the demo's throwaway server (bot/local/demo/postgres.py) as a fixture.

Use the session-scoped ``pg_server`` fixture (import ``pg_server_fixture`` into the test module,
or into ``tests/conftest.py`` so every module shares one server). When the binaries are missing
it skips, or fails if ``ROLLBACK_BOT_REQUIRE_POSTGRES=1`` so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.local.demo.postgres import (
    PgServer,
    PostgresUnavailable,
    check_prerequisites,
    database_of,
    free_port,
    running_postgres,
)

__all__ = ["PgServer", "PostgresUnavailable", "database_of", "free_port", "running_postgres"]


@pytest.fixture(scope="session", name="pg_server")
def pg_server_fixture() -> Iterator[PgServer]:
    try:
        check_prerequisites()
    except PostgresUnavailable as reason:
        if os.environ.get("ROLLBACK_BOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {reason}")
        pytest.skip(f"no PostgreSQL 15 for the database tests: {reason}")
    with running_postgres() as server:
        yield server
