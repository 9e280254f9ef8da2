"""HTTP mode: the front door (:mod:`bot.frontdoor`) served by waitress, a production server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from waitress.server import create_server

from bot.frontdoor import SlackFrontDoor

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger("rollback_bot.server")

SERVER_THREADS = 16


def create_http_server(
    front_door: SlackFrontDoor, *, host: str, port: int, threads: int = SERVER_THREADS
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound now (port 0 picks a free one); call ``run()`` to serve."""
    return create_server(
        front_door,
        host=host,
        port=port,
        threads=threads,
        ident="rollback-bot",
        # Slack's connections are short; a deep backlog absorbs bursts of clicks.
        backlog=256,
        connection_limit=200,
        channel_timeout=30,
    )
