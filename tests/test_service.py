"""Commands, restarts and health waits with real processes and a real server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actions.checks.service import (
    restart_service,
    run_command,
    run_validate_command,
    wait_until_healthy,
)
from tests.httpservers import free_port, serve


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody reaped yet (PID 1 here may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as shared:
        yield shared


# -- run_command ----------------------------------------------------------------------------------


def test_run_command_success_reports_exit_0_and_output(tmp_path: Path) -> None:
    result = run_command(command="echo hello; pwd", cwd=tmp_path, timeout_s=10)
    assert (result.exit_code, result.timed_out) == (0, False)
    assert result.output_tail == ("hello", str(tmp_path))
    assert result.command == "echo hello; pwd"


def test_run_command_failure_keeps_its_exit_code_and_stderr(tmp_path: Path) -> None:
    result = run_command(command="echo oops >&2; exit 3", cwd=tmp_path, timeout_s=10)
    assert (result.exit_code, result.timed_out) == (3, False)
    assert result.output_tail == ("oops",)


def test_run_command_passes_the_given_environment(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PHASE": "phase2"}
    result = run_command(command='echo "$PHASE"', cwd=tmp_path, timeout_s=10, env=env)
    assert result.output_tail == ("phase2",)


def test_run_command_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_command(
        command="sleep 60 & echo $! > child.pid; sleep 60", cwd=tmp_path, timeout_s=0.5
    )
    elapsed = time.monotonic() - started
    assert (result.exit_code, result.timed_out) == (None, True)
    assert elapsed < 3
    child = int((tmp_path / "child.pid").read_text())
    assert _gone_within(child, 3), f"background child {child} survived the timeout"


def test_run_command_returns_when_the_command_exits_despite_a_lingering_child(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    result = run_command(
        command="(sleep 3; echo late) & echo $! > child.pid; echo done", cwd=tmp_path, timeout_s=10
    )
    assert time.monotonic() - started < 2
    assert (result.exit_code, result.output_tail) == (0, ("done",))
    os.kill(int((tmp_path / "child.pid").read_text()), signal.SIGTERM)


def test_run_command_keeps_only_the_last_lines(tmp_path: Path) -> None:
    result = run_command(
        command="i=0; while [ $i -lt 1000 ]; do i=$((i+1)); echo line $i; done",
        cwd=tmp_path,
        timeout_s=10,
        tail_lines=5,
    )
    assert result.output_tail == tuple(f"line {n}" for n in range(996, 1001))


def test_run_command_caps_each_line(tmp_path: Path) -> None:
    result = run_command(
        command="head -c 100000 /dev/zero | tr '\\0' x; echo; echo after",
        cwd=tmp_path,
        timeout_s=10,
    )
    assert len(result.output_tail) == 2
    assert 0 < len(result.output_tail[0]) <= 300
    assert result.output_tail[0].endswith("…")
    assert result.output_tail[1] == "after"


def test_run_command_large_output_is_streamed_not_accumulated(tmp_path: Path) -> None:
    result = run_command(
        command="yes 0123456789abcdef | head -n 3000000; echo end", cwd=tmp_path, timeout_s=30
    )
    assert result.exit_code == 0
    assert result.output_tail[-1] == "end"
    assert len(result.output_tail) == 20


def test_run_command_redacts_url_passwords_and_given_secrets(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TOKEN": "tok-0123456789"}
    result = run_command(
        command='echo postgres://u:hunter2@h/db; echo "$TOKEN"; echo xoxb-1-2-abc',
        cwd=tmp_path,
        timeout_s=10,
        env=env,
        secrets=("tok-0123456789",),
    )
    text = "\n".join(result.output_tail)
    assert "hunter2" not in text and "tok-0123456789" not in text and "xoxb-1" not in text
    assert "postgres://u:[redacted]@h/db" in text
    assert "hunter2" not in result.command


def test_run_command_redacts_the_command(tmp_path: Path) -> None:
    result = run_command(
        command="true s3cret-value", cwd=tmp_path, timeout_s=10, secrets=("s3cret-value",)
    )
    assert result.command == "true [redacted]"


def test_run_command_missing_directory_is_a_result(tmp_path: Path) -> None:
    result = run_command(command="true", cwd=tmp_path / "nowhere", timeout_s=5)
    assert (result.exit_code, result.timed_out) == (None, False)
    assert result.output_tail[0].startswith("could not start the command: No such file")


# -- wait_until_healthy ---------------------------------------------------------------------------


def test_wait_until_healthy_answering_server_is_ok(client: httpx.Client) -> None:
    with serve() as service:
        result = wait_until_healthy(client=client, url=service.url("/healthy"), timeout_s=5)
    assert (result.ok, result.kind) == (True, "health")


def test_wait_until_healthy_reports_the_last_problem(client: httpx.Client) -> None:
    with serve() as service:
        result = wait_until_healthy(
            client=client, url=service.url("/fail"), timeout_s=0.5, poll_s=0.05
        )
        attempts = service.hits("/fail")
    assert result.reason == "not healthy within 0.5 s (last: HTTP 500)"
    assert 2 <= attempts <= 20


# -- restart_service ------------------------------------------------------------------------------


@pytest.fixture
def started_servers(tmp_path: Path) -> Iterator[Path]:
    """Where the restart command records its server's pid; every such server is stopped."""
    pid_file = tmp_path / "server.pid"
    yield pid_file
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
        assert _gone_within(pid, 5)


def test_restart_service_starts_a_real_server(
    tmp_path: Path, client: httpx.Client, started_servers: Path
) -> None:
    port = free_port()
    command = (
        f"setsid {sys.executable} -m http.server {port} --bind 127.0.0.1 "
        f"> server.log 2>&1 < /dev/null & echo $! > {started_servers.name}; echo restarted"
    )
    result = restart_service(
        command=command,
        cwd=tmp_path,
        command_timeout_s=10,
        health_url=f"http://127.0.0.1:{port}/",
        ready_timeout_s=10,
        client=client,
    )
    assert result.ok, result
    assert (result.name, result.kind) == ("server starts", "restart")
    assert result.details[0] == "restarted"
    assert result.details[-1].startswith("GET / -> 200 in ")
    assert _alive(int(started_servers.read_text()))


def test_restart_service_failing_command_is_named(
    tmp_path: Path, client: httpx.Client, started_servers: Path
) -> None:
    result = restart_service(
        command="echo 'pm2: process autolytiq not found' >&2; exit 1",
        cwd=tmp_path,
        command_timeout_s=10,
        health_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout_s=5,
        client=client,
    )
    assert (result.ok, result.reason) == (False, "restart command exited 1")
    assert result.details == ("pm2: process autolytiq not found",)


def test_restart_service_hung_command_times_out(tmp_path: Path, client: httpx.Client) -> None:
    started = time.monotonic()
    result = restart_service(
        command="sleep 30",
        cwd=tmp_path,
        command_timeout_s=0.3,
        health_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout_s=5,
        client=client,
    )
    assert (result.ok, result.reason) == (False, "restart command timed out after 0.3 s")
    assert time.monotonic() - started < 3


def test_restart_service_never_healthy_says_why(tmp_path: Path, client: httpx.Client) -> None:
    started = time.monotonic()
    result = restart_service(
        command="true",
        cwd=tmp_path,
        command_timeout_s=5,
        health_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout_s=0.5,
        client=client,
    )
    assert not result.ok
    assert result.reason == "not healthy within 0.5 s (last: connection refused)"
    assert 0.5 <= time.monotonic() - started < 3


def test_restart_service_redacts_secrets_in_details(tmp_path: Path, client: httpx.Client) -> None:
    result = restart_service(
        command="echo connecting to postgres://app:pa55word@db/app; exit 2",
        cwd=tmp_path,
        command_timeout_s=5,
        health_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout_s=1,
        client=client,
    )
    assert result.reason == "restart command exited 2"
    assert "pa55word" not in repr(result)


# -- run_validate_command -------------------------------------------------------------------------


def test_run_validate_command_exit_0_is_ok(tmp_path: Path) -> None:
    result = run_validate_command(command="echo all good", cwd=tmp_path, timeout_s=10)
    assert (result.ok, result.name, result.kind) == (True, "validate command", "validate")
    assert result.details == ("all good",)


def test_run_validate_command_failure_is_named(tmp_path: Path) -> None:
    result = run_validate_command(command="echo 'FAIL deals'; exit 1", cwd=tmp_path, timeout_s=10)
    assert (result.ok, result.reason) == (False, "validate command exited 1")
    assert result.details == ("FAIL deals",)


def test_run_validate_command_timeout_is_named(tmp_path: Path) -> None:
    result = run_validate_command(command="sleep 30", cwd=tmp_path, timeout_s=0.3)
    assert (result.ok, result.reason) == (False, "validate command timed out after 0.3 s")


def test_run_validate_command_killed_by_signal_is_named(tmp_path: Path) -> None:
    result = run_validate_command(command="kill -9 $$", cwd=tmp_path, timeout_s=10)
    assert (result.ok, result.reason) == (False, "validate command killed by signal 9")
