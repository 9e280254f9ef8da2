"""Plays Slack's side of an app's request URL: builds, signs and sends what Slack would.

With an emulator attached it also plays the Slack client: response URLs and trigger ids come
from the emulator, a slash command's ack body shows up as a message there, and a modal closes
when its submission is acked empty.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Literal

import httpx

from bot.local.emulator.payloads import (
    Actor,
    Workspace,
    action_entry,
    block_actions_payload,
    default_channel_name,
    encode_form,
    event_callback_body,
    find_block_id,
    interaction_body,
    slash_command_fields,
    view_submission_payload,
)
from bot.local.emulator.records import JsonDict, new_trigger_id, random_id
from bot.local.emulator.webapi import SlackEmulator
from bot.signing import sign

Kind = Literal["slash_command", "block_actions", "view_submission", "event", "raw"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Slack's own User-Agent on requests to an app.
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
_SIGNATURE_HEADERS = ("X-Slack-Request-Timestamp", "X-Slack-Signature")
_RETRY_HEADERS = ("X-Slack-Retry-Num", "X-Slack-Retry-Reason")


@dataclass(frozen=True)
class SentRequest:
    """A request as sent and the app's answer to it.

    ``headers`` are the response's, with lower-case names; ``sent_body`` and ``sent_headers``
    are exactly what went out, so :meth:`SlackSender.resend` can redeliver them.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    json: Any
    elapsed_s: float
    sent_body: bytes
    sent_headers: Mapping[str, str]
    kind: Kind = "raw"
    channel_id: str | None = None
    user_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    # Set for view_submission: the view the submission came from.
    view_id: str | None = None


class SlackSender:
    """Sends signed slash commands and interactions to an app's request URL."""

    def __init__(
        self,
        *,
        events_url: str,
        signing_secret: str,
        emulator: SlackEmulator | None = None,
        team_id: str = "T0EMU",
        api_app_id: str = "A0ROLLBACK",
        team_domain: str = "emulator",
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._events_url = events_url
        self._signing_secret = signing_secret
        self._emulator = emulator
        self._workspace = Workspace(team_id=team_id, team_domain=team_domain, api_app_id=api_app_id)
        self._clock = clock
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SlackSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what Slack sends -----------------------------------------------------------------------

    def slash_command(
        self,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str = "C0INCIDENTS",
        channel_name: str | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        signed: bool = True,
    ) -> SentRequest:
        """Type ``command text`` in ``channel_id``; ``timestamp``/``signature`` override signing.

        With an emulator, a 200 ack body that carries a message is shown there as Slack shows it.
        """
        actor = self._actor(user_id, channel_id, channel_name)
        response_url = self._response_url(actor, message_ts=None)
        trigger_id = self._trigger_id()
        fields = slash_command_fields(
            self._workspace,
            actor,
            command=command,
            text=text,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        body = encode_form(fields)
        headers = self._headers(body, timestamp=timestamp, signature=signature, signed=signed)
        _add_retry_headers(headers, retry_num)
        sent = self._post(body, headers)
        return self._finish(
            _with(sent, "slash_command", actor, response_url=response_url, trigger_id=trigger_id)
        )

    def block_action(
        self,
        *,
        user_id: str,
        action: Mapping[str, Any],
        message: Mapping[str, Any] | None = None,
        channel_id: str = "C0INCIDENTS",
        view: Mapping[str, Any] | None = None,
        block_id: str | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
        channel_name: str | None = None,
    ) -> SentRequest:
        """Click ``action`` (a Block Kit element dict) in ``message``, an ephemeral or a view.

        The block_id is the one of the block holding the element unless given.
        """
        if message is None and message_ts is None and view is None:
            raise ValueError("a block action needs a message, a message_ts or a view")
        actor = self._actor(user_id, channel_id, channel_name)
        ts = message_ts or (str(message["ts"]) if message is not None else None)
        surface = view if view is not None else message
        blocks = list(surface.get("blocks") or []) if surface is not None else []
        found_block = block_id or find_block_id(blocks, str(action.get("action_id", "")))
        response_url = None if view is not None else self._response_url(actor, message_ts=ts)
        trigger_id = self._trigger_id()
        payload = block_actions_payload(
            self._workspace,
            actor,
            trigger_id=trigger_id,
            actions=[action_entry(action, block_id=found_block, now=self._clock())],
            message=message,
            message_ts=ts,
            is_ephemeral=is_ephemeral,
            view=view,
            response_url=response_url,
        )
        sent = self._post_signed(interaction_body(payload))
        return _with(sent, "block_actions", actor, response_url=response_url, trigger_id=trigger_id)

    def view_submission(
        self, *, user_id: str, view: Mapping[str, Any], values: Mapping[str, Any]
    ) -> SentRequest:
        """Submit a modal with ``values`` as its ``state.values`` ({block_id: {action_id: ...}})."""
        actor = self._actor(user_id, "", None)
        trigger_id = self._trigger_id()
        payload = view_submission_payload(
            self._workspace, actor, trigger_id=trigger_id, view=view, values=values
        )
        sent = _with(
            self._post_signed(interaction_body(payload)),
            "view_submission",
            actor,
            response_url=None,
            trigger_id=trigger_id,
        )
        return self._finish(replace(sent, view_id=str(view.get("id", "")) or None))

    def event(self, event: Mapping[str, Any], *, bot_user_id: str = "U0BOT") -> SentRequest:
        """Deliver an Events API event (e.g. ``app_home_opened``) as Slack's JSON body."""
        body = event_callback_body(
            self._workspace,
            event,
            event_id=random_id("Ev"),
            event_time=int(self._clock()),
            bot_user_id=bot_user_id,
        )
        headers = self._headers(body, timestamp=None, signature=None, signed=True)
        headers["Content-Type"] = "application/json"
        return replace(self._post(body, headers), kind="event")

    def resend(self, sent: SentRequest, *, retry_num: int) -> SentRequest:
        """Redeliver the identical body, as Slack does after a timeout, freshly signed."""
        headers = {
            k: v
            for k, v in sent.sent_headers.items()
            if k not in _SIGNATURE_HEADERS and k not in _RETRY_HEADERS
        }
        headers.update(self._headers(sent.sent_body, timestamp=None, signature=None, signed=True))
        _add_retry_headers(headers, retry_num)
        again = self._post(sent.sent_body, headers)
        return self._finish(
            replace(
                again,
                kind=sent.kind,
                channel_id=sent.channel_id,
                user_id=sent.user_id,
                response_url=sent.response_url,
                trigger_id=sent.trigger_id,
                view_id=sent.view_id,
            )
        )

    def send_raw(self, body: bytes, headers: Mapping[str, str]) -> SentRequest:
        """Send exactly this body and these headers (for tests of bad or missing signatures)."""
        return self._post(body, dict(headers))

    def signed_headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        """The headers Slack would send with ``body`` now (or at ``timestamp``)."""
        return self._headers(body, timestamp=timestamp, signature=None, signed=True)

    # -- internals ------------------------------------------------------------------------------

    def _actor(self, user_id: str, channel_id: str, channel_name: str | None) -> Actor:
        known = self._emulator.user_name(user_id) if self._emulator is not None else None
        return Actor(
            user_id=user_id,
            user_name=known or user_id.lower(),
            channel_id=channel_id,
            channel_name=channel_name or default_channel_name(channel_id),
        )

    def _response_url(self, actor: Actor, *, message_ts: str | None) -> str:
        if self._emulator is None:
            # Shaped like Slack's; nothing listens there, so respond() fails loudly.
            return f"https://hooks.slack.com/commands/{self._workspace.team_id}/0/unroutable"
        return self._emulator.new_response_url(
            channel=actor.channel_id, user=actor.user_id, message_ts=message_ts
        )

    def _trigger_id(self) -> str:
        return self._emulator.new_trigger_id() if self._emulator is not None else new_trigger_id()

    def _headers(
        self, body: bytes, *, timestamp: int | None, signature: str | None, signed: bool
    ) -> dict[str, str]:
        headers = {
            "Content-Type": FORM_CONTENT_TYPE,
            "User-Agent": SLACK_USER_AGENT,
            "Accept": "application/json,*/*",
        }
        if signed:
            stamp = timestamp if timestamp is not None else int(self._clock())
            headers["X-Slack-Request-Timestamp"] = str(stamp)
            headers["X-Slack-Signature"] = signature or sign(
                signing_secret=self._signing_secret, timestamp=stamp, body=body
            )
        return headers

    def _post_signed(self, body: bytes) -> SentRequest:
        return self._post(body, self._headers(body, timestamp=None, signature=None, signed=True))

    def _post(self, body: bytes, headers: dict[str, str]) -> SentRequest:
        started = time.perf_counter()
        response = self._client.post(self._events_url, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        return SentRequest(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=response.content,
            json=_parse_json(response),
            elapsed_s=elapsed,
            sent_body=body,
            sent_headers=headers,
        )

    def _finish(self, sent: SentRequest) -> SentRequest:
        """Play the Slack client's reaction to the app's HTTP answer."""
        if self._emulator is None or sent.status != 200:
            return sent
        if sent.kind == "slash_command" and sent.channel_id and sent.user_id:
            shown = _ack_message(sent)
            if shown is not None:
                self._emulator.record_ack(channel=sent.channel_id, user=sent.user_id, payload=shown)
        elif sent.kind == "view_submission" and sent.view_id:
            _apply_view_ack(self._emulator, sent)
        return sent


def _add_retry_headers(headers: dict[str, str], retry_num: int | None) -> None:
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"


def _parse_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _ack_message(sent: SentRequest) -> JsonDict | None:
    """What Slack shows for a slash command's ack body: JSON as a message, plain text as text."""
    if isinstance(sent.json, dict):
        return sent.json if (sent.json.get("text") or sent.json.get("blocks")) else None
    text = sent.body.decode("utf-8", "replace").strip()
    return {"text": text} if text else None


def _apply_view_ack(emulator: SlackEmulator, sent: SentRequest) -> None:
    # An empty ack closes the modal, as does "clear"; "errors", "update" and "push" keep it open.
    action = sent.json.get("response_action") if isinstance(sent.json, dict) else None
    if action in (None, "clear") and sent.view_id:
        emulator.close_view(sent.view_id)


def _with(
    sent: SentRequest,
    kind: Kind,
    actor: Actor,
    *,
    response_url: str | None,
    trigger_id: str,
) -> SentRequest:
    return replace(
        sent,
        kind=kind,
        channel_id=actor.channel_id or None,
        user_id=actor.user_id,
        response_url=response_url,
        trigger_id=trigger_id,
    )
