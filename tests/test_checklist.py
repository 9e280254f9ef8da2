"""The checklist runner: order, concurrency, timeouts, crashes and progress callbacks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from actions.checks.checklist import Check, ChecklistResult, run_checklist
from actions.checks.http import check_endpoint
from actions.checks.result import CheckResult
from tests.httpservers import serve

# Upper bound on any wait inside a check, so a test that goes wrong still ends.
LONGEST_WAIT_S = 30.0


def _sleeping(name: str, seconds: float, ok: bool = True) -> Check:
    def run() -> CheckResult:
        started = time.monotonic()
        time.sleep(seconds)
        return CheckResult(name, "test", ok, "" if ok else "failed", time.monotonic() - started)

    return Check(name, "test", run)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown at the latest, so hung checks end with the test that hung them."""
    event = threading.Event()
    yield event
    event.set()


def _hanging(name: str, release: threading.Event, finished: threading.Event) -> Check:
    def run() -> CheckResult:
        release.wait(LONGEST_WAIT_S)
        finished.set()
        return CheckResult(name, "test", True, "", 0.0)

    return Check(name, "test", run)


def test_run_checklist_results_are_in_the_given_order() -> None:
    checks = [_sleeping("slowest", 0.2), _sleeping("middle", 0.1), _sleeping("fast", 0.0)]
    result = run_checklist(checks, timeout_s=5)
    assert [r.name for r in result.results] == ["slowest", "middle", "fast"]
    assert result.ok


def test_run_checklist_runs_checks_concurrently() -> None:
    checks = [_sleeping(f"endpoint {n}", 0.3) for n in range(10)]
    started = time.monotonic()
    result = run_checklist(checks, timeout_s=10)
    elapsed = time.monotonic() - started
    assert result.ok
    assert len(result.results) == 10
    assert elapsed < 1.5, elapsed
    assert 0.3 <= result.duration_s < 1.5


def test_run_checklist_respects_max_workers() -> None:
    checks = [_sleeping(f"c{n}", 0.2) for n in range(4)]
    result = run_checklist(checks, timeout_s=10, max_workers=2)
    assert result.ok
    assert 0.4 <= result.duration_s < 2.0


def test_run_checklist_cuts_a_hanging_check_and_reports_the_rest(
    release: threading.Event,
) -> None:
    finished = threading.Event()
    checks = [_sleeping("customers", 0.05), _hanging("inbox", release, finished)]
    started = time.monotonic()
    result = run_checklist(checks, timeout_s=0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.5
    customers, inbox = result.results
    assert customers.ok
    assert (inbox.ok, inbox.name, inbox.reason) == (False, "inbox", "did not finish within 0.5 s")
    assert not finished.is_set()
    assert result.failing == (inbox,)


def test_run_checklist_crashing_check_is_a_failed_result_without_secrets() -> None:
    def crash() -> CheckResult:
        raise RuntimeError("cannot reach postgres://app:hunter2@db/app")

    result = run_checklist([Check("database", "database", crash)], timeout_s=5)
    (crashed,) = result.results
    assert (crashed.ok, crashed.name, crashed.kind) == (False, "database", "database")
    assert crashed.reason == "check crashed: RuntimeError"
    assert "hunter2" not in repr(crashed)


def test_run_checklist_calls_on_result_once_per_check(release: threading.Event) -> None:
    finished = threading.Event()
    seen: list[str] = []
    lock = threading.Lock()

    def record(result: CheckResult) -> None:
        with lock:
            seen.append(result.name)

    checks = [
        *(_sleeping(f"c{n}", 0.05 * n) for n in range(5)),
        _hanging("hung", release, finished),
    ]
    result = run_checklist(checks, timeout_s=0.6, on_result=record)
    with lock:
        assert sorted(seen) == sorted(r.name for r in result.results)
        assert seen[:5] == ["c0", "c1", "c2", "c3", "c4"]  # as each finished
    release.set()
    assert finished.wait(5)
    _join_workers()  # the late worker is done, including where it would call on_result
    with lock:
        assert len(seen) == 6


def _join_workers(timeout_s: float = 5.0) -> None:
    """Wait until every checklist worker thread has exited: the event "nothing more will
    happen", instead of a sleep that hopes so."""
    for thread in threading.enumerate():
        if thread.name.startswith("checklist-"):
            thread.join(timeout_s)
            assert not thread.is_alive(), f"{thread.name} still running"


def test_run_checklist_survives_a_failing_on_result() -> None:
    def broken(result: CheckResult) -> None:
        raise ValueError("slack is down")

    result = run_checklist([_sleeping("a", 0), _sleeping("b", 0)], timeout_s=5, on_result=broken)
    assert result.ok


def test_run_checklist_empty_is_not_ok() -> None:
    result = run_checklist([], timeout_s=1)
    assert result == ChecklistResult((), result.duration_s)
    assert not result.ok


def test_run_checklist_failing_lists_only_failures() -> None:
    result = run_checklist(
        [_sleeping("a", 0), _sleeping("b", 0, ok=False), _sleeping("c", 0)], timeout_s=5
    )
    assert not result.ok
    assert [r.name for r in result.failing] == ["b"]


def test_run_checklist_queued_checks_past_the_timeout_never_start(
    release: threading.Event,
) -> None:
    started: list[str] = []

    def tracked(name: str) -> Callable[[], CheckResult]:
        def run() -> CheckResult:
            started.append(name)
            release.wait(LONGEST_WAIT_S)
            return CheckResult(name, "test", True, "", 0.0)

        return run

    checks = [Check(f"c{n}", "test", tracked(f"c{n}")) for n in range(3)]
    result = run_checklist(checks, timeout_s=0.3, max_workers=1)
    release.set()
    _join_workers()  # the freed worker has ended: it had its chance to (wrongly) go on
    assert [r.reason for r in result.results] == ["did not finish within 0.3 s"] * 3
    assert started == ["c0"]


def test_run_checklist_with_real_endpoint_checks() -> None:
    with serve() as service, httpx.Client(trust_env=False) as client:

        def endpoint(name: str, path: str) -> Check:
            def run() -> CheckResult:
                return check_endpoint(
                    client=client, name=name, url=service.url(path), timeout_s=2, slow_after_s=1
                )

            return Check(name, "endpoint", run)

        checks = [
            endpoint("customers", "/healthy"),
            endpoint("deals", "/fail"),
            endpoint("email", "/hang"),
            endpoint("search", "/slow?s=0.2"),
        ]
        result = run_checklist(checks, timeout_s=10)
    assert [(r.name, r.ok, r.reason) for r in result.results] == [
        ("customers", True, ""),
        ("deals", False, "HTTP 500"),
        ("email", False, "timed out after 2 s"),
        ("search", True, ""),
    ]
    assert result.duration_s < 4
