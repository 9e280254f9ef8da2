"""Global Bolt middleware, all of it cheap: it runs before the ack on the request thread.

Dependencies go into the context first; then a redelivery Slack sends while the first delivery
is still fresh in this process is answered at once with ``X-Slack-No-Retry``. The durable
once-only claim and the audit record happen after the ack (:mod:`bot.afterack`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context import BoltContext

from bot.afterack import delivery_key
from bot.deps import CONTEXT_KEY, Deps

log = logging.getLogger("rollback_bot.middleware")

Next = Callable[[], BoltResponse]


class RecentDeliveries:
    """A bounded, thread-safe memory of delivery keys seen by this process."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._capacity:
                self._keys.popitem(last=False)
            return True


def install_middleware(app: App, deps: Deps) -> None:
    recent = RecentDeliveries()

    def inject_deps(context: BoltContext, next: Next) -> BoltResponse:
        context[CONTEXT_KEY] = deps
        return next()

    def drop_recent_redeliveries(body: dict[str, Any], next: Next) -> BoltResponse:
        key = delivery_key(body)
        if key is None or recent.first_time(key):
            return next()
        log.info("acknowledged a repeated delivery without running it (%s)", key.split(":")[0])
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})

    app.use(inject_deps)
    app.use(drop_recent_redeliveries)
