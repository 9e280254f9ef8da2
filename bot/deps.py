"""What every listener needs, handed over once through Bolt's request context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings
from store import Store

CONTEXT_KEY = "rollback_bot_deps"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    clock: Callable[[], datetime] = _utc_now


def deps_of(context: Mapping[str, Any]) -> Deps:
    deps: Deps = context[CONTEXT_KEY]
    return deps
