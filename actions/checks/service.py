"""Restarting the service and running the operator's validate command, bounded in time.

Commands come from the operator's config file, never from chat, and run through ``/bin/sh -c``
exactly as the procedure writes them (``pm2 restart autolytiq``, ``npm run validate:phase2``).
Each runs in a process group of its own, so a timeout kills the command together with every
child it started (a hung ``npm`` and its node), while anything the command deliberately
detached (``setsid``, ``pm2``'s daemon) keeps running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from actions.checks.http import check_health
from actions.checks.result import CheckResult
from actions.redact import redact

# A line is read up to this many bytes and redacted before it is cut to its shown length, so a
# secret straddling the shown cut is still recognised whole.
_READ_LINE_BYTES = 8192
_SHOWN_LINE_CHARS = 300
# After the command exits, how long to keep reading output it left in the pipe. Bounded because
# a process it left running may hold the pipe open for as long as that process lives.
_DRAIN_GRACE_S = 0.25
_REAP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CommandResult:
    #: As configured, redacted.
    command: str
    #: None when killed on timeout, or when the command could not be started at all (then
    #: ``output_tail`` says why and ``timed_out`` is False).
    exit_code: int | None
    timed_out: bool
    duration_s: float
    #: Last lines of combined stdout/stderr, redacted, each line capped.
    output_tail: tuple[str, ...]


class _TailReader:
    """Keeps the last lines of a pipe, reading it on a daemon thread until EOF.

    The thread outlives ``run_command`` when a process the command left behind still writes to
    the pipe: it keeps draining (memory stays bounded by the deque) so that process never blocks
    on a full pipe nor dies of SIGPIPE, which is what ``nohup npm start &`` would do.
    """

    def __init__(self, stream: IO[bytes], lines: int) -> None:
        self._stream = stream
        self._lines: deque[bytes] = deque(maxlen=max(lines, 0))
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="command-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        continuing = False
        try:
            while piece := self._stream.readline(_READ_LINE_BYTES):
                complete = piece.endswith(b"\n")
                if not continuing and self._lines.maxlen:
                    with self._lock:
                        self._lines.append(piece.rstrip(b"\r\n"))
                # The rest of an over-long line adds nothing to a tail; skip to its end.
                continuing = not complete
        except (OSError, ValueError):
            pass  # the pipe broke or was closed: there is no more output to keep
        finally:
            self._stream.close()

    def tail(self, *, wait_s: float, secrets: tuple[str, ...]) -> tuple[str, ...]:
        self._thread.join(timeout=wait_s)
        with self._lock:
            raw = list(self._lines)
        shown = []
        for line in raw:
            text = redact(line.decode("utf-8", "replace"), secrets=secrets)
            if len(text) > _SHOWN_LINE_CHARS:
                text = text[: _SHOWN_LINE_CHARS - 1] + "…"
            shown.append(text)
        return tuple(shown)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The shell is not reaped yet, so its pid is still the group's id and cannot be reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run_command(
    *,
    command: str,
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
    tail_lines: int = 20,
) -> CommandResult:
    """Run ``command`` with ``/bin/sh -c`` in ``cwd``; kill its process group after ``timeout_s``.

    ``env`` None inherits the bot's environment. Output is read as it comes and only the last
    ``tail_lines`` lines are kept. A command that leaves a server running should send that
    server's output elsewhere (``> server.log 2>&1 &``); its output is otherwise drained and
    dropped for as long as it runs.
    """
    shown_command = redact(command, secrets=secrets)
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        why = redact(f"could not start the command: {exc.strerror or type(exc).__name__}{where}")
        return CommandResult(shown_command, None, False, time.monotonic() - start, (why,))
    assert process.stdout is not None  # guaranteed by stdout=PIPE
    reader = _TailReader(process.stdout, tail_lines)
    timed_out = False
    try:
        process.wait(timeout=max(timeout_s, 0))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
        # Still alive after SIGKILL means stuck in the kernel; nothing more can be done.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_REAP_TIMEOUT_S)
    duration = time.monotonic() - start
    tail = reader.tail(wait_s=_DRAIN_GRACE_S, secrets=secrets)
    exit_code = None if timed_out else process.returncode
    return CommandResult(shown_command, exit_code, timed_out, duration, tail)


def _command_problem(result: CommandResult, label: str, timeout_s: float) -> str:
    if result.timed_out:
        return f"{label} timed out after {timeout_s:g} s"
    if result.exit_code is None:
        return f"{label} could not start"
    if result.exit_code < 0:
        return f"{label} killed by signal {-result.exit_code}"
    if result.exit_code != 0:
        return f"{label} exited {result.exit_code}"
    return ""


def wait_until_healthy(
    *, client: httpx.Client, url: str, timeout_s: float, poll_s: float = 0.2
) -> CheckResult:
    """Poll ``url`` until it answers 2xx or ``timeout_s`` runs out (kind "health").

    Each attempt gets whatever time is left, so a server slow to answer its first request is
    not cut short by the polling.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    last = "no attempt made"
    details: tuple[str, ...] = ()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        attempt = check_health(client=client, url=url, timeout_s=remaining)
        details = attempt.details
        if attempt.ok:
            return CheckResult(
                "server answers", "health", True, "", time.monotonic() - start, details
            )
        last = attempt.reason
        pause = min(poll_s, deadline - time.monotonic())
        if pause > 0:
            time.sleep(pause)
    reason = f"not healthy within {timeout_s:g} s (last: {last})"
    return CheckResult("server answers", "health", False, reason, time.monotonic() - start, details)


def restart_service(
    *,
    command: str,
    cwd: Path,
    command_timeout_s: float,
    health_url: str,
    ready_timeout_s: float,
    client: httpx.Client,
    env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> CheckResult:
    """Run the restart command, then wait for the health URL (kind "restart", "server starts").

    ok iff the command exits 0 and the URL answers 2xx within ``ready_timeout_s`` of the
    command's exit. details: the command's output tail, then the last health probe.
    """
    start = time.monotonic()
    ran = run_command(
        command=command, cwd=cwd, timeout_s=command_timeout_s, env=env, secrets=secrets
    )
    problem = _command_problem(ran, "restart command", command_timeout_s)
    if problem:
        return CheckResult(
            "server starts", "restart", False, problem, time.monotonic() - start, ran.output_tail
        )
    health = wait_until_healthy(client=client, url=health_url, timeout_s=ready_timeout_s)
    details = ran.output_tail + health.details
    return CheckResult(
        "server starts", "restart", health.ok, health.reason, time.monotonic() - start, details
    )


def run_validate_command(
    *,
    command: str,
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> CheckResult:
    """Run the project's own validation (``npm run validate:phase2``); ok iff it exits 0."""
    ran = run_command(command=command, cwd=cwd, timeout_s=timeout_s, env=env, secrets=secrets)
    problem = _command_problem(ran, "validate command", timeout_s)
    return CheckResult(
        "validate command", "validate", not problem, problem, ran.duration_s, ran.output_tail
    )
