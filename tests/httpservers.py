"""A real HTTP service on 127.0.0.1 with routes that misbehave on purpose, for check tests.

    with serve() as service:
        service.url("/slow?s=0.3")

Routes:
    /healthy               200 JSON
    /fail                  500 JSON
    /status?code=N         N, empty body
    /slow?s=SECONDS        sleeps, then 200 JSON
    /hang                  never answers until the service stops
    /close-mid             headers with Content-Length 100, 10 bytes of body, then a closed socket
    /close-early           closes the connection before sending anything
    /garbage               a response line that is not HTTP
    /page                  an HTML page
    /empty-page            text/html with an empty body
    /login (POST)          form or JSON user=alice password=secret sets connect.sid; else 401
    /api/deals, /inbox     200 with the session cookie, 401 without
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SESSION = "s%3Atest-session-0001"
USER, PASSWORD = "alice", "secret"
# A hung route still gives up after this, so a stray request cannot outlive the test run.
HANG_LIMIT_S = 60.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib default of 5 drops SYNs when ten checks connect at once, and the kernel's
    # retransmission then adds a whole second to a "slow" answer.
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()
        self.hits: dict[str, int] = {}
        self.hits_lock = threading.Lock()

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        # A client that gave up (a check's timeout) breaks the pipe: expected, not noise.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's
    # delayed ACK the body would wait ~40 ms, which would be measured as the endpoint's time.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: object, **headers: str) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", **headers)

    def _logged_in(self) -> bool:
        cookies = self.headers.get("Cookie", "")
        return f"connect.sid={SESSION}" in [part.strip() for part in cookies.split(";")]

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        with self.server.hits_lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
        body = self._read_body()
        if path == "/healthy":
            self._json(200, {"ok": True})
        elif path == "/fail":
            self._json(500, {"error": "boom"})
        elif path == "/status":
            self._send(int(query.get("code", "200")), b"", "text/plain")
        elif path == "/slow":
            time.sleep(float(query.get("s", "1")))
            self._json(200, {"ok": True, "slow": True})
        elif path == "/hang":
            self.server.stopping.wait(HANG_LIMIT_S)
            self.close_connection = True
        elif path == "/close-mid":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"partial":')
            self.wfile.flush()
            self._drop_connection()
        elif path == "/close-early":
            self._drop_connection()
        elif path == "/garbage":
            self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
            self.wfile.flush()
            self._drop_connection()
        elif path == "/page":
            page = b"<!doctype html><html><body><div id=root>Autolytiq</div></body></html>"
            self._send(200, page, "text/html; charset=utf-8")
        elif path == "/empty-page":
            self._send(200, b"", "text/html")
        elif path == "/login" and method == "POST":
            self._login(body)
        elif path in ("/api/deals", "/inbox"):
            if not self._logged_in():
                self._json(401, {"error": "not logged in"})
            elif path == "/inbox":
                self._send(200, b"<html><h1>Inbox</h1></html>", "text/html")
            else:
                self._json(200, {"deals": [{"id": 1, "method": method}]})
        else:
            self._json(404, {"error": "no such route"})

    def _login(self, body: bytes) -> None:
        if self.headers.get("Content-Type", "").startswith("application/json"):
            fields = {k: str(v) for k, v in json.loads(body or b"{}").items()}
        else:
            fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if fields.get("user") == USER and fields.get("password") == PASSWORD:
            self._json(200, {"user": USER}, Set_Cookie=f"connect.sid={SESSION}; Path=/; HttpOnly")
        else:
            self._json(401, {"error": "bad credentials"})

    def _drop_connection(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")


class HttpService:
    """The running service: ``url(path)`` builds a URL to it, ``hits`` counts requests by path."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.port = int(server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        with self._server.hits_lock:
            return self._server.hits.get(path, 0)


@contextmanager
def serve() -> Iterator[HttpService]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield HttpService(server)
    finally:
        # Release hung handlers first: they are daemon threads, but a handler still holding its
        # socket would keep a client under test waiting for its own timeout.
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    """A port nothing listens on (right now): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
