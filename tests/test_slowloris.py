"""Slowloris through ``rollback-bot serve``: idle half-sent connections must not lock Slack out.

Each idle socket sends the start of a request and then nothing, as a slowloris client does. The
server must keep answering ``/healthz`` and signed commands while they are held, and must close
them itself before long.
"""

from __future__ import annotations

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.local.emulator import SlackEmulator, SlackSender
from bot.server import OPEN_FILES_WANTED
from tests.conftest import SIGNING_SECRET
from tests.servehelp import ServeProcess, bot_env

# More than the old connection_limit of 200, which this many idle sockets used to exhaust.
IDLE_CONNECTIONS = 250
# Generous on a shared 2-CPU box; the latency itself is measured by bench/slowloris.py.
ANSWER_WITHIN_S = 5.0
# The server reaps a silent connection after channel_timeout plus at most one cleanup interval
# and one loop tick (about 7 s); the bound only stops a broken server from hanging the test.
CLOSED_WITHIN_S = 20.0
HALF_SENT = (
    b"POST /slack/events HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"X-Slack-Request-Timestamp: 17"
)


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as running:
        yield running


def _env(emulator: SlackEmulator) -> dict[str, str]:
    return bot_env(
        SLACK_BOT_TOKEN=emulator.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.api_url,
    )


def _stop(process: ServeProcess, emulator: SlackEmulator) -> None:
    code, output = process.stop()
    assert code == 0, output
    assert emulator.bot_token not in output and SIGNING_SECRET not in output


@pytest.fixture
def served(config_path: Path, emulator: SlackEmulator) -> Iterator[ServeProcess]:
    process = ServeProcess(config_path, _env(emulator))
    try:
        process.wait_healthy()
        yield process
    finally:
        _stop(process, emulator)


@pytest.fixture
def idle_sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def _open_half_sent(port: int, count: int, into: list[socket.socket]) -> None:
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN_S)
        into.append(sock)
        sock.sendall(HALF_SENT)


def _still_open(sock: socket.socket) -> bool:
    """True while the server has neither closed nor answered: nothing to read, no EOF."""
    sock.setblocking(False)  # a socket with a timeout would wait that long for the answer
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _replies(emulator: SlackEmulator) -> list[str]:
    return [m.text for m in emulator.messages() if m.via == "response_url"]


def test_serve_answers_health_and_commands_while_idle_connections_are_held(
    served: ServeProcess, emulator: SlackEmulator, idle_sockets: list[socket.socket]
) -> None:
    _open_half_sent(served.port, IDLE_CONNECTIONS, idle_sockets)

    started = time.perf_counter()
    health = httpx.get(served.url + "/healthz", timeout=ANSWER_WITHIN_S)
    assert health.status_code == 200
    assert time.perf_counter() - started < ANSWER_WITHIN_S
    # The load was really there when /healthz answered: none of it had been closed yet.
    assert sum(_still_open(sock) for sock in idle_sockets) == IDLE_CONNECTIONS

    with SlackSender(
        events_url=served.url + "/slack/events",
        signing_secret=SIGNING_SECRET,
        emulator=emulator,
        timeout_s=ANSWER_WITHIN_S,
    ) as sender:
        sent = sender.slash_command("/rollback", "help", user_id="U0ENG")
    assert sent.status == 200
    assert sent.elapsed_s < ANSWER_WITHIN_S
    assert emulator.wait_for(lambda e: bool(_replies(e)), timeout=ANSWER_WITHIN_S)


def test_serve_closes_an_idle_half_sent_connection(
    served: ServeProcess, idle_sockets: list[socket.socket]
) -> None:
    _open_half_sent(served.port, 1, idle_sockets)
    sock = idle_sockets[0]
    sock.settimeout(CLOSED_WITHIN_S)
    try:
        got = sock.recv(1024)
    except ConnectionResetError:
        got = b""
    except TimeoutError:
        pytest.fail(f"the server still held the half-sent connection after {CLOSED_WITHIN_S} s")
    assert got == b"", "the server answered a request it never fully received"


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc/<pid>/limits")
def test_serve_raises_a_low_open_files_limit_at_start_up(
    config_path: Path, emulator: SlackEmulator
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 256
    if hard != resource.RLIM_INFINITY and hard <= low:
        pytest.skip(f"the hard open-files limit ({hard}) leaves nothing to raise")
    # The child inherits the limit at fork; restore ours as soon as it is started.
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        process = ServeProcess(config_path, _env(emulator))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        process.wait_healthy()
        limits = Path(f"/proc/{process.process.pid}/limits").read_text()
    finally:
        _stop(process, emulator)
    line = next(row for row in limits.splitlines() if row.startswith("Max open files"))
    served_soft = int(line.split()[3])
    expected = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(OPEN_FILES_WANTED, hard)
    assert served_soft == expected
