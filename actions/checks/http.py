"""HTTP checks of the validation checklist: endpoints, the frontend page, scripted user flows.

Every check answers with a :class:`~actions.checks.result.CheckResult`; a refused connection, a hung
server or a garbled response is a failed result with a reason someone on call can act on, never
an exception. The procedure counts "APIs responding > 2s" as a failure, so an answer that comes
too late fails even when its status is 2xx.

Timing is the whole exchange, body included: a server that sends headers quickly and then
stalls is as slow as one that never answers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from actions.checks.result import CheckResult, FlowStep
from actions.redact import redact

# FlowStep lives in actions.checks.result so the config can build flows without importing httpx
# code; it is re-exported here because flows are run here.
__all__ = ["FlowStep", "check_endpoint", "check_flow", "check_frontend", "check_health"]

# Enough of a body to find a page's text or an expected phrase; the rest is read and dropped so
# a huge response costs time (bounded by the timeout) but not memory.
_KEEP_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    body: bytes
    body_size: int
    elapsed_s: float


@dataclass(frozen=True)
class _NoAnswer:
    reason: str
    elapsed_s: float


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _target(method: str, url: str) -> str:
    """``GET /api/customers``: what the checklist line shows; never the host's credentials."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return redact(f"{method.upper()} {url}")
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query.decode("ascii", "replace")
    return redact(f"{method.upper()} {path}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _connect_reason(exc: httpx.ConnectError) -> str:
    chain = _chain(exc)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in str(exc).lower():
        return "connection refused"
    if any(isinstance(e, OSError) and e.errno in (-2, -3, -5) for e in chain):
        return "host not found"
    return "cannot connect"


def _fetch(
    client: httpx.Client,
    *,
    method: str,
    url: str,
    timeout_s: float,
    json: Any = None,
    form: Mapping[str, str] | None = None,
) -> _Answer | _NoAnswer:
    """One request, its body read (and capped), every way it can go wrong turned into a reason.

    httpx's timeout bounds each wait on the socket; the deadline check between body chunks
    bounds a server that trickles bytes, so the whole exchange ends within about twice
    ``timeout_s`` at the very worst.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    timed_out = f"timed out after {_seconds(timeout_s)}"
    headers_seen = False
    try:
        with client.stream(
            method,
            url,
            json=json,
            data=dict(form) if form is not None else None,
            timeout=httpx.Timeout(timeout_s),
        ) as response:
            headers_seen = True
            kept = bytearray()
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if len(kept) < _KEEP_BODY_BYTES:
                    kept += chunk[: _KEEP_BODY_BYTES - len(kept)]
                if time.monotonic() > deadline:
                    return _NoAnswer(timed_out, time.monotonic() - start)
            return _Answer(
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                body=bytes(kept),
                body_size=size,
                elapsed_s=time.monotonic() - start,
            )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        reason = _failure_reason(exc, headers_seen=headers_seen, timed_out=timed_out)
    return _NoAnswer(reason, time.monotonic() - start)


def _failure_reason(
    exc: httpx.HTTPError | httpx.InvalidURL, *, headers_seen: bool, timed_out: str
) -> str:
    """What went wrong with a request, in a few words a person on call reads at a glance."""
    if isinstance(exc, httpx.TimeoutException):
        return timed_out
    if isinstance(exc, httpx.ConnectError):
        return _connect_reason(exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        if headers_seen:
            return "connection closed mid-response"
        if "without sending" in str(exc):
            return "connection closed before a response"
        return "invalid response"
    if isinstance(exc, httpx.DecodingError):
        return "invalid response body"
    if isinstance(exc, httpx.ReadError):
        return "connection closed mid-response" if headers_seen else "connection reset"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "invalid URL"
    return f"request failed ({type(exc).__name__})"


def _line(target: str, outcome: _Answer | _NoAnswer) -> str:
    if isinstance(outcome, _NoAnswer):
        return f"{target} -> {outcome.reason}"
    return f"{target} -> {outcome.status} in {outcome.elapsed_s:.2f} s"


def _answer_problem(answer: _Answer, *, slow_after_s: float, expect_status: int | None) -> str:
    """Why an answer fails a check, or "" when it passes."""
    if expect_status is None and not 200 <= answer.status < 300:
        return f"HTTP {answer.status}"
    if expect_status is not None and answer.status != expect_status:
        return f"HTTP {answer.status}, expected {expect_status}"
    if answer.elapsed_s > slow_after_s:
        return f"{answer.elapsed_s:.2f} s, over the {_seconds(slow_after_s)} limit"
    return ""


def check_endpoint(
    *,
    client: httpx.Client,
    name: str,
    url: str,
    method: str = "GET",
    timeout_s: float,
    slow_after_s: float,
    kind: str = "endpoint",
) -> CheckResult:
    """ok iff the endpoint answers 2xx, body and all, within ``slow_after_s``."""
    outcome = _fetch(client, method=method, url=url, timeout_s=timeout_s)
    details = (_line(_target(method, url), outcome),)
    if isinstance(outcome, _NoAnswer):
        return CheckResult(name, kind, False, outcome.reason, outcome.elapsed_s, details)
    problem = _answer_problem(outcome, slow_after_s=slow_after_s, expect_status=None)
    return CheckResult(name, kind, not problem, problem, outcome.elapsed_s, details)


def check_frontend(
    *, client: httpx.Client, name: str, url: str, timeout_s: float, slow_after_s: float
) -> CheckResult:
    """ok iff the URL serves a non-empty HTML page (2xx, text/html) within ``slow_after_s``.

    A JSON 200 in place of the page usually means the API answers where the built frontend
    should, which a browser shows as a broken app; hence the content-type check.
    """
    outcome = _fetch(client, method="GET", url=url, timeout_s=timeout_s)
    details = (_line(_target("GET", url), outcome),)
    if isinstance(outcome, _NoAnswer):
        return CheckResult(name, "frontend", False, outcome.reason, outcome.elapsed_s, details)
    problem = _answer_problem(outcome, slow_after_s=math.inf, expect_status=None)
    media_type = outcome.content_type.split(";", 1)[0].strip().lower()
    if not problem and media_type != "text/html":
        problem = f"not a page (content type {media_type or 'missing'})"
    if not problem and not outcome.body.strip():
        problem = "empty page"
    if not problem:
        problem = _answer_problem(outcome, slow_after_s=slow_after_s, expect_status=None)
    return CheckResult(name, "frontend", not problem, problem, outcome.elapsed_s, details)


def check_flow(
    *,
    name: str,
    base_url: str,
    steps: Sequence[FlowStep],
    timeout_s: float,
    slow_after_s: float,
    transport: httpx.BaseTransport | None = None,
) -> CheckResult:
    """Run a scripted user flow (login, then the pages behind it) as one cookie-sharing session.

    Stops at the first failing step, named with its number and request. ``timeout_s`` bounds
    the whole flow; ``slow_after_s`` applies to each step. Redirects are not followed, so a
    gated page bouncing to /login fails; a login that redirects needs ``expect_status=302``.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    details: list[str] = []
    # A fresh client per run: cookies from an earlier run must never log this one in. The
    # environment's proxy settings are ignored, so a loopback check cannot be routed elsewhere.
    with httpx.Client(
        base_url=base_url, transport=transport, follow_redirects=False, trust_env=False
    ) as client:
        for number, step in enumerate(steps, start=1):
            label = f"step {number} {_target(step.method, step.path)}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problem: str | None = f"{label}: timed out after {_seconds(timeout_s)}"
            else:
                problem = _flow_step_problem(
                    client, step, number, remaining, timeout_s, slow_after_s, details
                )
            if problem is not None:
                return CheckResult(
                    name, "flow", False, problem, time.monotonic() - start, tuple(details)
                )
    return CheckResult(name, "flow", True, "", time.monotonic() - start, tuple(details))


def _flow_step_problem(
    client: httpx.Client,
    step: FlowStep,
    number: int,
    remaining_s: float,
    timeout_s: float,
    slow_after_s: float,
    details: list[str],
) -> str | None:
    """Run one step of a flow, noting its line in ``details``; why it failed, or None."""
    target = _target(step.method, step.path)
    label = f"step {number} {target}"
    outcome = _fetch(
        client,
        method=step.method,
        url=step.path,
        timeout_s=remaining_s,
        json=step.json,
        form=step.form,
    )
    if isinstance(outcome, _NoAnswer):
        reason = outcome.reason
        if reason.startswith("timed out after"):
            reason = f"timed out after {_seconds(timeout_s)}"
        details.append(f"{number} {target} -> {reason}")
        return f"{label}: {reason}"
    details.append(f"{number} {_line(target, outcome)}")
    problem = _answer_problem(outcome, slow_after_s=slow_after_s, expect_status=step.expect_status)
    if not problem and step.expect_text is not None:
        text = outcome.body.decode("utf-8", "replace")
        if step.expect_text not in text:
            problem = f"{step.expect_text[:60]!r} not in the response"
    return redact(f"{label}: {problem}") if problem else None


def check_health(*, client: httpx.Client, url: str, timeout_s: float) -> CheckResult:
    """Does the running server answer 2xx at all? For validating without restarting it."""
    outcome = _fetch(client, method="GET", url=url, timeout_s=timeout_s)
    details = (_line(_target("GET", url), outcome),)
    if isinstance(outcome, _NoAnswer):
        return CheckResult(
            "server answers", "health", False, outcome.reason, outcome.elapsed_s, details
        )
    problem = _answer_problem(outcome, slow_after_s=math.inf, expect_status=None)
    return CheckResult("server answers", "health", not problem, problem, outcome.elapsed_s, details)
