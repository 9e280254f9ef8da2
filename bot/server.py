"""HTTP mode: the front door (:mod:`bot.frontdoor`) served by waitress, a production server.

Slowloris: waitress stops accepting once ``connection_limit`` connections are open, and a
connection that has sent half a request and then nothing holds its place until waitress reaps
it. So the limit is set well above what Slack needs, with the file descriptors to back it, and a
silent connection is closed a few seconds after its last byte. A client that keeps trickling a
byte every few seconds still counts as active: only the reverse proxy in front of HTTP mode
(README, "Running it in Slack") bounds how long a request may take to arrive.
"""

from __future__ import annotations

import logging
import resource
from typing import TYPE_CHECKING

from waitress.server import create_server

from bot.frontdoor import SlackFrontDoor

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger("rollback_bot.server")

SERVER_THREADS = 16
# Open connections at once, the number a slowloris client has to reach to lock Slack out. An
# idle one costs a file descriptor and a few KB, and waitress checks every open connection once
# per loop, which is what keeps this in the hundreds rather than the tens of thousands.
CONNECTION_LIMIT = 1000
# Files kept for the bot itself beside its connections: a SQLite connection per thread, git's
# pipes, the Web API clients, logs, and a request body that waitress spills to a temp file.
FD_RESERVE = 256
# The soft RLIMIT_NOFILE that ``rollback-bot serve`` asks for at start-up (bot/cli.py).
OPEN_FILES_WANTED = CONNECTION_LIMIT + FD_RESERVE
# waitress marks a connection that has had no byte for CHANNEL_TIMEOUT_S and no request
# running; a sweep every CLEANUP_INTERVAL_S closes the marked ones on its next loop (at most a
# second later). A silent connection is thus gone 5 to 7 s after its last byte. Slack sends its
# whole request at once and waits only 3 s for the ack, so nothing Slack still waits for is cut,
# and a running request is never reaped however long it takes.
CHANNEL_TIMEOUT_S = 5
CLEANUP_INTERVAL_S = 1


def connection_limit_for(open_files: int) -> int:
    """The connection limit a soft open-files limit can back, leaving the bot FD_RESERVE files
    (half of them when the limit is small), never above CONNECTION_LIMIT."""
    return min(CONNECTION_LIMIT, max(open_files - FD_RESERVE, open_files // 2))


def create_http_server(
    front_door: SlackFrontDoor,
    *,
    host: str,
    port: int,
    threads: int = SERVER_THREADS,
    connection_limit: int | None = None,
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound now (port 0 picks a free one); call ``run()`` to serve.

    ``connection_limit`` defaults to what the process's open-files limit can back.
    """
    if connection_limit is None:
        connection_limit = _default_connection_limit()
    return create_server(
        front_door,
        host=host,
        port=port,
        threads=threads,
        ident="rollback-bot",
        # Slack's connections are short; a deep backlog absorbs bursts of clicks.
        backlog=256,
        connection_limit=connection_limit,
        channel_timeout=CHANNEL_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
        # select() cannot watch a descriptor numbered 1024 or more and would stop the server;
        # poll() has no such ceiling once the open-files limit is raised past it.
        asyncore_use_poll=True,
    )


def _default_connection_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return CONNECTION_LIMIT
    limit = connection_limit_for(soft)
    if limit < CONNECTION_LIMIT:
        log.warning(
            "the open-files limit (%d) allows only %d connections instead of %d; "
            "raise it (ulimit -n / LimitNOFILE) to at least %d",
            soft,
            limit,
            CONNECTION_LIMIT,
            OPEN_FILES_WANTED,
        )
    return limit
