"""SlackSender: what it sends matches Slack byte for byte, and a real Bolt app accepts it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingMixIn
from typing import Any, cast
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import Clock, SignatureVerifier

from bot.local.emulator import SlackEmulator, SlackSender, encode_form
from bot.signing import sign, verify

SECRET = "test-signing-secret"
CHANNEL = "C0INCIDENTS"
WAIT_S = 1.5

# Slack's worked example (docs: "Verifying requests from Slack"; the same vector as slack_sdk's
# and other SDKs' tests). Its team id is T1DC2JH3J in both places it occurs.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_FIELDS = [
    ("token", "xyzz0WbapA4vBCDEFasx0q6G"),
    ("team_id", "T1DC2JH3J"),
    ("team_domain", "testteamnow"),
    ("channel_id", "G8PSS9T3V"),
    ("channel_name", "foobar"),
    ("user_id", "U2CERLKJA"),
    ("user_name", "roadrunner"),
    ("command", "/webhook-collect"),
    ("text", ""),
    (
        "response_url",
        "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
    ),
    ("trigger_id", "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"),
]
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "confirm_rollback",
    "title": {"type": "plain_text", "text": "Confirm rollback"},
    "submit": {"type": "plain_text", "text": "Roll back"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "reason_input"},
        }
    ],
}
APPROVE_BUTTON: dict[str, Any] = {
    "type": "button",
    "action_id": "approve",
    "text": {"type": "plain_text", "text": "Approve"},
    "value": "rb-42",
    "style": "primary",
}
PLAN_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Roll back *rb-42*?"}},
    {"type": "actions", "block_id": "plan_actions", "elements": [APPROVE_BUTTON]},
]
REASON_VALUES = {"reason": {"reason_input": {"type": "plain_text_input", "value": "bad deploy"}}}


# -- a stand-in request URL -----------------------------------------------------------------------


@dataclass
class Capture:
    """Records each request that reaches it and answers with a canned reply."""

    url: str = ""
    status: int = 200
    reply: bytes = b""
    content_type: str = "application/json"
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def only(self) -> tuple[dict[str, str], bytes]:
        assert len(self.requests) == 1
        return self.requests[0]


class _CaptureHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        capture = cast(Any, self.server).capture
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        capture.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(capture.status)
        self.send_header("Content-Type", capture.content_type)
        self.send_header("Content-Length", str(len(capture.reply)))
        self.end_headers()
        self.wfile.write(capture.reply)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serving(server: Any) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2.0)


@pytest.fixture
def capture() -> Iterator[Capture]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CaptureHandler)
    cap = Capture(url=f"http://127.0.0.1:{server.server_address[1]}/slack/events")
    cast(Any, server).capture = cap
    with serving(server):
        yield cap


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        yield emu


def sender_for(url: str, emulator: SlackEmulator | None = None, **kwargs: Any) -> SlackSender:
    return SlackSender(events_url=url, signing_secret=SECRET, emulator=emulator, **kwargs)


def interaction(body: bytes) -> dict[str, Any]:
    [(name, raw)] = parse_qsl(body.decode("ascii"), keep_blank_values=True)
    assert name == "payload"
    return cast(dict[str, Any], json.loads(raw))


# -- signing --------------------------------------------------------------------------------------


def test_sign_slack_documented_vector_matches() -> None:
    got = sign(signing_secret=DOC_SECRET, timestamp=DOC_TIMESTAMP, body=DOC_BODY)
    assert got == DOC_SIGNATURE


def test_encode_form_documented_fields_reproduce_slack_body() -> None:
    assert encode_form(DOC_FIELDS) == DOC_BODY


def test_slash_command_signature_accepted_by_slack_sdk_verifier(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sender.slash_command("/rollback", "rb-42 now", user_id="U0ENG")
    headers, body = capture.only()
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    now = float(headers["x-slack-request-timestamp"])
    assert verify(signing_secret=SECRET, headers=headers, body=body, now=now).ok


def test_slash_command_fixed_timestamp_signed_independently(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sender.slash_command("/rollback", "x", user_id="U0ENG", timestamp=1_700_000_000)
    headers, body = capture.only()
    base = b"v0:1700000000:" + body
    expected = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    assert headers["x-slack-request-timestamp"] == "1700000000"
    assert headers["x-slack-signature"] == expected


def test_slash_command_given_signature_sent_verbatim(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sender.slash_command("/rollback", "x", user_id="U0ENG", signature="v0=deadbeef")
    assert capture.only()[0]["x-slack-signature"] == "v0=deadbeef"


def test_slash_command_unsigned_omits_signature_headers(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sender.slash_command("/rollback", "x", user_id="U0ENG", signed=False)
    headers, _ = capture.only()
    assert "x-slack-signature" not in headers
    assert "x-slack-request-timestamp" not in headers


# -- slash command shape, retries and acks --------------------------------------------------------


def test_slash_command_fields_in_slack_order(capture: Capture, emulator: SlackEmulator) -> None:
    with sender_for(capture.url, emulator) as sender:
        sent = sender.slash_command("/rollback", "rb-42 now", user_id="U0ENG")
    headers, body = capture.only()
    fields = parse_qsl(body.decode("ascii"), keep_blank_values=True)
    assert [k for k, _ in fields] == [
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install",
        "response_url", "trigger_id",
    ]  # fmt: skip
    values = dict(fields)
    assert (values["command"], values["text"], values["user_name"]) == (
        "/rollback",
        "rb-42 now",
        "eng",
    )
    assert values["response_url"] == sent.response_url
    assert values["response_url"].startswith(f"{emulator.base_url}/response/")
    assert b"text=rb-42+now" in body  # Slack form-encodes spaces as "+"
    assert headers["content-type"] == "application/x-www-form-urlencoded"


def test_resend_same_body_fresh_signature_and_retry_headers(capture: Capture) -> None:
    now = [1_700_000_000.0]
    with sender_for(capture.url, clock=lambda: now[0]) as sender:
        first = sender.slash_command("/rollback", "x", user_id="U0ENG")
        now[0] += 4
        again = sender.resend(first, retry_num=1)
    (h1, b1), (h2, b2) = capture.requests
    assert b1 == b2 == again.sent_body
    assert "x-slack-retry-num" not in h1
    assert (h2["x-slack-retry-num"], h2["x-slack-retry-reason"]) == ("1", "http_timeout")
    assert h2["x-slack-request-timestamp"] == "1700000004"
    assert h2["x-slack-signature"] != h1["x-slack-signature"]
    assert SignatureVerifier(SECRET, clock=_FixedClock(1_700_000_004)).is_valid_request(b2, h2)
    assert again.trigger_id == first.trigger_id


def test_slash_command_retry_num_adds_retry_headers(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sender.slash_command("/rollback", "x", user_id="U0ENG", retry_num=2)
    assert capture.only()[0]["x-slack-retry-num"] == "2"


def test_slash_command_json_ack_shown_ephemeral(capture: Capture, emulator: SlackEmulator) -> None:
    capture.reply = b'{"text": "Starting rollback"}'
    with sender_for(capture.url, emulator) as sender:
        sent = sender.slash_command("/rollback", "x", user_id="U0ENG")
    assert sent.json == {"text": "Starting rollback"}
    [message] = emulator.messages(CHANNEL)
    assert (message.text, message.ephemeral_to, message.via) == (
        "Starting rollback",
        "U0ENG",
        "ack",
    )


def test_slash_command_in_channel_ack_shown_in_channel(
    capture: Capture, emulator: SlackEmulator
) -> None:
    capture.reply = b'{"response_type": "in_channel", "text": "Rollback rb-42 started"}'
    with sender_for(capture.url, emulator) as sender:
        sender.slash_command("/rollback", "x", user_id="U0ENG")
    assert emulator.messages(CHANNEL)[0].ephemeral_to is None


def test_slash_command_empty_ack_shows_nothing(capture: Capture, emulator: SlackEmulator) -> None:
    with sender_for(capture.url, emulator) as sender:
        sent = sender.slash_command("/rollback", "x", user_id="U0ENG")
    assert (sent.status, sent.body, sent.json) == (200, b"", None)
    assert emulator.messages() == []


def test_slash_command_error_status_shows_nothing(
    capture: Capture, emulator: SlackEmulator
) -> None:
    capture.status, capture.reply = 500, b'{"text": "boom"}'
    with sender_for(capture.url, emulator) as sender:
        assert sender.slash_command("/rollback", "x", user_id="U0ENG").status == 500
    assert emulator.messages() == []


# -- interactions ---------------------------------------------------------------------------------


def test_block_action_payload_matches_slack_shape(
    capture: Capture, emulator: SlackEmulator
) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
    ts = web.chat_postMessage(channel=CHANNEL, text="Roll back?", blocks=PLAN_BLOCKS)["ts"]
    message = emulator.message(CHANNEL, ts)
    assert message is not None
    with sender_for(capture.url, emulator) as sender:
        sender.block_action(
            user_id="U0ORCH", action=APPROVE_BUTTON, message=emulator.message_payload(message)
        )
    _, body = capture.only()
    assert b"%5C%2F" in body  # Slack escapes "/" as "\/" inside the JSON
    payload = interaction(body)
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U0ORCH",
        "username": "orchestrator",
        "name": "orchestrator",
        "team_id": "T0EMU",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": CHANNEL,
        "is_ephemeral": False,
    }
    assert (payload["enterprise"], payload["is_enterprise_install"]) == (None, False)
    assert payload["message"]["ts"] == ts
    assert payload["state"] == {"values": {}}
    assert payload["response_url"].startswith(f"{emulator.base_url}/response/")
    [action] = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "type", "style")} == {
        "action_id": "approve",
        "block_id": "plan_actions",
        "value": "rb-42",
        "type": "button",
        "style": "primary",
    }
    assert action["text"] == APPROVE_BUTTON["text"]


def test_block_action_in_view_omits_channel_and_response_url(
    capture: Capture, emulator: SlackEmulator
) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
    home_blocks = [{"type": "actions", "block_id": "home_actions", "elements": [APPROVE_BUTTON]}]
    home = web.views_publish(user_id="U0ENG", view={"type": "home", "blocks": home_blocks})["view"]
    with sender_for(capture.url, emulator) as sender:
        sent = sender.block_action(user_id="U0ENG", action=APPROVE_BUTTON, view=home)
    payload = interaction(capture.only()[1])
    assert payload["container"] == {"type": "view", "view_id": home["id"]}
    assert payload["view"]["id"] == home["id"]
    assert payload["actions"][0]["block_id"] == "home_actions"
    assert not {"channel", "message", "response_url"} & payload.keys()
    assert sent.response_url is None


def test_block_action_ephemeral_leaves_message_out(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sender.block_action(
            user_id="U0ENG", action=APPROVE_BUTTON, message_ts="1.000001", is_ephemeral=True
        )
    payload = interaction(capture.only()[1])
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload


def test_block_action_without_message_or_view_raises(capture: Capture) -> None:
    with sender_for(capture.url) as sender, pytest.raises(ValueError):
        sender.block_action(user_id="U0ENG", action=APPROVE_BUTTON)
    assert capture.requests == []


def test_view_submission_empty_ack_closes_modal(capture: Capture, emulator: SlackEmulator) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
    view = web.views_open(trigger_id=emulator.new_trigger_id(), view=MODAL)["view"]
    with sender_for(capture.url, emulator) as sender:
        sender.view_submission(user_id="U0ENG", view=view, values=REASON_VALUES)
    payload = interaction(capture.only()[1])
    assert payload["type"] == "view_submission"
    assert payload["view"]["state"] == {"values": REASON_VALUES}
    assert payload["view"]["callback_id"] == "confirm_rollback"
    assert emulator.open_views() == []


def test_view_submission_errors_ack_keeps_modal_open(
    capture: Capture, emulator: SlackEmulator
) -> None:
    capture.reply = b'{"response_action": "errors", "errors": {"reason": "required"}}'
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
    view = web.views_open(trigger_id=emulator.new_trigger_id(), view=MODAL)["view"]
    with sender_for(capture.url, emulator) as sender:
        sender.view_submission(user_id="U0ENG", view=view, values={})
    assert [v["id"] for v in emulator.open_views()] == [view["id"]]


def test_send_raw_sends_bytes_and_headers_verbatim(capture: Capture) -> None:
    with sender_for(capture.url) as sender:
        sent = sender.send_raw(b"a=1", {"X-Slack-Signature": "v0=nope", "Content-Type": "text/x"})
    headers, body = capture.only()
    assert (body, headers["x-slack-signature"], headers["content-type"]) == (
        b"a=1",
        "v0=nope",
        "text/x",
    )
    assert sent.status == 200


# -- against a real Bolt app ----------------------------------------------------------------------


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def build_bolt_app(emulator: SlackEmulator) -> App:
    client = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
    app = App(client=client, signing_secret=SECRET, token_verification_enabled=True)

    @app.command("/rollback")
    def rollback(ack: Ack, respond: Respond, client: WebClient, command: dict[str, Any]) -> None:
        ack(text=f"Starting rollback of {command['text']}")
        respond(text="phase 1 of 3 done", response_type="in_channel")
        client.chat_postMessage(channel=command["channel_id"], text="Approve?", blocks=PLAN_BLOCKS)

    @app.action("approve")
    def approve(ack: Ack, respond: Respond, body: dict[str, Any]) -> None:
        ack()
        respond(text=f"Approved by <@{body['user']['id']}>", replace_original=True)

    @app.command("/rollback-confirm")
    def confirm(ack: Ack, client: WebClient, body: dict[str, Any]) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("confirm_rollback")
    def submitted(ack: Ack, client: WebClient, view: dict[str, Any]) -> None:
        ack()
        reason = view["state"]["values"]["reason"]["reason_input"]["value"]
        client.chat_postMessage(channel=CHANNEL, text=f"Confirmed: {reason}")

    return app


@pytest.fixture
def bolt_url(emulator: SlackEmulator) -> Iterator[str]:
    handler = SlackRequestHandler(build_bolt_app(emulator))
    server = make_server(
        "127.0.0.1",
        0,
        handler,
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietWSGIHandler,
    )
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}/slack/events"


def test_bolt_app_token_verification_calls_emulator(bolt_url: str, emulator: SlackEmulator) -> None:
    assert [c.ok for c in emulator.calls("auth.test")] == [True]


def test_bolt_slash_command_ack_respond_and_post_land(
    bolt_url: str, emulator: SlackEmulator
) -> None:
    with sender_for(bolt_url, emulator) as sender:
        sent = sender.slash_command("/rollback", "rb-42", user_id="U0ENG")
    assert sent.status == 200
    assert sent.elapsed_s < 3.0  # Slack's ack deadline
    assert emulator.wait_for(lambda e: len(e.messages(CHANNEL)) == 3, timeout=WAIT_S)
    by_via = {m.via: m for m in emulator.messages(CHANNEL)}
    assert by_via["ack"].text == "Starting rollback of rb-42"
    assert by_via["ack"].ephemeral_to == "U0ENG"
    assert by_via["response_url"].text == "phase 1 of 3 done"
    assert by_via["response_url"].ephemeral_to is None
    assert by_via["api"].blocks[1]["block_id"] == "plan_actions"


def test_bolt_block_action_replaces_original(bolt_url: str, emulator: SlackEmulator) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)
    ts = web.chat_postMessage(channel=CHANNEL, text="Approve?", blocks=PLAN_BLOCKS)["ts"]
    message = emulator.message(CHANNEL, ts)
    assert message is not None
    with sender_for(bolt_url, emulator) as sender:
        sent = sender.block_action(
            user_id="U0ORCH", action=APPROVE_BUTTON, message=emulator.message_payload(message)
        )
    assert sent.status == 200  # Bolt answers 404 to a payload no listener matches

    def replaced(emu: SlackEmulator) -> bool:
        current = emu.message(CHANNEL, ts)
        return current is not None and current.edited

    assert emulator.wait_for(replaced, timeout=WAIT_S)
    expected = replace(message, text="Approved by <@U0ORCH>", blocks=[], edited=True)
    assert emulator.message(CHANNEL, ts) == expected


def test_bolt_modal_opened_from_command_and_submitted(
    bolt_url: str, emulator: SlackEmulator
) -> None:
    with sender_for(bolt_url, emulator) as sender:
        assert sender.slash_command("/rollback-confirm", "", user_id="U0ENG").status == 200
        assert emulator.wait_for(lambda e: len(e.open_views()) == 1, timeout=WAIT_S)
        [view] = emulator.open_views()
        sent = sender.view_submission(user_id="U0ENG", view=view, values=REASON_VALUES)
    assert sent.status == 200
    assert emulator.wait_for(lambda e: len(e.messages(CHANNEL)) == 1, timeout=WAIT_S)
    assert emulator.messages(CHANNEL)[0].text == "Confirmed: bad deploy"
    assert emulator.open_views() == []


def test_bolt_rejects_bad_signature_with_401(bolt_url: str, emulator: SlackEmulator) -> None:
    with sender_for(bolt_url, emulator) as sender:
        sent = sender.slash_command("/rollback", "x", user_id="U0ENG", signature="v0=" + "0" * 64)
    assert sent.status == 401
    assert emulator.messages() == []


def test_bolt_rejects_stale_timestamp_with_401(bolt_url: str, emulator: SlackEmulator) -> None:
    with sender_for(bolt_url, emulator, clock=lambda: 1_000_000_000.0) as sender:
        assert sender.slash_command("/rollback", "x", user_id="U0ENG").status == 401


def test_bolt_unrouted_command_is_404(bolt_url: str, emulator: SlackEmulator) -> None:
    with sender_for(bolt_url, emulator) as sender:
        assert sender.slash_command("/unknown", "x", user_id="U0ENG").status == 404
