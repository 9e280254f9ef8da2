"""What every listener needs, handed over once through Bolt's request context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings
from bot.workpool import WorkPool
from store import Store

CONTEXT_KEY = "rollback_bot_deps"
#: How many listeners' flows run at once; slow work (git, restarts, checks) queues here.
AFTER_ACK_WORKERS = 16


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: Store
    clock: Callable[[], datetime] = _utc_now
    #: Where listeners' work runs after the ack (see bot.afterack).
    work: WorkPool = field(default_factory=lambda: WorkPool(AFTER_ACK_WORKERS, "after-ack"))

    def close(self) -> None:
        """Let queued work finish, then close the store."""
        self.work.shutdown(wait=True)
        self.store.close()


def deps_of(context: Mapping[str, Any]) -> Deps:
    deps: Deps = context[CONTEXT_KEY]
    return deps
