"""actions.checks.database: the probe and slow queries against a real PostgreSQL 15 (tests/pgserver.py)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from actions.checks.database import (
    NOT_INSTALLED,
    SlowQueries,
    SlowQuery,
    find_slow_queries,
    probe_database,
    slow_queries_check,
)
from tests.pgserver import PgServer, database_of, free_port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word (a hung server)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # never accept(): the kernel completes the handshake, nobody answers
    yield int(listener.getsockname()[1])
    listener.close()


# --- probe_database ---------------------------------------------------------------------------


def test_probe_database_live_server_is_ok(pg_server: PgServer) -> None:
    result = probe_database(url=pg_server.admin_url, timeout_s=5)
    assert (result.ok, result.reason) == (True, "")
    assert (result.kind, result.name) == ("database", "database queries")


def test_probe_database_bad_sql_fails_with_reason(pg_server: PgServer) -> None:
    result = probe_database(url=pg_server.admin_url, sql="SELEC 1", timeout_s=5)
    assert not result.ok
    assert result.reason.startswith("query failed: syntax error")


def test_probe_database_write_refused_even_after_smuggled_commit(pg_server: PgServer) -> None:
    url = pg_server.create_database()
    sneaky = "SELECT 1; COMMIT; CREATE TABLE sneaky (id int)"
    result = probe_database(url=url, sql=sneaky, timeout_s=5)
    assert not result.ok
    assert "read-only" in result.reason
    tables = pg_server.execute("SELECT to_regclass('sneaky')", database=database_of(url))
    assert tables == [(None,)]


def test_probe_database_free_port_is_connection_refused() -> None:
    result = probe_database(url=f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout_s=5)
    assert (result.ok, result.reason) == (False, "connection refused")


def test_probe_database_wrong_password_keeps_secrets_out(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    pg_server.create_role("app_wrong", password="right-horse-battery")
    url = pg_server.url(user="app_wrong", password="Tr0ub4dor-wrong")
    caplog.set_level(logging.DEBUG)
    result = probe_database(url=url, timeout_s=5)
    assert (result.ok, result.reason) == (False, "password authentication failed")
    shown = " ".join((result.reason, *result.details, caplog.text))
    assert "Tr0ub4dor-wrong" not in shown
    assert url not in shown
    assert caplog.records  # the failure was logged, so the check above looked at something


def test_probe_database_right_password_over_tcp_is_ok(pg_server: PgServer) -> None:
    pg_server.create_role("app_right", password="p@ss:w/rd%")  # needs URL quoting
    result = probe_database(url=pg_server.url(user="app_right", password="p@ss:w/rd%"), timeout_s=5)
    assert (result.ok, result.reason) == (True, "")


def test_probe_database_missing_database_named_plainly(pg_server: PgServer) -> None:
    result = probe_database(url=pg_server.url("no_such_db"), timeout_s=5)
    assert (result.ok, result.reason) == (False, "database does not exist")


def test_probe_database_sleeping_statement_times_out_near_timeout_s(pg_server: PgServer) -> None:
    started = time.monotonic()
    result = probe_database(url=pg_server.admin_url, sql="SELECT pg_sleep(30)", timeout_s=1)
    elapsed = time.monotonic() - started
    assert (result.ok, result.reason) == (False, "statement timed out after 1 s")
    assert 0.8 <= elapsed < 3


def test_probe_database_silent_server_times_out_connecting(silent_server: int) -> None:
    started = time.monotonic()
    result = probe_database(url=f"postgresql://postgres@127.0.0.1:{silent_server}/x", timeout_s=1)
    # libpq's minimum connect_timeout is 2 s, whatever smaller value is asked for.
    assert (result.ok, result.reason) == (False, "connection timed out after 2 s")
    assert time.monotonic() - started < 5


def test_probe_database_empty_url_refused_without_connecting() -> None:
    result = probe_database(url="  ", timeout_s=5)
    assert (result.ok, result.reason) == (False, "no database URL configured")


# --- slow queries -----------------------------------------------------------------------------


def test_find_slow_queries_reports_slow_not_fast(pg_server: PgServer) -> None:
    url = pg_server.create_database(extensions=["pg_stat_statements"])
    name = database_of(url)
    for _ in range(3):
        pg_server.execute("SELECT pg_sleep(0.15)", database=name)
    for _ in range(30):
        pg_server.execute("SELECT count(*) FROM generate_series(1, 10)", database=name)
    result = find_slow_queries(url=url, timeout_s=5)
    assert (result.ok, result.extension_installed, result.reason) == (True, True, "")
    slow = [query for query in result.queries if "pg_sleep" in query.query]
    assert len(slow) == 1
    assert slow[0].calls == 3
    assert slow[0].mean_ms >= 140
    assert slow[0].total_ms >= 3 * 140
    assert not any("generate_series" in query.query for query in result.queries)


def test_find_slow_queries_ignores_other_databases(pg_server: PgServer) -> None:
    busy = pg_server.create_database(extensions=["pg_stat_statements"])
    quiet = pg_server.create_database(extensions=["pg_stat_statements"])
    pg_server.execute("SELECT pg_sleep(0.12) AS other_db_marker", database=database_of(busy))
    result = find_slow_queries(url=quiet, timeout_s=5)
    assert result.ok
    assert not any("other_db_marker" in query.query for query in result.queries)
    assert any(
        "other_db_marker" in q.query for q in find_slow_queries(url=busy, timeout_s=5).queries
    )


def test_find_slow_queries_without_extension_says_how_to_install(pg_server: PgServer) -> None:
    result = find_slow_queries(url=pg_server.create_database(), timeout_s=5)
    assert (result.ok, result.extension_installed, result.queries) == (False, False, ())
    assert result.reason == NOT_INSTALLED
    assert "CREATE EXTENSION pg_stat_statements" in result.reason


def test_find_slow_queries_unreachable_is_data_not_exception() -> None:
    result = find_slow_queries(url=f"postgresql://u@127.0.0.1:{free_port()}/x", timeout_s=5)
    assert (result.ok, result.reason) == (False, "connection refused")


def test_slow_queries_check_lists_queries_above_threshold() -> None:
    queries = (
        SlowQuery("SELECT * FROM deals WHERE stage = $1", 14, 312.4, 4373.6),
        SlowQuery("SELECT 1", 100, 100.0, 10_000.0),
    )
    check = slow_queries_check(SlowQueries(True, "", True, queries), min_mean_ms=100)
    assert (check.ok, check.kind, check.name) == (False, "slow_queries", "slow queries")
    assert check.reason == "1 query above 100 ms mean"
    assert check.details == ("312 ms mean x 14 calls: SELECT * FROM deals WHERE stage = $1",)


@pytest.mark.parametrize(
    ("lookup", "ok", "reason"),
    [
        (SlowQueries(False, NOT_INSTALLED, False, ()), False, NOT_INSTALLED),
        (SlowQueries(True, "", True, ()), True, ""),
    ],
)
def test_slow_queries_check_ok_only_when_lookup_worked_and_none_slow(
    lookup: SlowQueries, ok: bool, reason: str
) -> None:
    check = slow_queries_check(lookup, min_mean_ms=100)
    assert (check.ok, check.reason, check.details) == (ok, reason, ())
