"""Read-only looks at the application's PostgreSQL: the SQL probe and pg_stat_statements.

Every call takes the database URL as an argument and is bounded in time three ways: libpq's
``connect_timeout``, a ``statement_timeout`` carved from the same budget, and TCP keepalives so a
peer that goes silent mid-query cannot hang the bot's thread forever. Everything runs in a
read-only transaction that is rolled back. A failure is data (``ok=False`` and a short reason),
never an exception.

The URL and its password are secrets. libpq's error texts can quote connection details, so any
text built from an error passes through :func:`actions.redact.redact` with both, and reasons are
short phrases chosen here ("connection refused") rather than libpq's paragraphs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg.sql import SQL, Identifier

from actions.checks.result import CheckResult
from actions.redact import redact

log = logging.getLogger(__name__)

T = TypeVar("T")
Cursor = psycopg.Cursor[TupleRow]

QUERY_TEXT_LIMIT = 300
NOT_INSTALLED = (
    "pg_stat_statements is not installed in this database: CREATE EXTENSION pg_stat_statements;"
    " it also needs shared_preload_libraries"
)
NOT_LOADED = (
    "pg_stat_statements is not loaded: add it to shared_preload_libraries and restart PostgreSQL"
)

# libpq's wording (lower-cased) -> the reason shown on the checklist. First match wins.
_CONNECT_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"password authentication failed", "password authentication failed"),
        (r"no password supplied|fe_sendauth", "the server wants a password and the URL has none"),
        (r"connection refused", "connection refused"),
        (r'database ".*" does not exist', "database does not exist"),
        (r'role ".*" does not exist', "role does not exist"),
        (r"no pg_hba\.conf entry", "the server refuses this client (pg_hba.conf)"),
        (r"could not translate host name|name or service not known", "unknown host"),
        (r"no such file or directory", "no server socket (is PostgreSQL running?)"),
        (r"starting up", "the server is starting up"),
        (r"shutting down", "the server is shutting down"),
        (r"too many (connections|clients)", "too many connections"),
        (r"ssl", "SSL negotiation failed"),
        (r"invalid (connection option|uri|integer value)|missing \"=\"", "the URL is malformed"),
    )
)


@dataclass(frozen=True)
class DatabaseFailure:
    """Why a read-only session failed: a short, secret-free reason and the SQLSTATE if any."""

    reason: str
    sqlstate: str | None = None


@dataclass(frozen=True)
class SlowQuery:
    query: str  # normalised text from pg_stat_statements, one line, at most 300 characters
    calls: int
    mean_ms: float
    total_ms: float


@dataclass(frozen=True)
class SlowQueries:
    ok: bool  # the lookup worked (NOT "no slow queries")
    reason: str
    # False both when CREATE EXTENSION was never run here and when the library is not preloaded:
    # either way the view cannot be read, and the reason says which.
    extension_installed: bool
    queries: tuple[SlowQuery, ...]
    duration_s: float = 0.0


def run_read_only(
    *, url: str, timeout_s: float, work: Callable[[Cursor], T]
) -> T | DatabaseFailure:
    """Connect, run ``work`` in a read-only transaction within ``timeout_s``, roll back.

    psycopg errors become a :class:`DatabaseFailure`; other exceptions are bugs and propagate.
    """
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    if not url.strip():
        # An empty conninfo makes libpq fall back to PG* variables and the local socket: refuse
        # rather than probe some other database.
        return DatabaseFailure("no database URL configured")
    deadline = time.monotonic() + timeout_s
    secrets = url_secrets(url)
    try:
        conn = _connect(url, timeout_s)
    except psycopg.Error as error:
        return _failure(error, _connect_reason(error, timeout_s), secrets)
    try:
        conn.read_only = True
        with conn.cursor() as cursor:
            # The statement budget is what the connect left over, so the whole call stays
            # close to timeout_s; a floor keeps a slow connect from leaving zero (= no limit).
            # Both settings are session-wide so they outlive a COMMIT smuggled into the probe
            # ("SELECT 1; COMMIT; DELETE ..."): whatever follows it is still read-only.
            remaining_ms = max(100, int((deadline - time.monotonic()) * 1000))
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('default_transaction_read_only', 'on', false)",
                (f"{remaining_ms}ms",),
            )
            value = work(cursor)
        conn.rollback()
        return value
    except psycopg.Error as error:
        return _failure(error, _query_reason(error, timeout_s), secrets)
    finally:
        conn.close()


def probe_database(*, url: str, sql: str = "SELECT 1", timeout_s: float) -> CheckResult:
    """The checklist's "database queries work": connect and run the probe SQL read-only."""
    started = time.monotonic()

    def work(cursor: Cursor) -> int:
        cursor.execute(sql)
        return cursor.rowcount

    outcome = run_read_only(url=url, timeout_s=timeout_s, work=work)
    failure = outcome if isinstance(outcome, DatabaseFailure) else None
    return CheckResult(
        name="database queries",
        kind="database",
        ok=failure is None,
        reason=failure.reason if failure else "",
        duration_s=time.monotonic() - started,
    )


def find_slow_queries(
    *, url: str, min_mean_ms: float = 100.0, limit: int = 20, timeout_s: float
) -> SlowQueries:
    """This database's statements whose mean time exceeds ``min_mean_ms``, slowest first.

    The procedure's query, with PostgreSQL 13+ column names and restricted to the database in
    the URL: pg_stat_statements is server-wide and other databases' queries are not ours.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    started = time.monotonic()

    def work(cursor: Cursor) -> tuple[SlowQuery, ...] | None:
        cursor.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_stat_statements'"
        )
        row = cursor.fetchone()
        if row is None:
            return None
        # The extension may live in a schema outside search_path: name its view exactly.
        query = SQL(
            "SELECT query, calls, mean_exec_time, total_exec_time FROM {}"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND mean_exec_time > %s ORDER BY mean_exec_time DESC LIMIT %s"
        ).format(Identifier(row[0], "pg_stat_statements"))
        cursor.execute(query, (min_mean_ms, limit))
        return tuple(
            SlowQuery(
                query=_one_line(text or "", QUERY_TEXT_LIMIT),
                calls=int(calls),
                mean_ms=float(mean),
                total_ms=float(total),
            )
            for text, calls, mean, total in cursor.fetchall()
        )

    outcome = run_read_only(url=url, timeout_s=timeout_s, work=work)
    elapsed = time.monotonic() - started
    if outcome is None:
        return SlowQueries(False, NOT_INSTALLED, False, (), elapsed)
    if isinstance(outcome, DatabaseFailure):
        if outcome.sqlstate == errors.ObjectNotInPrerequisiteState.sqlstate:
            return SlowQueries(False, NOT_LOADED, False, (), elapsed)
        reason = outcome.reason
        if outcome.sqlstate == errors.UndefinedColumn.sqlstate:
            reason = "pg_stat_statements has no mean_exec_time column: PostgreSQL 13+ is needed"
        return SlowQueries(False, reason, True, (), elapsed)
    return SlowQueries(True, "", True, outcome, elapsed)


def slow_queries_check(result: SlowQueries, *, min_mean_ms: float) -> CheckResult:
    """ok iff the lookup worked and no statement's mean time is above ``min_mean_ms``."""
    slow = [query for query in result.queries if query.mean_ms > min_mean_ms]
    if not result.ok:
        reason = result.reason
    elif slow:
        noun = "query" if len(slow) == 1 else "queries"
        reason = f"{len(slow)} {noun} above {min_mean_ms:g} ms mean"
    else:
        reason = ""
    return CheckResult(
        name="slow queries",
        kind="slow_queries",
        ok=result.ok and not slow,
        reason=reason,
        duration_s=result.duration_s,
        details=tuple(
            f"{query.mean_ms:.0f} ms mean x {query.calls} calls: {query.query}" for query in slow
        ),
    )


def _connect(url: str, timeout_s: float) -> psycopg.Connection[TupleRow]:
    whole_s = max(1, math.ceil(timeout_s))
    return psycopg.connect(
        url,
        # libpq counts whole seconds and treats anything under 2 as 2.
        connect_timeout=whole_s,
        # A server or network that goes silent after the query is sent is invisible to
        # statement_timeout (the server enforces it); these make the kernel give up instead.
        keepalives=1,
        keepalives_idle=whole_s,
        keepalives_interval=1,
        keepalives_count=3,
        tcp_user_timeout=(whole_s + 3) * 1000,
        # Lets a DBA spot the bot in pg_stat_activity; a name in the URL still wins.
        fallback_application_name="rollback-bot",
    )


def _connect_reason(error: psycopg.Error, timeout_s: float) -> str:
    if isinstance(error, errors.ConnectionTimeout):
        return f"connection timed out after {max(2, math.ceil(timeout_s))} s"
    text = str(error).lower()
    for pattern, reason in _CONNECT_REASONS:
        if pattern.search(text):
            return reason
    return ""  # _failure falls back to the (redacted) first line of the error


def _query_reason(error: psycopg.Error, timeout_s: float) -> str:
    text = str(error).lower()
    if isinstance(error, errors.QueryCanceled):
        if "statement timeout" in text:
            return f"statement timed out after {timeout_s:g} s"
        return "statement was cancelled"
    if isinstance(error, errors.ReadOnlySqlTransaction):
        return "the statement tries to write; it runs in a read-only transaction"
    if error.sqlstate is None:
        # No SQLSTATE: the connection itself broke under the query.
        return "lost the connection to the server"
    return ""


def _failure(error: psycopg.Error, reason: str, secrets: tuple[str, ...]) -> DatabaseFailure:
    lines = str(error).strip().splitlines()
    # Redact before truncating: a cut could leave half a password that no longer matches.
    detail = _one_line(redact(lines[0] if lines else "", secrets=secrets), 200)
    if not reason:
        reason = f"query failed: {detail}" if error.sqlstate else detail or type(error).__name__
    log.info("database check failed: %s (%s)", reason, detail)
    return DatabaseFailure(reason, error.sqlstate)


def url_secrets(url: str) -> tuple[str, ...]:
    """The URL and its password in every spelling an error text might quote."""
    found = [url]
    # An unparsable URL has no password to find; the URL itself is still listed.
    with contextlib.suppress(ValueError):
        found.append(urlsplit(url).password or "")
    with contextlib.suppress(psycopg.Error):
        found.append(str(conninfo_to_dict(url).get("password") or ""))
    # Longest first, so the URL is replaced whole before its password alone.
    return tuple(sorted({secret for secret in found if secret}, key=len, reverse=True))


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
