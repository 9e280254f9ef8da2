"""The scheduler: fires the store's due timers, once each, on the after-ack pool.

Timers live in the store, so they survive restarts; a firing is claimed with a compare-and-set
before its job runs, so two replicas (or a tick that overlaps a slow one) never fire it twice.
A bot that was down when a timer fell due fires it once, late.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from bot.deps import Deps
from store import Timer

log = logging.getLogger("rollback_bot.scheduler")

Job = Callable[[Deps, Timer], None]

#: How often the store is asked for due timers; a timer fires at most this late.
TICK_S = 5.0


class Scheduler:
    def __init__(self, deps: Deps, jobs: Mapping[str, Job], *, tick_s: float = TICK_S) -> None:
        self._deps = deps
        self._jobs = dict(jobs)
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def tick(self) -> list[Future[None]]:
        """Claim and start every due timer now; one future per job this call started."""
        now = self._deps.clock()
        fired: list[Future[None]] = []
        for timer in self._deps.store.due_timers(now=now):
            job = self._jobs.get(timer.kind)
            if job is None:
                log.warning("timer %s: no job for kind %r; left as is", timer.name, timer.kind)
                continue
            if self._deps.store.claim_timer(timer, now=now):
                fired.append(self._deps.work.submit(_run, job, self._deps, timer))
        return fired

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a store hiccup must not end the scheduler
                log.exception("scheduler tick failed; trying again in %s s", self._tick_s)
            self._stop.wait(self._tick_s)


def _run(job: Job, deps: Deps, timer: Timer) -> None:
    try:
        job(deps, timer)
    except Exception:
        log.exception("timer job %s (%s) failed", timer.name, timer.kind)
