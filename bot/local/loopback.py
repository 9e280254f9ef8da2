"""The bot wired to a loopback Slack, in one process: what the console and the tests run.

Nothing is short-circuited: requests are signed and sent over HTTP to the same front door and
waitress server ``serve`` uses, and the bot's replies go out through the real Web API client to
the emulator. Only Slack itself is replaced.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from types import TracebackType

from bot.app import create_app, start_scheduler
from bot.config import Config
from bot.deps import Deps
from bot.frontdoor import SlackFrontDoor
from bot.local.emulator import SlackEmulator, SlackSender
from bot.server import create_http_server
from bot.settings import Secret, SlackSettings, settings_from
from store import SqliteStore


class LocalSlack:
    """Start with ``with LocalSlack(config, environ) as local:``; everything stops on exit."""

    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str],
        *,
        clock: Callable[[], datetime] | None = None,
        scheduler: bool = True,
        tool_path: str | None = None,
    ) -> None:
        self.config = config
        self._tool_path = tool_path
        self._clock = clock
        self._with_scheduler = scheduler
        self.emulator = SlackEmulator()
        self._environ = environ
        self._signing_secret = secrets.token_hex(16)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LocalSlack:
        self.emulator.start()
        slack = SlackSettings(
            bot_token=Secret(self.emulator.bot_token),
            signing_secret=Secret(self._signing_secret),
            app_token=None,
            api_url=self.emulator.api_url,
        )
        settings = settings_from(self.config, slack, self._environ)
        if self._tool_path is not None:  # as on a machine without PostgreSQL's client tools
            settings = replace(settings, tool_path=self._tool_path)
        self.store = SqliteStore(self.config.store.path, secrets=settings.secret_values())
        self.deps = (
            Deps(settings=settings, store=self.store, clock=self._clock)
            if self._clock is not None
            else Deps(settings=settings, store=self.store)
        )
        self.app = create_app(self.deps)
        # Tests drive timers by hand (Scheduler.tick) with a clock of their own.
        self.scheduler = start_scheduler(self.deps, self.app) if self._with_scheduler else None
        front_door = SlackFrontDoor(self.app, signing_secret=slack.signing_secret, store=self.store)
        self._server = create_http_server(front_door, host="127.0.0.1", port=0, threads=8)
        port = self._server.effective_port  # type: ignore[union-attr]
        self.events_url = f"http://127.0.0.1:{port}/slack/events"
        self._thread = threading.Thread(target=self._server.run, name="local-http", daemon=True)
        self._thread.start()
        self.sender = SlackSender(
            events_url=self.events_url,
            signing_secret=self._signing_secret,
            emulator=self.emulator,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.sender.close()
        if self.scheduler is not None:
            self.scheduler.stop()
        # Closed from inside its own loop: closing the sockets from this thread raced the
        # loop's select() on them (EBADF in the server thread).
        try:
            self._server.trigger.pull_trigger(self._server.close)  # type: ignore[union-attr]
        except OSError:  # the loop already ended and closed its trigger: close from here
            with contextlib.suppress(OSError):
                self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.deps.close()
        self.emulator.stop()
