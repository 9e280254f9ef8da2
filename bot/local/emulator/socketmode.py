"""Socket Mode on loopback: the WebSocket end Slack holds open for an app.

``apps.connections.open`` (called with the app-level token) hands out a ``ws://127.0.0.1`` URL
served here. The emulator then pushes envelopes, as Slack does, and waits for the app's
acknowledgement (``{"envelope_id": …, "payload": …}``). slack_sdk's built-in client speaks
plain WebSocket to any port but 443, so no TLS is needed on loopback.

Needs the ``websockets`` package (a development dependency), imported only when Socket Mode is
used.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from bot.local.emulator.records import JsonDict


class SocketModeEndpoint:
    """One WebSocket server; each connected app session gets envelopes round-robin."""

    def __init__(self) -> None:
        from websockets.sync.server import ServerConnection, serve

        self._serve = serve
        self._connection_type = ServerConnection
        self._lock = threading.Lock()
        self._connections: list[Any] = []
        self._acks: dict[str, queue.Queue[JsonDict]] = {}
        self._connected = threading.Condition(self._lock)
        self._next = 0
        self._last_payload: JsonDict = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = self._serve(self._handle, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="emulator-socket-mode", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def new_url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={uuid.uuid4().hex}"

    def wait_connected(self, *, timeout: float) -> bool:
        with self._connected:
            return self._connected.wait_for(lambda: bool(self._connections), timeout=timeout)

    def last_payload(self) -> JsonDict:
        """The payload of the envelope sent last, to redeliver it as Slack would."""
        with self._lock:
            return dict(self._last_payload)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def send(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> JsonDict | None:
        """Push one envelope and return the app's ack, or None when none came in time."""
        envelope_id = envelope_id or str(uuid.uuid4())
        waiter: queue.Queue[JsonDict] = queue.Queue(maxsize=1)
        with self._lock:
            if not self._connections:
                raise RuntimeError("no Socket Mode connection is open")
            connection = self._connections[self._next % len(self._connections)]
            self._next += 1
            self._acks[envelope_id] = waiter
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": dict(payload),
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        with self._lock:
            self._last_payload = dict(payload)
        connection.send(json.dumps(envelope))
        try:
            return waiter.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            with self._lock:
                self._acks.pop(envelope_id, None)

    def _handle(self, connection: Any) -> None:
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0"}})
        )
        with self._connected:
            self._connections.append(connection)
            self._connected.notify_all()
        try:
            for raw in connection:
                self._receive(raw)
        finally:
            with self._lock:
                self._connections.remove(connection)

    def _receive(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        with self._lock:
            waiter = self._acks.get(str(message["envelope_id"]))
        if waiter is not None:
            waiter.put_nowait(message)
