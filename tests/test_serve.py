"""End to end through ``rollback-bot serve``: signed requests in, Web API calls out to the emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bot.deps import AFTER_ACK_WORKERS
from bot.local.emulator import SentRequest, SlackEmulator, SlackSender
from bot.signing import sign
from store import SqliteStore
from tests.conftest import SIGNING_SECRET
from tests.gitrepo import PhaseRepo, git
from tests.servehelp import ServeProcess, bot_env, run_cli


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as running:
        yield running


@pytest.fixture
def served(config_path: Path, emulator: SlackEmulator) -> Iterator[ServeProcess]:
    env = bot_env(
        SLACK_BOT_TOKEN=emulator.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.api_url,
    )
    process = ServeProcess(config_path, env)
    try:
        process.wait_healthy()
        yield process
    finally:
        code, output = process.stop()
        assert code == 0, output
        assert emulator.bot_token not in output and SIGNING_SECRET not in output


@pytest.fixture
def sender(served: ServeProcess, emulator: SlackEmulator) -> Iterator[SlackSender]:
    with SlackSender(
        events_url=served.url + "/slack/events", signing_secret=SIGNING_SECRET, emulator=emulator
    ) as client:
        yield client


def _replies(emulator: SlackEmulator) -> list[str]:
    return [m.text for m in emulator.messages() if m.via == "response_url"]


MARKER = "U0MARKER"


def _after_a_marker(sender: SlackSender, emulator: SlackEmulator) -> None:
    """Send one more, signed command and wait for its reply: the event after which anything
    wrongly queued before it would have run (the bot runs work first in, first out)."""
    sender.slash_command("/rollback", "help", user_id=MARKER)
    assert emulator.wait_for(
        lambda e: any(m.ephemeral_to == MARKER for m in e.messages()), timeout=15
    )


def _timeline_actions(config_path: Path) -> list[str]:
    store = SqliteStore(config_path.parent / "rollback-bot.db")
    try:
        return [event.action for event in store.timeline()]
    finally:
        store.close()


def test_serve_signed_status_replies_through_emulator(
    sender: SlackSender, emulator: SlackEmulator, phase_repo: PhaseRepo, config_path: Path
) -> None:
    sent = sender.slash_command("/rollback", "status", user_id="U0ENG")
    assert sent.status == 200
    assert emulator.wait_for(lambda e: bool(_replies(e)), timeout=10)
    reply = next(m for m in emulator.messages() if m.via == "response_url")
    assert reply.ephemeral_to == "U0ENG"
    rendered = str(reply.blocks)
    assert phase_repo.head()[:7] in rendered
    assert "phase2-checkpoint-T+4h" in rendered
    assert "(in sync)" in rendered
    assert _timeline_actions(config_path) == ["slash_command"]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "unsigned"),
        (
            {"x-slack-request-timestamp": "{now}", "x-slack-signature": "v0=" + "0" * 64},
            "bad signature",
        ),
        ({"x-slack-request-timestamp": "{stale}", "x-slack-signature": "{stale_sig}"}, "stale"),
        ({"x-slack-request-timestamp": "{future}", "x-slack-signature": "{future_sig}"}, "future"),
        (
            {"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=00"},
            "non-numeric timestamp",
        ),
    ],
)
def test_serve_unverified_request_gets_401_and_does_nothing(
    sender: SlackSender,
    emulator: SlackEmulator,
    config_path: Path,
    headers: dict[str, str],
    why: str,
) -> None:
    body = b"command=%2Frollback&text=status&user_id=U0ENG&trigger_id=1.2.3&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fx"
    now = int(time.time())
    values = {
        "now": str(now),
        "stale": str(now - 301),
        "stale_sig": sign(signing_secret=SIGNING_SECRET, timestamp=now - 301, body=body),
        "future": str(now + 301),
        "future_sig": sign(signing_secret=SIGNING_SECRET, timestamp=now + 301, body=body),
    }
    filled = {k: v.format(**values) for k, v in headers.items()}
    filled["content-type"] = "application/x-www-form-urlencoded"
    sent = sender.send_raw(body, filled)
    assert sent.status == 401, why
    _after_a_marker(sender, emulator)
    assert [m.ephemeral_to for m in emulator.messages()] == [MARKER]
    assert _timeline_actions(config_path) == ["slash_command"]  # the marker's alone


def test_serve_redelivery_is_acknowledged_not_rerun(
    sender: SlackSender, emulator: SlackEmulator, config_path: Path
) -> None:
    first = sender.slash_command("/rollback", "status", user_id="U0ENG")
    again = sender.resend(first, retry_num=1)
    third = sender.resend(first, retry_num=2)
    assert (first.status, again.status, third.status) == (200, 200, 200)
    assert again.headers.get("x-slack-no-retry") == "1"
    assert emulator.wait_for(lambda e: bool(_replies(e)), timeout=10)
    _after_a_marker(sender, emulator)  # a wrongly re-run listener would have replied by now
    assert len([m for m in _replies(emulator)]) == 2  # the command's reply and the marker's
    assert _timeline_actions(config_path) == ["slash_command", "slash_command"]


def test_serve_acks_stay_fast_while_every_worker_is_busy(
    served: ServeProcess, emulator: SlackEmulator, phase_repo: PhaseRepo
) -> None:
    # ls-remote now takes 4 s, and more commands arrive than there are workers after the ack:
    # Slack must still get every acknowledgement at once, not after earlier work finishes.
    git(phase_repo.work, "config", "remote.origin.uploadpack", "sleep 4; git-upload-pack")
    count = AFTER_ACK_WORKERS + 4

    def send(index: int) -> SentRequest:
        with SlackSender(
            events_url=served.url + "/slack/events",
            signing_secret=SIGNING_SECRET,
            emulator=emulator,
        ) as sender:
            return sender.slash_command("/rollback", "status", user_id="U0ENG")

    with ThreadPoolExecutor(count) as pool:
        sent = list(pool.map(send, range(count)))
    # How fast the acks come back is a latency target: bench/ack_while_busy.py measures it.
    assert [s.status for s in sent] == [200] * count
    assert emulator.wait_for(lambda e: len(_replies(e)) == count, timeout=30)


def test_serve_health_and_routing(served: ServeProcess) -> None:
    health = httpx.get(served.url + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"ok": True, "store": "ok"}
    assert httpx.get(served.url + "/nope", timeout=5).status_code == 404
    assert httpx.get(served.url + "/slack/events", timeout=5).status_code == 405


def test_serve_bad_config_stops_with_one_line(tmp_path: Path, config_path: Path) -> None:
    config_path.write_text(config_path.read_text().replace('remote = "origin"', "remote = 7"))
    result = run_cli(
        ["serve", "--config", str(config_path)],
        bot_env(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s"),
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "rollback-bot: config error: git.remote: expected a git remote name such as 'origin', got an integer"
    )


def test_serve_missing_token_is_named(config_path: Path) -> None:
    result = run_cli(["serve", "--config", str(config_path)], bot_env(SLACK_SIGNING_SECRET="s"))
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr


def test_serve_refused_token_is_explained_without_the_token(
    config_path: Path, emulator: SlackEmulator
) -> None:
    env = bot_env(
        SLACK_BOT_TOKEN="xoxb-wrong-secret-value",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=emulator.api_url,
    )
    result = run_cli(["serve", "--config", str(config_path)], env)
    assert result.returncode == 2
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in result.stderr
    assert "xoxb-wrong-secret-value" not in result.stderr + result.stdout


def test_serve_socket_mode_runs_command_and_acks_once(config_path: Path) -> None:
    app_token = "xapp-1-A0ROLLBACK-socket-secret"
    with SlackEmulator(app_token=app_token) as emulator:
        env = bot_env(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET="unused-in-socket-mode",
            SLACK_API_URL=emulator.api_url,
            SLACK_APP_TOKEN=app_token,
        )
        process = ServeProcess(config_path, env)
        try:
            assert emulator.wait_for(lambda e: bool(e.calls("apps.connections.open")), timeout=20)
            assert emulator.socket_mode.wait_connected(timeout=20)
            ack = emulator.socket_slash_command(
                "/rollback", "status", user_id="U0ENG", envelope_id="env-1"
            )
            assert ack is not None and ack["envelope_id"] == "env-1"
            assert emulator.wait_for(lambda e: bool(_replies(e)), timeout=15)
            # Slack redelivers the same envelope after a missed ack: acked, not run again.
            again = emulator.socket_mode.send(
                "slash_commands",
                emulator.socket_mode.last_payload(),
                retry_attempt=1,
                retry_reason="timeout",
            )
            assert again is not None
            # A marker envelope after it: once its reply is in, a re-run would have replied.
            emulator.socket_slash_command("/rollback", "help", user_id=MARKER, envelope_id="env-2")
            assert emulator.wait_for(
                lambda e: any(m.ephemeral_to == MARKER for m in e.messages()), timeout=15
            )
            assert len([m for m in _replies(emulator) if "commands" not in m]) == 1
        finally:
            code, output = process.stop()
    assert code == 0, output
    assert app_token not in output
    assert _timeline_actions(config_path) == ["slash_command", "slash_command"]


def test_serve_refused_app_token_is_explained_without_the_token(config_path: Path) -> None:
    with SlackEmulator(app_token="xapp-the-right-one") as emulator:
        env = bot_env(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=emulator.api_url,
            SLACK_APP_TOKEN="xapp-1-A0-wrong-secret",
        )
        result = run_cli(["serve", "--config", str(config_path)], env)
    assert result.returncode == 2
    assert "Slack refused SLACK_APP_TOKEN for Socket Mode (invalid_auth)" in result.stderr
    assert "xapp-1-A0-wrong-secret" not in result.stderr + result.stdout


def test_serve_warns_at_start_when_nobody_could_approve_the_orchestrators_own(
    config_path: Path, emulator: SlackEmulator
) -> None:
    # The test config names one orchestrator, no escalation.fallback, requester_can_approve off.
    env = bot_env(
        SLACK_BOT_TOKEN=emulator.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.api_url,
    )
    process = ServeProcess(config_path, env)
    process.wait_healthy()
    code, output = process.stop()
    assert code == 0, output
    assert "four eyes: slack.orchestrators names only U0ORCH" in output, output
    assert "rollback-bot rollback --to <target>" in output
