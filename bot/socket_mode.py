"""Socket Mode: Slack pushes payloads over a WebSocket the bot opens; no public URL needed.

The client is slack_sdk's websocket-client one, chosen by ``bench/socket_reconnect.py``: after
a link cut without a close frame it reconnects at once and idles, where slack_sdk's built-in
client spins a core until its stale check fires (4 pings: 40 s at Bolt's default, still 10 s
at a 2 s ping). Its settings alone leave two gaps, which ``_ReconnectingClient`` closes:

- **A half-open link** (nothing gets through and no one says so) is never noticed: the SDK
  sends pings but does not give websocket-client a pong timeout. Here every connection runs
  with ``PING_TIMEOUT_S``.
- **A refresh** (Slack's ``disconnect`` / ``refresh_requested``) closes the old connection
  before the new one is even opened, and the new one starts only at the SDK runner's next tick:
  envelopes in between are lost, or acked seconds late. Here the new connection is opened
  first, made current, and the old one closed ``RETIRE_AFTER_S`` later, once nothing sent on it
  can still be in flight.

Each ack goes back on the connection its envelope came in on, not on whichever is current when
the handler finishes: an envelope read on a new connection in the instant before it is made
current would otherwise be acked on the dead one it replaces, and the ack lost.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict

import websocket
from slack_bolt import App
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientNotConnectedError
from slack_sdk.socket_mode.websocket_client import SocketModeClient

from bot.settings import Secret

# A ping every 3 s, and a connection whose pong is 1.5 s late is given up. websocket-client
# looks for a late pong only when its read loop wakes, every PING_TIMEOUT_S on an idle link,
# and only while the latest ping is more than PING_TIMEOUT_S old but not yet replaced by the
# next: a window of PING_INTERVAL_S - PING_TIMEOUT_S, which its wake-ups are sure to hit only
# if it is at least PING_TIMEOUT_S wide (at 3 s and 2 s, the wake-ups drifted past it for
# 8 s). So a dead link is noticed within 3 + 1.5 + 1.5 s: the next ping, its timeout, and the
# next wake-up. Slack's pong takes one round trip, a fraction of a second; 1.5 s leaves room
# for a slow network or a busy process.
PING_INTERVAL_S = 3.0
PING_TIMEOUT_S = 1.5
# Opening a connection (TCP, TLS, the WebSocket handshake) gets this long before the attempt is
# abandoned and left to the monitor, which tries again every PING_INTERVAL_S.
OPEN_TIMEOUT_S = 5.0
# A refreshed connection stays open this long after its replacement is up, so that envelopes
# Slack sent on it before switching still arrive and are read, not dropped by the close.
RETIRE_AFTER_S = 2.0
# Closing a connection waits this long for the server's close frame; a dead one sends none.
CLOSE_TIMEOUT_S = 1.0
# Envelopes remembered with the connection they came in on, until acked. Bolt acks every one
# within seconds; the bound only keeps an envelope that is never acked from being kept for ever.
ARRIVALS_KEPT = 1000

log = logging.getLogger("rollback_bot.socket")


class _ReconnectingClient(SocketModeClient):
    """slack_sdk's websocket-client Socket Mode client, each connection on a thread of its own.

    The SDK runs connections one after another on a single runner thread, so a new one cannot
    open while the old one still runs: that is why it closes the old one first. Giving each its
    own thread lets the new one open before the old one goes.
    """

    def __init__(self, app_token: str, *, web_client: WebClient, logger: logging.Logger) -> None:
        super().__init__(
            app_token=app_token,
            logger=logger,
            web_client=web_client,
            auto_reconnect_enabled=True,
            # Also the period of the SDK's monitor, the backstop that retries a failed reconnect.
            ping_interval=PING_INTERVAL_S,
        )
        # Connections run on their own threads (see connect); the SDK's runner has no work.
        self.current_session_runner.shutdown()  # type: ignore[no-untyped-call]
        self._arrivals: OrderedDict[str, websocket.WebSocketApp] = OrderedDict()
        self._arrivals_lock = threading.Lock()

    def _run_current_session(self) -> None:
        """Never run by the SDK's runner: see ``connect``."""

    def connect(self) -> None:
        """Open a connection, make it current, and only then retire the one it replaces."""
        if self.wss_uri is None:
            self.wss_uri = self.issue_new_wss_url()
        session = self._open(self.wss_uri)
        old, self.current_session = self.current_session, session
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        if not self.current_app_monitor_started:
            self.current_app_monitor_started = True
            self.current_app_monitor.start()
        if old is not None:
            retire = threading.Timer(RETIRE_AFTER_S, old.close, kwargs={"timeout": CLOSE_TIMEOUT_S})
            retire.daemon = True
            retire.start()
        self.logger.info("A new Socket Mode connection is open")

    def _open(self, url: str) -> websocket.WebSocketApp:
        settled = threading.Event()
        session = websocket.WebSocketApp(
            url,
            on_open=lambda ws: settled.set(),
            on_message=self._on_ws_message,
            on_error=self._on_ws_error,
            on_close=self._on_ws_close,
        )
        thread = threading.Thread(
            target=self._run, args=(session, settled), name="socket-mode-connection", daemon=True
        )
        thread.start()
        if not settled.wait(OPEN_TIMEOUT_S) or session.sock is None or not session.sock.connected:
            session.close(timeout=0)
            raise SlackClientNotConnectedError("the Socket Mode connection did not open")
        return session

    def _run(self, session: websocket.WebSocketApp, settled: threading.Event) -> None:
        try:
            session.run_forever(
                ping_interval=PING_INTERVAL_S,
                ping_timeout=PING_TIMEOUT_S,
                http_proxy_host=self.http_proxy_host,
                http_proxy_port=self.http_proxy_port,
                http_proxy_auth=self.http_proxy_auth,
                proxy_type=self.proxy_type,
            )
        except Exception as error:  # a thread's end: nothing above it would log this
            self.logger.warning(f"A Socket Mode connection failed: {type(error).__name__}")
        finally:
            # A connection that ends without opening must not keep connect() waiting.
            settled.set()

    def _on_ws_message(self, ws: websocket.WebSocketApp, message: str) -> None:
        # Envelopes from a retiring connection count too: Slack sent them before switching.
        envelope_id = _envelope_id(message)
        if envelope_id is not None:
            with self._arrivals_lock:
                self._arrivals[envelope_id] = ws
                while len(self._arrivals) > ARRIVALS_KEPT:
                    self._arrivals.popitem(last=False)
        self.enqueue_message(message)
        for listener in self.on_message_listeners:
            listener(ws, message)

    def send_message(self, message: str) -> None:
        """Send ``message``; an ack on the connection its envelope came in on, if still open."""
        envelope_id = _envelope_id(message)
        if envelope_id is not None:
            with self._arrivals_lock:
                arrived_on = self._arrivals.pop(envelope_id, None)
            if arrived_on is not None and arrived_on.sock is not None and arrived_on.sock.connected:
                try:
                    arrived_on.send(message)
                    return
                except (websocket.WebSocketException, OSError):
                    pass  # it closed under the send: the current connection is the way left
        super().send_message(message)

    def _on_ws_error(self, ws: websocket.WebSocketApp, error: Exception) -> None:
        for listener in self.on_error_listeners:
            listener(ws, error)
        # websocket-client reports a lost link here first, then closes the socket, which for a
        # half-open link means waiting out the close timeout: replacing it now saves that wait.
        # Other errors (a listener raising) leave the connection as it is.
        if isinstance(error, websocket.WebSocketException | OSError):
            self._replace(ws, f"{type(error).__name__}: {error}")

    def _on_ws_close(self, ws: websocket.WebSocketApp, code: object, reason: object) -> None:
        for listener in self.on_close_listeners:
            listener(ws)
        self._replace(ws, f"closed (code {code})")

    def _replace(self, dead: websocket.WebSocketApp, why: str) -> None:
        """Open a new connection in place of ``dead``, unless it is no longer the current one."""
        # Checked before the lock too: a connection that failed while connect() was opening it
        # reports from its own thread, and connect() holds the lock until it gives up on it.
        if self.closed or not self.auto_reconnect_enabled or self.current_session is not dead:
            return  # retired, never opened, or already replaced on an earlier report
        try:
            with self.connect_operation_lock:
                if self.current_session is not dead:
                    return
                self.logger.warning(f"Socket Mode connection lost ({why}); reconnecting")
                self.wss_uri = self.issue_new_wss_url()
                self.connect()
        except Exception as error:  # on websocket-client's thread: nothing above it would log
            self.logger.error(
                f"Socket Mode reconnect failed ({type(error).__name__}); retrying in "
                f"{PING_INTERVAL_S:g} s"
            )


def _envelope_id(message: str) -> str | None:
    """The ``envelope_id`` of an envelope or an ack; None for anything else."""
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    found = parsed.get("envelope_id") if isinstance(parsed, dict) else None
    return found if isinstance(found, str) else None


class _Handler(SocketModeHandler):
    """Bolt's websocket-client adapter (its ``handle`` runs the app), on the client above."""

    def __init__(self, app: App, client: _ReconnectingClient) -> None:
        # Not super().__init__(): it would build a second client, with its own threads.
        self.app = app
        self.app_token = client.app_token
        self.client = client
        client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]


def serve_socket_mode(app: App, app_token: Secret, *, stop: threading.Event) -> None:
    """Socket Mode: Slack pushes payloads over a WebSocket; returns once ``stop`` is set.

    A link cut, gone half-open or refreshed by Slack is replaced within 10 s, and envelopes on
    either side of a refresh are acked without waiting on the switch (see the module's doc).
    """
    # websocket-client takes its socket timeout from this process-wide default only. It bounds
    # each connection attempt (TCP, TLS, handshake), which otherwise could block forever.
    websocket.setdefaulttimeout(OPEN_TIMEOUT_S)
    client = _ReconnectingClient(app_token.reveal(), web_client=app.client, logger=log)
    handler = _Handler(app, client)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
        # Short waits keep the main thread responsive to SIGTERM's handler.
        while not stop.wait(0.5):
            pass
    finally:
        handler.close()  # type: ignore[no-untyped-call]
