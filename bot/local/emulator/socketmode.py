"""Socket Mode on loopback: the WebSocket end Slack holds open for an app.

``apps.connections.open`` (called with the app-level token) hands out a ``ws://127.0.0.1`` URL
served here. The emulator then pushes envelopes, as Slack does, and waits for the app's
acknowledgement (``{"envelope_id": …, "payload": …}``). slack_sdk's Socket Mode clients speak
plain WebSocket to any port but 443, so no TLS is needed on loopback.

The URL leads to a TCP relay in front of the WebSocket server, standing where the network
would. Through it a test can break the link the ways real links break, which a WebSocket
server alone cannot be told to do: cut it without a close frame (``drop_connections``), let
it go half-open, where nothing more gets through either way and no one says so
(``go_silent``), or have new connections die at once (``refuse_connections``).
``request_refresh`` sends the ``disconnect`` message Slack sends before it retires a
connection.

Needs the ``websockets`` package (a development dependency), imported only when Socket Mode is
used.
"""

from __future__ import annotations

import contextlib
import json
import queue
import selectors
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.local.emulator.records import JsonDict

_CHUNK = 65536
# How often the relay's threads look up from a blocking wait to see whether to stop.
_POLL_S = 0.2
_JOIN_S = 5.0


class _Link:
    """One app connection through the relay: the app's socket and ours to the WebSocket server."""

    def __init__(self, app_side: socket.socket, server_side: socket.socket) -> None:
        self.app_side = app_side
        self.server_side = server_side
        self.silent = threading.Event()
        self._closed = threading.Event()

    def pump(self, stopping: threading.Event) -> None:
        peers = {self.app_side: self.server_side, self.server_side: self.app_side}
        try:
            with selectors.DefaultSelector() as selector:
                for sock in peers:
                    selector.register(sock, selectors.EVENT_READ)
                while not stopping.is_set():
                    for key, _events in selector.select(_POLL_S):
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(_CHUNK)
                        if not data:
                            return
                        # Silent, bytes are still read, so that either end hanging up is
                        # seen, but go nowhere: pings and envelopes alike are lost.
                        if not self.silent.is_set():
                            peers[source].sendall(data)
        except OSError:
            return
        finally:
            self.close()

    def drop(self) -> None:
        """End the TCP connection both ways with no WebSocket close frame first."""
        for sock in (self.app_side, self.server_side):
            # shutdown, not close: it sends the FIN now and wakes the pump out of select.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for sock in (self.app_side, self.server_side):
            sock.close()


class _Relay:
    """Accepts the apps' connections and relays each to the WebSocket server on its own thread."""

    def __init__(self, server_port: int, on_refused: Callable[[], None]) -> None:
        self._server_port = server_port
        self._on_refused = on_refused
        # While set, connections are accepted and closed at once: Slack's edge failing.
        self.refusing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL_S)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        # Keyed by our port on the server side: what the WebSocket server sees as the peer.
        self._links: dict[int, _Link] = {}
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="emulator-socket-relay", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=_JOIN_S)
        self._listener.close()
        with self._lock:
            links, threads = list(self._links.values()), list(self._threads)
        for link in links:
            link.drop()
        for thread in threads:
            thread.join(timeout=_JOIN_S)

    def link_for(self, server_side_port: int) -> _Link | None:
        with self._lock:
            return self._links.get(server_side_port)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                app_side, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing.is_set():
                app_side.close()
                self._on_refused()
                continue
            try:
                server_side = socket.create_connection(("127.0.0.1", self._server_port), timeout=5)
            except OSError:
                app_side.close()
                continue
            server_side.settimeout(None)
            link = _Link(app_side, server_side)
            thread = threading.Thread(
                target=link.pump, args=(self._stopping,), name="emulator-socket-link", daemon=True
            )
            with self._lock:
                # Registered before any byte is relayed, so before the server's handler runs.
                self._links = {
                    port: known for port, known in self._links.items() if not known.closed
                }
                self._links[int(server_side.getsockname()[1])] = link
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()


@dataclass
class _Session:
    connection: Any
    link: _Link | None
    opened_at: float
    # False once refreshed, silenced or dropped: envelopes go to a fresher connection if any.
    usable: bool = True


class SocketModeEndpoint:
    """One WebSocket server behind a relay; envelopes go round-robin to the usable sessions."""

    def __init__(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.server import serve

        self._serve = serve
        self._closed_error = ConnectionClosed
        self._lock = threading.Lock()
        self._sessions: list[_Session] = []
        self._opened: list[float] = []
        self._refused = 0
        self._acks: dict[str, queue.Queue[JsonDict]] = {}
        self._connected = threading.Condition(self._lock)
        self._next = 0
        self._last_payload: JsonDict = {}
        self._server: Any = None
        self._relay: _Relay | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # No server pings: Slack's would, after a while, rescue an app that failed to notice a
        # dead link itself, and noticing it is what the failure modes here are for.
        self._server = self._serve(
            self._handle, "127.0.0.1", 0, compression=None, ping_interval=None
        )
        self._relay = _Relay(int(self._server.socket.getsockname()[1]), self._count_refused)
        self._relay.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="emulator-socket-mode", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._relay is not None:
            self._relay.stop()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=_JOIN_S)

    def new_url(self) -> str:
        if self._relay is None:
            raise RuntimeError("Socket Mode endpoint not started")
        return f"ws://127.0.0.1:{self._relay.port}/link/?ticket={uuid.uuid4().hex}"

    def wait_connected(self, *, timeout: float) -> bool:
        with self._connected:
            return self._connected.wait_for(lambda: bool(self._sessions), timeout=timeout)

    def wait_connection_count(self, count: int, *, timeout: float) -> bool:
        """Wait until exactly ``count`` connections are open on the server's side."""
        with self._connected:
            return self._connected.wait_for(lambda: len(self._sessions) == count, timeout=timeout)

    @property
    def opened_count(self) -> int:
        """Connections opened so far (each got its ``hello``), closed ones included."""
        with self._lock:
            return len(self._opened)

    def wait_opened(self, count: int, *, timeout: float) -> float | None:
        """When (``time.monotonic()``) the ``count``-th connection opened; None if not in time."""
        with self._connected:
            if not self._connected.wait_for(lambda: len(self._opened) >= count, timeout=timeout):
                return None
            return self._opened[count - 1]

    def last_payload(self) -> JsonDict:
        """The payload of the envelope sent last, to redeliver it as Slack would."""
        with self._lock:
            return dict(self._last_payload)

    @property
    def connection_count(self) -> int:
        """Connections open on the server's side, usable or not."""
        with self._lock:
            return len(self._sessions)

    def drop_connections(self) -> int:
        """Cut every open connection at the TCP level, with no close frame; how many were cut.

        This is a link lost under the app: a restarted load balancer, a NAT that forgot it.
        """
        sessions = self._retire()
        for session in sessions:
            if session.link is not None:
                session.link.drop()
            else:  # not through the relay: cut the server's own socket instead
                with contextlib.suppress(OSError):
                    session.connection.socket.shutdown(socket.SHUT_RDWR)
        return len(sessions)

    def go_silent(self) -> int:
        """Make every open connection half-open; how many went silent.

        Nothing more gets through either way (pings, pongs, envelopes, acks) and neither end is
        told, as when a network path dies without a reset. The server keeps its end open;
        connections opened afterwards work.
        """
        sessions = self._retire()
        for session in sessions:
            if session.link is not None:
                session.link.silent.set()
        return len(sessions)

    def refuse_connections(self, refuse: bool) -> None:
        """While ``refuse``, close each new connection as soon as it is made, before any byte.

        As when Slack's edge is failing: ``apps.connections.open`` still hands out URLs, but
        the connections to them die at once. Connections already open are not touched.
        """
        if self._relay is None:
            raise RuntimeError("Socket Mode endpoint not started")
        if refuse:
            self._relay.refusing.set()
        else:
            self._relay.refusing.clear()

    def wait_refused(self, count: int, *, timeout: float) -> bool:
        """Wait until ``count`` connections in all have been refused."""
        with self._connected:
            return self._connected.wait_for(lambda: self._refused >= count, timeout=timeout)

    def _count_refused(self) -> None:
        with self._connected:
            self._refused += 1
            self._connected.notify_all()

    def request_refresh(self) -> int:
        """Send Slack's ``disconnect`` / ``refresh_requested`` on every open connection.

        Slack sends it before it retires a connection and expects the app to open a new one;
        envelopes go to that new one once it is there. Returns how many were asked.
        """
        message = json.dumps(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "emu"}}
        )
        sessions = self._retire()
        for session in sessions:
            with contextlib.suppress(self._closed_error):
                session.connection.send(message)
        return len(sessions)

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
            if not self._sessions:
                raise RuntimeError("no Socket Mode connection is open")
            # A retired connection still gets envelopes while it is the only one, as Slack's
            # do until the app has replaced them.
            pool = [s for s in self._sessions if s.usable] or self._sessions[-1:]
            connection = pool[self._next % len(pool)].connection
            self._next += 1
            self._acks[envelope_id] = waiter
            self._last_payload = dict(payload)
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": dict(payload),
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        try:
            connection.send(json.dumps(envelope))
            return waiter.get(timeout=timeout)
        except (queue.Empty, self._closed_error):
            # Closed under the send: the envelope is lost, as on a real link going down.
            return None
        finally:
            with self._lock:
                self._acks.pop(envelope_id, None)

    def _retire(self) -> list[_Session]:
        with self._lock:
            sessions = [s for s in self._sessions if s.usable]
            for session in sessions:
                session.usable = False
            return sessions

    def _handle(self, connection: Any) -> None:
        link = None
        if self._relay is not None:
            link = self._relay.link_for(int(connection.remote_address[1]))
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0"}})
        )
        session = _Session(connection, link, time.monotonic())
        with self._connected:
            self._sessions.append(session)
            self._opened.append(session.opened_at)
            self._connected.notify_all()
        try:
            for raw in connection:
                self._receive(raw)
        except self._closed_error:
            pass  # ended without a close frame: the failure modes above do exactly that
        finally:
            with self._connected:
                self._sessions.remove(session)
                self._connected.notify_all()

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
