"""The emulator's HTTP front: parses requests the way Slack's edge does, then hands them on."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, urlsplit

from bot.local.emulator.records import ApiError, JsonDict

MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: JsonDict
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    args: JsonDict
    token: str | None


class RequestSink(Protocol):
    def handle_api(self, request: ApiRequest) -> HttpReply: ...

    def handle_response_url(self, url_id: str, body: bytes) -> HttpReply: ...

    def handle_upload(self, file_id: str, body: bytes) -> HttpReply: ...


def parse_api_request(
    *, method: str, query: str, body: bytes, content_type: str, authorization: str
) -> ApiRequest:
    """Arguments and token of a Web API call, from the query string and a form or JSON body."""
    args: JsonDict = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()
    if body and media_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError("invalid_json") from None
        if not isinstance(data, dict):
            raise ApiError("invalid_json")
        # Slack does not read a token from a JSON body: JSON callers must send the header.
        data.pop("token", None)
        args.update(data)
    elif body and media_type in ("application/x-www-form-urlencoded", ""):
        try:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError("invalid_form_data") from None
    elif body:
        raise ApiError("invalid_form_data")
    token = args.pop("token", None)
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        token = credentials.strip()
    return ApiRequest(method=method, args=args, token=token if isinstance(token, str) else None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 dropped connections when 20 senders' replies arrived at once.
    request_queue_size = 128

    def __init__(self, sink: RequestSink) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sink = sink


class _Handler(BaseHTTPRequestHandler):
    server_version = "SlackEmulator/1"

    def do_POST(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines can carry ?token=...; the emulator must never print a token.
        return

    def _route(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self._send(HttpReply(413, {"ok": False, "error": "request_too_large"}))
            return
        url = urlsplit(self.path)
        sink = cast(_Server, self.server).sink
        if url.path.startswith("/api/"):
            reply = self._api(sink, url.path.removeprefix("/api/"), url.query, body)
        elif url.path.startswith("/response/") and self.command == "POST":
            reply = sink.handle_response_url(url.path.removeprefix("/response/"), body)
        elif url.path.startswith("/upload/") and self.command == "POST":
            reply = sink.handle_upload(url.path.removeprefix("/upload/"), body)
        else:
            reply = HttpReply(404, {"ok": False, "error": "not_found"})
        self._send(reply)

    def _api(self, sink: RequestSink, method: str, query: str, body: bytes) -> HttpReply:
        try:
            request = parse_api_request(
                method=method,
                query=query,
                body=body,
                content_type=self.headers.get("Content-Type", ""),
                authorization=self.headers.get("Authorization", ""),
            )
        except ApiError as err:
            return HttpReply(200, {"ok": False, "error": err.code})
        return sink.handle_api(request)

    def _read_body(self) -> bytes:
        raw_length = self.headers.get("Content-Length") or "0"
        length = int(raw_length) if raw_length.isdigit() else 0
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: HttpReply) -> None:
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class ServerThread:
    """A loopback HTTP server on an ephemeral port, served from a daemon thread."""

    def __init__(self, sink: RequestSink) -> None:
        self._server = _Server(sink)
        # A short poll interval: shutdown() waits up to one interval, and tests stop often.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-emulator",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout_s)
