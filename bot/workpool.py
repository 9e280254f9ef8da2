"""The pool that runs listeners' work after the ack, and knows when it is idle.

Knowing "idle" lets the console show a command's final answer instead of guessing when the bot
has finished, and lets a shutdown wait for work in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class WorkPool:
    def __init__(self, workers: int, name: str) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._in_flight = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        with self._idle:
            self._in_flight += 1
        future = self._executor.submit(fn, *args)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or running; False if that took longer than timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)
