"""Socket Mode: Slack pushes payloads over a WebSocket the bot opens; no public URL needed."""

from __future__ import annotations

import logging
import threading

from slack_bolt import App

from bot.settings import Secret


def serve_socket_mode(app: App, app_token: Secret, *, stop: threading.Event) -> None:
    """Socket Mode: Slack pushes payloads over a WebSocket; returns once ``stop`` is set."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(
        app, app_token.reveal(), logger=logging.getLogger("rollback_bot.socket")
    )
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        # Short waits keep the main thread responsive to SIGTERM's handler.
        while not stop.wait(0.5):
            pass
    finally:
        handler.close()  # type: ignore[no-untyped-call]
