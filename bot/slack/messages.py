"""A channel message that shows work in progress and is edited in place as it advances.

Slack allows roughly one ``chat.update`` per second per message before it rate-limits, and
progress arrives from worker threads in bursts, so edits are throttled: the newest state wins,
and :meth:`LiveMessage.finish` always delivers the final one.

A post or an edit can fail: the bot lost the channel (``not_in_channel``, ``channel_not_found``),
Slack refused the message, or it did not answer in time. The failure is kept in
:attr:`LiveMessage.problem`, so the caller can tell people another way; it never stops the work.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger("rollback_bot.messages")

MIN_EDIT_INTERVAL_S = 1.0
#: What :attr:`LiveMessage.problem` says when Slack did not answer: the post may have landed.
TIMED_OUT = "timed_out"


def slack_problem(error: Exception) -> str:
    """A Web API failure in one word: Slack's error code, or ``timed_out`` / ``unreachable``."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or "refused")
    if isinstance(error, TimeoutError) or "timed out" in str(error).lower():
        return TIMED_OUT
    return "unreachable"


#: What may go wrong when calling Slack, besides a bug: its refusals and the network's.
SLACK_FAILURES = (SlackApiError, SlackClientError, OSError)


class LiveMessage:
    def __init__(self, client: WebClient, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._ts: str | None = None
        self._lock = threading.Lock()
        self._last_edit = 0.0
        #: The last failure to post or edit (a Slack error code or TIMED_OUT), or None.
        self.problem: str | None = None

    @classmethod
    def existing(cls, client: WebClient, channel: str, ts: str) -> LiveMessage:
        """A message posted earlier (perhaps by an earlier run of the bot), to edit from now."""
        live = cls(client, channel)
        live._ts = ts
        return live

    @property
    def channel(self) -> str:
        return self._channel

    @property
    def client(self) -> WebClient:
        return self._client

    @property
    def ts(self) -> str | None:
        return self._ts

    @property
    def posted(self) -> bool:
        return self._ts is not None

    def start(self, message: dict[str, Any]) -> bool:
        """Post the first state; False when it was refused or Slack did not answer."""
        try:
            response = self._client.chat_postMessage(channel=self._channel, **message)
        except SLACK_FAILURES as error:
            self.problem = slack_problem(error)
            log.warning("could not post in %s: %s", self._channel, self.problem)
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

    def finish(self, message: dict[str, Any]) -> bool:
        """Show the final state; False when the edit failed (see :attr:`problem`)."""
        with self._lock:
            return self._ts is not None and self._edit(message)

    def _edit(self, message: dict[str, Any]) -> bool:
        if self._ts is None:
            return False
        self._last_edit = time.monotonic()
        try:
            self._client.chat_update(channel=self._channel, ts=self._ts, **message)
        except SLACK_FAILURES as error:
            self.problem = slack_problem(error)
            log.warning("could not edit the message in %s: %s", self._channel, self.problem)
            return False
        return True
