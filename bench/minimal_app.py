"""The baseline for ``bench/ack_latency.py``: a bare Bolt app on the bot's own HTTP stack.

One ``/rollback`` listener that only calls ``ack()``, wrapped in the same ``SlackFrontDoor`` and
served by the same ``create_http_server`` settings (waitress, 16 threads) as ``rollback-bot
serve``. Whatever separates the two latencies is therefore what the bot does on the way to its
ack (middleware, store writes, its listener's own work), not the server or Bolt itself.

Run as a process of its own, as the bot is, so neither shares a GIL with the other or with the
load generator. It reads the same environment as ``serve`` (SLACK_BOT_TOKEN,
SLACK_SIGNING_SECRET, SLACK_API_URL), which also keeps the secrets off the command line.

    python bench/minimal_app.py --port 3001
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.frontdoor import SlackFrontDoor
from bot.logs import configure_logging
from bot.server import create_http_server
from bot.settings import read_slack_settings
from store import SqliteStore

log = logging.getLogger("bench.minimal_app")


def create_minimal_app(*, bot_token: str, signing_secret: str, api_url: str | None) -> App:
    """A Bolt ``App`` with Bolt's defaults and a single listener that acknowledges, nothing more."""
    app = App(
        # Same token check at start-up as the bot (one auth.test to the emulator), so both
        # apps go through the same single-workspace authorization path on every request.
        client=WebClient(token=bot_token, base_url=api_url or WebClient.BASE_URL),
        signing_secret=signing_secret,
        # Behind the same front door as the bot, which checks signatures on the raw bytes and
        # hands Bolt the body it read; Bolt checking again would see a re-encoded body.
        request_verification_enabled=False,
    )

    @app.command("/rollback")
    def ack_only(ack: Ack) -> None:
        ack()

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a bare Bolt app that only acks /rollback")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    slack = read_slack_settings(os.environ)
    # The same logging set-up as serve, so a per-request log line would cost both the same.
    configure_logging(secrets=(slack.bot_token.reveal(), slack.signing_secret.reveal()))
    app = create_minimal_app(
        bot_token=slack.bot_token.reveal(),
        signing_secret=slack.signing_secret.reveal(),
        api_url=slack.api_url,
    )
    with tempfile.TemporaryDirectory(prefix="minimal-app-") as scratch:
        # SlackFrontDoor wants a store for GET /healthz only; nothing else touches it here.
        store = SqliteStore(Path(scratch) / "healthz.db")
        front_door = SlackFrontDoor(app, signing_secret=slack.signing_secret, store=store)
        server = create_http_server(front_door, host=args.host, port=args.port)

        def stop(signum: int, frame: FrameType | None) -> None:
            server.close()
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        log.info("minimal app listening on http://%s:%s/slack/events", args.host, args.port)
        try:
            server.run()
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
