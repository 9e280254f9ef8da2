"""The HTTP front door: a WSGI app that checks Slack's signature, then hands the request to Bolt.

The signature is checked on the raw body before anything parses it, so an unsigned, forged or
stale request gets 401 and touches neither the store nor a listener. It also answers
``GET /healthz`` for load balancers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot import signing
from bot.settings import Secret
from bot.slack_body import Refused, read_body
from store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("rollback_bot.frontdoor")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
#: Slack's payloads are far smaller; anything larger is not from Slack.
MAX_BODY_BYTES = 1_000_000
_STATUS_LINES = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Content Too Large",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


class SlackFrontDoor:
    """The WSGI application: routes, verifies and hands signed requests to Bolt."""

    def __init__(
        self,
        app: App,
        *,
        signing_secret: Secret,
        store: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app = app
        self._secret = signing_secret
        self._store = store
        self._clock = clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH:
            return self._health(start_response)
        if path != EVENTS_PATH:
            return _reply(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _reply(start_response, 405, {"error": "use POST"})
        return self._events(environ, start_response)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            healthy = self._store.ping()
        except Exception:
            log.exception("health check: the store does not answer")
            healthy = False
        status = 200 if healthy else 503
        return _reply(start_response, status, {"ok": healthy, "store": "ok" if healthy else "down"})

    def _events(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, 400, {"error": "bad content length"})
        if length > MAX_BODY_BYTES:
            return _reply(start_response, 413, {"error": "body too large"})
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = _headers(environ)
        verdict = signing.verify(
            signing_secret=self._secret.reveal(), headers=headers, body=body, now=self._clock()
        )
        if not verdict.ok:
            log.warning("refused an unverified request: %s", verdict.reason)
            return _reply(start_response, 401, {"error": "invalid request signature"})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _reply(start_response, 400, {"error": "body is not UTF-8"})
        parsed = read_body(text, headers.get("content-type", ""))
        if isinstance(parsed, Refused):
            log.warning("refused a signed request Slack would not send: %s", parsed.reason)
            return _reply(start_response, 400, {"error": "not a Slack request body"})
        response = self._dispatch(parsed, headers)
        if response.status == 404 or response.status >= 500:
            # Bolt's own answers for "nothing handled it" and "a middleware failed": Slack
            # retries on them and warns the person, so they are acknowledged instead (the app's
            # error handler has already told the person, where there is one to tell).
            log.info("acknowledged a request Bolt answered %s", response.status)
            start_response(_STATUS_LINES[200], [("Content-Length", "0")])
            return [b""]
        header_list = [
            (name, value) for name, values in response.headers.items() for value in values
        ]
        start_response(_STATUS_LINES.get(response.status, f"{response.status} Status"), header_list)
        return [response.body.encode("utf-8")]

    def _dispatch(self, body: dict[str, Any], headers: dict[str, str]) -> BoltResponse:
        """Hand the already verified and read body to Bolt; a failure inside it is answered
        200 with one log line, never a 500 that Slack would retry."""
        # Bolt is given the body as JSON, read by the rules above; its own signature check is
        # off (create_app), since the signature was checked here on the raw bytes.
        request = BoltRequest(
            body=json.dumps(body), headers={**headers, "content-type": "application/json"}
        )
        try:
            return self._app.dispatch(request)
        except Exception as error:
            log.error("Bolt failed on a signed request (%s); answered 200", type(error).__name__)
            return BoltResponse(status=200, body="")


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _reply(start_response: StartResponse, status: int, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(
        _STATUS_LINES[status],
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
