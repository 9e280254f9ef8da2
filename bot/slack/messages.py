"""A channel message that shows work in progress and is edited in place as it advances.

Slack allows roughly one ``chat.update`` per second per message before it rate-limits, and
progress arrives from worker threads in bursts, so edits are throttled: the newest state wins,
and :meth:`LiveMessage.finish` always delivers the final one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("rollback_bot.live")

MIN_EDIT_INTERVAL_S = 1.0


class LiveMessage:
    def __init__(self, client: WebClient, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._ts: str | None = None
        self._lock = threading.Lock()
        self._last_edit = 0.0

    @classmethod
    def existing(cls, client: WebClient, channel: str, ts: str) -> LiveMessage:
        """A message posted earlier (perhaps by an earlier run of the bot), to edit from now."""
        live = cls(client, channel)
        live._ts = ts
        return live

    @property
    def ts(self) -> str | None:
        return self._ts

    @property
    def posted(self) -> bool:
        return self._ts is not None

    def start(self, message: dict[str, Any]) -> bool:
        """Post the first state; False when the channel refused it (e.g. the bot is not in it)."""
        try:
            response = self._client.chat_postMessage(channel=self._channel, **message)
        except SlackApiError as error:
            log.warning("could not post in %s: %s", self._channel, error.response.get("error"))
            return False
        self._ts = str(response["ts"])
        self._last_edit = time.monotonic()
        return True

    def update(self, message: dict[str, Any]) -> None:
        """Show a newer state, unless the last edit was under a second ago."""
        with self._lock:
            if self._ts is None or time.monotonic() - self._last_edit < MIN_EDIT_INTERVAL_S:
                return
            self._edit(message)

    def finish(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self._ts is not None:
                self._edit(message)

    def _edit(self, message: dict[str, Any]) -> None:
        if self._ts is None:
            return
        try:
            self._client.chat_update(channel=self._channel, ts=self._ts, **message)
        except SlackApiError as error:
            log.warning("could not edit the message: %s", error.response.get("error"))
        self._last_edit = time.monotonic()
