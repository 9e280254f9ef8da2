"""Immutable records the emulator exposes, and the id and timestamp factories behind them."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any, Literal

JsonDict = dict[str, Any]
Via = Literal["api", "response_url", "ack", "person"]

_ID_ALPHABET = string.ascii_uppercase + string.digits

# Fakes that only the emulator knows; no real workspace accepts either.
EMULATOR_BOT_TOKEN = "xoxb-emulator-token"  # noqa: S105
EMULATOR_VERIFICATION_TOKEN = "emulatorVerificationTkn"  # noqa: S105


class ApiError(Exception):
    """A Slack error code; the emulator answers ``{"ok": false, "error": code}`` for it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Identity:
    """Who the emulated workspace and its one installed app are."""

    bot_token: str
    team_id: str
    team_domain: str
    bot_user_id: str
    bot_id: str
    app_id: str


@dataclass(frozen=True)
class ApiCall:
    """One request to ``/api/<method>``. ``args`` never holds the token."""

    method: str
    args: JsonDict
    at: float
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True)
class Message:
    """A message as a Slack client would show it; edits and deletions replace the record."""

    channel: str
    ts: str
    text: str
    blocks: list[JsonDict] = field(default_factory=list)
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    via: Via = "api"
    edited: bool = False
    deleted: bool = False
    user: str = ""
    reply_broadcast: bool = False
    files: list[JsonDict] = field(default_factory=list)  # files shared with the message

    @property
    def ephemeral(self) -> bool:
        return self.ephemeral_to is not None


class TsClock:
    """Slack message timestamps: unique, strictly increasing ``"seconds.micros"`` strings.

    Not thread-safe: the emulator calls it under its own lock.
    """

    def __init__(self) -> None:
        self._last_us = 0

    def next(self) -> str:
        now_us = time.time_ns() // 1000
        # Two messages in the same microsecond still need distinct, ordered ts values.
        self._last_us = max(now_us, self._last_us + 1)
        return format_ts(self._last_us)


def format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def random_id(prefix: str, length: int = 10) -> str:
    """An id shaped like Slack's (``V0A1B2C3D4``): a type letter then upper-case alphanumerics."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_block_id() -> str:
    """Slack gives every block sent without a ``block_id`` a short random one."""
    return secrets.token_urlsafe(3)


def new_trigger_id() -> str:
    """A trigger id in Slack's ``<digits>.<digits>.<32 hex>`` shape."""
    first = secrets.randbelow(9 * 10**11) + 10**11
    second = secrets.randbelow(9 * 10**10) + 10**10
    return f"{first}.{second}.{secrets.token_hex(16)}"
