"""Run the validation checklist: every check at once, the whole list bounded by one timeout.

The procedure's "ROLLBACK VALIDATION CHECKLIST" is a list of independent checks (server starts,
queries work, endpoints respond, frontend loads, user flows, error log). Run one after another,
the slowest path is their sum; run together, it is the slowest check. A check that hangs past
the checklist's timeout is reported as such and abandoned: it runs on a daemon thread, so
neither the checklist nor the process's exit waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from actions.checks.result import CheckResult
from actions.redact import redact

_log = logging.getLogger(__name__)
_SHOWN_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    run: Callable[[], CheckResult]


@dataclass(frozen=True)
class ChecklistResult:
    #: In the order the checks were given.
    results: tuple[CheckResult, ...]
    duration_s: float

    @property
    def ok(self) -> bool:
        """All passed, and there was at least one: an empty checklist proves nothing."""
        return bool(self.results) and all(result.ok for result in self.results)

    @property
    def failing(self) -> tuple[CheckResult, ...]:
        return tuple(result for result in self.results if not result.ok)


def _run_one(check: Check) -> CheckResult:
    started = time.monotonic()
    try:
        return check.run()
    except Exception as exc:
        # The type names the failure; the message may quote a URL or a token, so it goes to the
        # details only after redaction.
        message = redact(str(exc))[:_SHOWN_MESSAGE_CHARS]
        return CheckResult(
            check.name,
            check.kind,
            False,
            f"check crashed: {type(exc).__name__}",
            time.monotonic() - started,
            (message,) if message else (),
        )


class _Run:
    """The shared state of one checklist run, guarded by one condition."""

    def __init__(
        self, checks: Sequence[Check], on_result: Callable[[CheckResult], None] | None
    ) -> None:
        self.checks = list(checks)
        self.on_result = on_result
        self.cond = threading.Condition()
        self.results: list[CheckResult | None] = [None] * len(self.checks)
        self.next_index = 0
        self.reported = 0
        self.abandoned = False

    def take(self) -> int | None:
        with self.cond:
            if self.abandoned or self.next_index >= len(self.checks):
                return None
            index = self.next_index
            self.next_index += 1
            return index

    def worker(self) -> None:
        while (index := self.take()) is not None:
            result = _run_one(self.checks[index])
            with self.cond:
                # Late: the checklist already reported this check as timed out.
                mine = self.results[index] is None
                if mine:
                    self.results[index] = result
            if mine:
                self.notify(result)
            with self.cond:
                self.reported += 1
                self.cond.notify_all()

    def notify(self, result: CheckResult) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(result)
        except Exception as exc:
            # A broken progress display must not change the checklist's verdict.
            _log.warning("on_result failed for %s: %s", result.name, type(exc).__name__)


def run_checklist(
    checks: Sequence[Check],
    *,
    timeout_s: float,
    on_result: Callable[[CheckResult], None] | None = None,
    max_workers: int = 16,
) -> ChecklistResult:
    """Run ``checks`` concurrently on daemon threads and return within about ``timeout_s``.

    A check still running (or not yet started, with more checks than workers) at the timeout
    becomes ``ok=False`` "did not finish within N s"; one that raises becomes "check crashed:
    <ExceptionType>". ``on_result`` is called once per check as it finishes, from the worker
    thread that ran it (for timed-out checks, from the caller's thread at the timeout), so calls
    can overlap: it must be thread-safe. Its exceptions are logged and otherwise ignored. By the
    time this returns, every call for a check that finished in time has returned.
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    started = time.monotonic()
    run = _Run(checks, on_result)
    total = len(run.checks)
    for number in range(min(max_workers, total)):
        threading.Thread(target=run.worker, name=f"checklist-{number}", daemon=True).start()
    late: list[CheckResult] = []
    with run.cond:
        run.cond.wait_for(lambda: run.reported >= total, timeout=max(timeout_s, 0))
        run.abandoned = True
        elapsed = time.monotonic() - started
        for index, check in enumerate(run.checks):
            if run.results[index] is None:
                cut = CheckResult(
                    check.name,
                    check.kind,
                    False,
                    f"did not finish within {timeout_s:g} s",
                    elapsed,
                )
                run.results[index] = cut
                late.append(cut)
        results = tuple(result for result in run.results if result is not None)
    for cut in late:
        run.notify(cut)
    return ChecklistResult(results, time.monotonic() - started)
