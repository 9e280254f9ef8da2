"""Socket Mode keeps working through the ways a link breaks: cut, half-open, refreshed by Slack.

``rollback-bot serve`` runs as a real process against the emulator's Socket Mode endpoint, whose
relay breaks the link on demand. After each break, a new connection must be open within 10 s and
a slash command sent through it must be acked within Slack's 3 s and answered.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.socket_mode.client import BaseSocketModeClient as SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from bot.local.emulator import SlackEmulator
from bot.socket_mode import _ReconnectingClient
from store import SqliteStore
from tests.servehelp import ServeProcess, bot_env

APP_TOKEN = "xapp-1-A0ROLLBACK-reconnect-secret"
RECONNECT_WITHIN_S = 10.0
SLACK_ACK_LIMIT_S = 3.0
# "Well within" Slack's limit: an ack this late already means a client stuck on its switch.
PROMPT_ACK_S = 1.0
START_TIMEOUT_S = 20.0
REPLY_TIMEOUT_S = 15.0


@dataclass
class SocketBot:
    emulator: SlackEmulator
    process: ServeProcess
    config_path: Path
    commands: int = 0

    def command_is_acked_and_answered(self, *, within_s: float = SLACK_ACK_LIMIT_S) -> float:
        """Send ``/rollback status``; assert it is acked in time and answered; the ack's latency."""
        self.commands += 1
        envelope_id = f"env-{self.commands}"
        started = time.monotonic()
        ack = self.emulator.socket_slash_command(
            "/rollback", "status", user_id="U0ENG", envelope_id=envelope_id, timeout=within_s
        )
        latency = time.monotonic() - started
        assert ack is not None, f"no ack within {within_s} s"
        assert ack["envelope_id"] == envelope_id
        expected = self.commands
        assert self.emulator.wait_for(
            lambda e: len(_replies(e)) >= expected, timeout=REPLY_TIMEOUT_S
        ), "the command was acked but never answered"
        return latency

    def assert_each_command_ran_once(self) -> None:
        # Nothing was run twice, as an envelope read on both the old and the new link would be.
        assert _timeline_actions(self.config_path) == ["slash_command"] * self.commands


def _replies(emulator: SlackEmulator) -> list[str]:
    return [m.text for m in emulator.messages() if m.via == "response_url"]


def _timeline_actions(config_path: Path) -> list[str]:
    store = SqliteStore(config_path.parent / "rollback-bot.db")
    try:
        return [event.action for event in store.timeline()]
    finally:
        store.close()


@pytest.fixture
def socket_bot(config_path: Path) -> Iterator[SocketBot]:
    with SlackEmulator(app_token=APP_TOKEN) as emulator:
        env = bot_env(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET="unused-in-socket-mode",
            SLACK_API_URL=emulator.api_url,
            SLACK_APP_TOKEN=APP_TOKEN,
        )
        bot = SocketBot(emulator, ServeProcess(config_path, env), config_path)
        try:
            assert emulator.wait_for(
                lambda e: bool(e.calls("apps.connections.open")), timeout=START_TIMEOUT_S
            )
            assert emulator.socket_mode.wait_opened(1, timeout=START_TIMEOUT_S) is not None
            bot.command_is_acked_and_answered()
            yield bot
        finally:
            code, output = bot.process.stop()
        assert code == 0, output
        assert APP_TOKEN not in output


def _break_and_time_reconnect(bot: SocketBot, breaker: Callable[[], int]) -> float:
    """Break the link with ``breaker``; seconds until the bot's next connection opened."""
    endpoint = bot.emulator.socket_mode
    opened = endpoint.opened_count
    broke_at = time.monotonic()
    assert breaker() == 1, "expected the bot's one connection to break"
    reopened_at = endpoint.wait_opened(opened + 1, timeout=RECONNECT_WITHIN_S)
    assert reopened_at is not None, f"no new connection within {RECONNECT_WITHIN_S} s"
    return reopened_at - broke_at


def test_socket_mode_abrupt_drop_reconnects_within_10s(socket_bot: SocketBot) -> None:
    endpoint = socket_bot.emulator.socket_mode
    for _ in range(2):  # the second time on the connection that replaced the first
        took = _break_and_time_reconnect(socket_bot, endpoint.drop_connections)
        assert took < RECONNECT_WITHIN_S
        socket_bot.command_is_acked_and_answered()
    assert endpoint.wait_connection_count(1, timeout=RECONNECT_WITHIN_S)
    socket_bot.assert_each_command_ran_once()


def test_socket_mode_half_open_link_is_noticed_and_replaced_within_10s(
    socket_bot: SocketBot,
) -> None:
    endpoint = socket_bot.emulator.socket_mode
    for _ in range(2):  # the second time on the connection that replaced the first
        took = _break_and_time_reconnect(socket_bot, endpoint.go_silent)
        assert took < RECONNECT_WITHIN_S
        socket_bot.command_is_acked_and_answered()
    # The silent connections were given up, not kept beside their replacements.
    assert endpoint.wait_connection_count(1, timeout=RECONNECT_WITHIN_S)
    socket_bot.assert_each_command_ran_once()


def test_socket_mode_refresh_keeps_acks_prompt_on_both_sides_of_the_switch(
    socket_bot: SocketBot,
) -> None:
    endpoint = socket_bot.emulator.socket_mode
    for _ in range(2):
        opened = endpoint.opened_count
        refreshed_at = time.monotonic()
        assert endpoint.request_refresh() == 1
        # Sent at once, while the bot is switching: on the old connection or the new, it waits
        # on neither the switch nor the old connection's close.
        assert socket_bot.command_is_acked_and_answered(within_s=PROMPT_ACK_S) < PROMPT_ACK_S
        reopened_at = endpoint.wait_opened(opened + 1, timeout=RECONNECT_WITHIN_S)
        assert reopened_at is not None, "the bot did not open a new connection on the refresh"
        assert reopened_at - refreshed_at < RECONNECT_WITHIN_S
        # Sent as soon as the new connection is up: it must be read there at once.
        assert socket_bot.command_is_acked_and_answered(within_s=PROMPT_ACK_S) < PROMPT_ACK_S
    # Each refreshed connection is closed by the bot once replaced, not left open.
    assert endpoint.wait_connection_count(1, timeout=RECONNECT_WITHIN_S)
    socket_bot.assert_each_command_ran_once()


def test_socket_mode_failed_reconnects_are_retried_until_slack_answers(
    socket_bot: SocketBot,
) -> None:
    endpoint = socket_bot.emulator.socket_mode
    endpoint.refuse_connections(True)
    opened = endpoint.opened_count
    assert endpoint.drop_connections() == 1
    # At once on the drop, then again on the monitor's next rounds: the bot does not give up.
    assert endpoint.wait_refused(2, timeout=RECONNECT_WITHIN_S), "the bot stopped retrying"
    endpoint.refuse_connections(False)
    back_at = time.monotonic()
    reopened_at = endpoint.wait_opened(opened + 1, timeout=RECONNECT_WITHIN_S)
    assert reopened_at is not None, "no connection once Slack answered again"
    assert reopened_at - back_at < RECONNECT_WITHIN_S
    socket_bot.command_is_acked_and_answered()
    socket_bot.assert_each_command_ran_once()


# -- the emulator's failure modes themselves ------------------------------------------------------


@pytest.fixture
def raw_link() -> Iterator[tuple[SlackEmulator, ClientConnection]]:
    """A bare WebSocket client on the emulator's endpoint, past Slack's ``hello``."""
    with SlackEmulator(app_token=APP_TOKEN) as emulator:
        url = WebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)
        with connect(str(url["url"]), ping_interval=None, open_timeout=5, close_timeout=1) as link:
            assert json.loads(link.recv(timeout=5))["type"] == "hello"
            assert emulator.socket_mode.wait_opened(1, timeout=5) is not None
            yield emulator, link


def test_socket_mode_emulator_drop_ends_the_link_without_a_close_frame(
    raw_link: tuple[SlackEmulator, ClientConnection],
) -> None:
    emulator, link = raw_link
    assert emulator.socket_mode.drop_connections() == 1
    with pytest.raises(ConnectionClosedError) as closed:
        link.recv(timeout=5)
    assert closed.value.rcvd is None  # no close frame came from the server


def test_socket_mode_emulator_silence_swallows_pings_and_envelopes(
    raw_link: tuple[SlackEmulator, ClientConnection],
) -> None:
    emulator, link = raw_link
    assert link.ping().wait(timeout=5), "a healthy link answers pings"
    assert emulator.socket_mode.go_silent() == 1
    assert not link.ping().wait(timeout=1), "a half-open link answered a ping"
    assert emulator.socket_mode.send("events_api", {"type": "probe"}, timeout=0.5) is None
    # The server keeps its end: nothing told it the link is gone.
    assert emulator.socket_mode.connection_count == 1


def test_socket_mode_emulator_refresh_sends_slacks_disconnect_message(
    raw_link: tuple[SlackEmulator, ClientConnection],
) -> None:
    emulator, link = raw_link
    assert emulator.socket_mode.request_refresh() == 1
    message = json.loads(link.recv(timeout=5))
    assert message["type"] == "disconnect"
    assert message["reason"] == "refresh_requested"
    # Slack then waits for the app to replace it: the connection is not closed under it.
    assert emulator.socket_mode.connection_count == 1


# -- the client's own guarantees, in process -------------------------------------------------------


def test_socket_mode_ack_goes_back_on_the_connection_its_envelope_came_in_on() -> None:
    """An envelope read on a new connection before it is made current is still acked.

    This is the instant inside a reconnect between the new connection opening (Slack sends on
    it at once) and ``connect`` making it current: the old, silent one must not get the ack.
    """
    with SlackEmulator(app_token=APP_TOKEN) as emulator:
        web = WebClient(base_url=emulator.api_url)
        client = _ReconnectingClient(APP_TOKEN, web_client=web, logger=logging.getLogger("t"))

        def ack(client: SocketModeClient, request: SocketModeRequest) -> None:
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

        client.socket_mode_request_listeners.append(ack)
        try:
            client.connect()
            silent = client.current_session
            assert emulator.socket_mode.go_silent() == 1
            # Opened, not yet current: the state connect() is in just before its assignment.
            fresh = client._open(client.issue_new_wss_url())
            assert client.current_session is silent
            acked = emulator.socket_mode.send("events_api", {"type": "probe"}, timeout=3)
            assert acked is not None, "the ack went out on the silent connection"
            fresh.close(timeout=0)
        finally:
            client.close()
