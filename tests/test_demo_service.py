"""The demo service: real processes on 127.0.0.1, run from a real sandbox repo."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.local.demo.control import PIDFILE_NAME
from bot.local.demo.sandbox import (
    TAG_T8,
    Sandbox,
    SandboxError,
    build_sandbox,
    service_command,
    start_service,
    stop_service,
)

LINE_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR) \S")
EMAIL_BODY = {"to": "test@example.com", "subject": "Rollback Test", "body": "after rollback"}


def instances(repo: Path) -> list[int]:
    """Live demo_service serve processes for repo, found independently of the pidfile."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if (
            state != "Z"
            and b"serve" in args
            and str(repo).encode() in args
            and any(a.endswith(b"demo/service.py") for a in args)
        ):
            found.append(int(entry.name))
    return found


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sb = build_sandbox(tmp_path / "sandbox")
    yield sb
    stop_service(sb)  # finalizer: never leave a server behind, even when the test failed
    assert instances(sb.repo) == []


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    # 5 s: above the 2.5 s slow customer search, bounded all the same.
    with httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        yield http


def login(client: httpx.Client) -> None:
    response = client.post("/login", json={"username": "dana"})
    assert response.status_code == 200 and "connect.sid" in client.cookies


def restart_via_config(sandbox: Sandbox) -> subprocess.CompletedProcess[str]:
    """Run service.restart from the config the way the bot does: a shell command in git.path."""
    config = tomllib.loads(sandbox.config_path.read_text(encoding="utf-8"))
    return subprocess.run(
        ["/bin/sh", "-c", config["service"]["restart"]],
        cwd=sandbox.repo, capture_output=True, text=True, timeout=40,
    )  # fmt: skip


def test_restart_command_from_config_starts_service(sandbox: Sandbox, client: httpx.Client) -> None:
    done = restart_via_config(sandbox)
    assert done.returncode == 0, done.stderr
    health = client.get("/healthz")
    assert health.status_code == 200
    pidfile_pid = int((sandbox.repo / PIDFILE_NAME).read_text().strip())
    assert health.json()["pid"] == pidfile_pid and instances(sandbox.repo) == [pidfile_pid]


def test_service_at_tip_answers_2xx_except_email_endpoints(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    start_service(sandbox)
    login(client)
    assert client.get("/").status_code == 200 and "Autolytiq" in client.get("/").text
    assert client.get("/api/deals").json()[0]["stage"] == "qualified"  # migration 0002 is there
    assert (
        client.post("/api/deals", json={"title": "Ada trade-in", "amount": 9000}).status_code == 201
    )
    started = time.monotonic()
    found = client.get("/api/customers", params={"search": "birch"})
    assert found.status_code == 200 and [c["name"] for c in found.json()] == ["Birch Auto Group"]
    assert time.monotonic() - started >= 2.0  # server/slow-query.ts is in the tip
    assert client.get("/api/email/messages").status_code == 500
    assert client.post("/api/email/send", json=EMAIL_BODY).status_code == 500
    assert client.get("/inbox").status_code == 500
    log = sandbox.log_file.read_text(encoding="utf-8").splitlines()
    assert any("ERROR" in line and "email-config" in line for line in log)
    assert any("slow query" in line for line in log)
    assert all(LINE_FORMAT.match(line) for line in log), log


def test_service_after_reset_to_t8h_and_restart_answers_email_endpoints(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    start_service(sandbox)
    subprocess.run(
        ["git", "reset", "-q", "--hard", TAG_T8], cwd=sandbox.repo, check=True, timeout=30
    )
    assert client.get("/api/email/messages").status_code == 500  # code is read at start-up
    log_size = sandbox.log_file.stat().st_size
    start_service(sandbox)
    login(client)
    assert client.post("/api/email/send", json=EMAIL_BODY).status_code == 202
    messages = client.get("/api/email/messages")
    assert messages.status_code == 200 and messages.json()[-1]["subject"] == "Rollback Test"
    assert client.get("/inbox").status_code == 200
    started = time.monotonic()
    assert client.get("/api/customers").status_code == 200
    assert time.monotonic() - started < 2.0
    assert "stage" not in client.get("/api/deals").json()[0]
    new_lines = sandbox.log_file.read_bytes()[log_size:].decode("utf-8")
    assert "ERROR" not in new_lines and "slow" not in new_lines


def test_service_login_cookie_gates_inbox_and_deal_creation(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    subprocess.run(
        ["git", "reset", "-q", "--hard", TAG_T8], cwd=sandbox.repo, check=True, timeout=30
    )
    start_service(sandbox)
    assert client.get("/inbox").status_code == 401
    assert client.get("/inbox", headers={"Cookie": "connect.sid=forged"}).status_code == 401
    assert client.post("/api/deals", json={"title": "x"}).status_code == 401
    assert client.get("/api/deals").status_code == 200  # the read API stays open
    login(client)
    assert client.get("/inbox").status_code == 200
    assert client.post("/api/deals", json={"title": "Cobalt fleet"}).status_code == 201
    assert client.post("/api/deals", json={"title": ""}).status_code == 400
    assert client.post("/api/email/send", content=b"{not json").status_code == 400


def test_restart_twice_leaves_exactly_one_process(sandbox: Sandbox, client: httpx.Client) -> None:
    start_service(sandbox)
    first = client.get("/healthz").json()["pid"]
    start_service(sandbox)
    second = client.get("/healthz").json()["pid"]
    assert second != first
    assert instances(sandbox.repo) == [second]


def test_stop_stops_service_and_removes_pidfile(sandbox: Sandbox, client: httpx.Client) -> None:
    start_service(sandbox)
    assert client.get("/healthz").status_code == 200
    stop_service(sandbox)
    assert instances(sandbox.repo) == []
    assert not (sandbox.repo / PIDFILE_NAME).exists()
    with pytest.raises(httpx.ConnectError):
        client.get("/healthz")


def test_restart_fails_clearly_when_code_cannot_start(sandbox: Sandbox) -> None:
    with (sandbox.repo / "server" / "routes.ts").open("a", encoding="utf-8") as fh:
        fh.write("BROKEN\n")  # the procedure's rollback drill
    with pytest.raises(SandboxError, match=r"(?s)exited with code 1 during start-up.*BROKEN"):
        start_service(sandbox)
    assert instances(sandbox.repo) == []


def test_stop_leaves_foreign_pid_in_pidfile_alone(sandbox: Sandbox) -> None:
    foreign = subprocess.Popen(["sleep", "30"])
    try:
        (sandbox.repo / PIDFILE_NAME).write_text(f"{foreign.pid}\n")
        done = subprocess.run(service_command(sandbox, "stop"), capture_output=True, timeout=30)
        assert done.returncode == 0
        assert foreign.poll() is None  # still running: not a demo_service, so not ours to kill
    finally:
        foreign.send_signal(signal.SIGTERM)
        foreign.wait(timeout=10)
