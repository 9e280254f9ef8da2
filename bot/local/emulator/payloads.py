"""Builders of the exact request bodies Slack sends to an app's request URL.

Slash commands arrive as a flat ``application/x-www-form-urlencoded`` body whose fields come in
the order Slack sends them; interactions arrive as one form field, ``payload``, holding JSON.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bot.local.emulator.records import (
    EMULATOR_VERIFICATION_TOKEN,
    JsonDict,
    Message,
    format_ts,
    new_block_id,
)

# Keys of a Block Kit element that Slack copies into the ``actions`` entry of a click.
_ACTION_KEYS = ("text", "value", "style", "url", "selected_option", "selected_options")


@dataclass(frozen=True)
class Workspace:
    """The workspace and app a request claims to come from."""

    team_id: str
    team_domain: str
    api_app_id: str
    # The deprecated verification token Slack still puts in every body; the bot must not use it.
    verification_token: str = EMULATOR_VERIFICATION_TOKEN


@dataclass(frozen=True)
class Actor:
    """The user who typed the command or clicked, and where."""

    user_id: str
    user_name: str
    channel_id: str
    channel_name: str


def encode_form(fields: Iterable[tuple[str, str]]) -> bytes:
    """Form-encode as Slack does: ``+`` for spaces, everything else outside [A-Za-z0-9_.-~] %XX."""
    return urlencode(list(fields)).encode("ascii")


def default_channel_name(channel_id: str) -> str:
    # Slack's own placeholders for conversations that have no name.
    if channel_id.startswith("D"):
        return "directmessage"
    if channel_id.startswith("G"):
        return "privategroup"
    return channel_id.lower()


def slash_command_fields(
    ws: Workspace,
    actor: Actor,
    *,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> list[tuple[str, str]]:
    """The fields of a slash command request, in the order Slack sends them.

    Slack escapes ``&``, ``<`` and ``>`` in what the person typed, whatever ``should_escape``
    says (that setting only decides whether mentions become IDs).
    """
    typed = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return [
        ("token", ws.verification_token),
        ("team_id", ws.team_id),
        ("team_domain", ws.team_domain),
        ("channel_id", actor.channel_id),
        ("channel_name", actor.channel_name),
        ("user_id", actor.user_id),
        ("user_name", actor.user_name),
        ("command", command),
        ("text", typed),
        ("api_app_id", ws.api_app_id),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id),
    ]


def interaction_body(payload: Mapping[str, Any]) -> bytes:
    """``payload=<json>`` as Slack serialises it: compact, ASCII-only, with ``/`` as ``\\/``."""
    # "/" only ever occurs inside JSON strings, where "\/" is a valid escape of it.
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")
    return encode_form([("payload", raw)])


def user_ref(ws: Workspace, actor: Actor) -> JsonDict:
    return {
        "id": actor.user_id,
        "username": actor.user_name,
        "name": actor.user_name,
        "team_id": ws.team_id,
    }


def find_block_id(blocks: Sequence[Mapping[str, Any]], action_id: str) -> str | None:
    """The block_id of the block holding the element with this action_id, if any."""
    for block in blocks:
        elements = list(block.get("elements") or [])
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping):
            elements.append(accessory)
        if any(isinstance(e, Mapping) and e.get("action_id") == action_id for e in elements):
            block_id = block.get("block_id")
            return str(block_id) if block_id else None
    return None


def action_entry(element: Mapping[str, Any], *, block_id: str | None, now: float) -> JsonDict:
    """One ``actions[]`` entry for a click on a Block Kit element."""
    entry: JsonDict = {
        "action_id": element.get("action_id", ""),
        # Slack reports the block's generated id when the app set none; so do we.
        "block_id": block_id or new_block_id(),
    }
    for key in _ACTION_KEYS:
        if key in element:
            entry[key] = copy.deepcopy(element[key])
    entry["type"] = element.get("type", "button")
    entry["action_ts"] = format_ts(int(now * 1_000_000))
    return entry


def block_actions_payload(
    ws: Workspace,
    actor: Actor,
    *,
    trigger_id: str,
    actions: list[JsonDict],
    message: Mapping[str, Any] | None,
    message_ts: str | None,
    is_ephemeral: bool,
    view: Mapping[str, Any] | None,
    response_url: str | None,
) -> JsonDict:
    """A ``block_actions`` interaction from a message (or an ephemeral one) or from a view."""
    payload: JsonDict = {
        "type": "block_actions",
        "user": user_ref(ws, actor),
        "api_app_id": ws.api_app_id,
        "token": ws.verification_token,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "")}
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": actor.channel_id,
            "is_ephemeral": is_ephemeral,
        }
    payload["trigger_id"] = trigger_id
    payload["team"] = {"id": ws.team_id, "domain": ws.team_domain}
    payload["enterprise"] = None
    payload["is_enterprise_install"] = False
    if view is not None:
        # Clicks in a modal or Home tab carry the view and no channel, message or response_url.
        payload["view"] = copy.deepcopy(dict(view))
        payload["state"] = copy.deepcopy(view.get("state") or {"values": {}})
    else:
        payload["channel"] = {"id": actor.channel_id, "name": actor.channel_name}
        # Slack leaves ephemeral messages out of the payload: it does not store them.
        if message is not None and not is_ephemeral:
            payload["message"] = copy.deepcopy(dict(message))
        payload["state"] = {"values": {}}
        payload["response_url"] = response_url
    payload["actions"] = actions
    return payload


def view_submission_payload(
    ws: Workspace,
    actor: Actor,
    *,
    trigger_id: str,
    view: Mapping[str, Any],
    values: Mapping[str, Any],
) -> JsonDict:
    """A ``view_submission``: the submitted view with the user's input in ``state.values``."""
    submitted = copy.deepcopy(dict(view))
    submitted["state"] = {"values": copy.deepcopy(dict(values))}
    return {
        "type": "view_submission",
        "team": {"id": ws.team_id, "domain": ws.team_domain},
        "user": user_ref(ws, actor),
        "api_app_id": ws.api_app_id,
        "token": ws.verification_token,
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback_body(
    ws: Workspace, event: Mapping[str, Any], *, event_id: str, event_time: int, bot_user_id: str
) -> bytes:
    """An Events API delivery: JSON, with the ``event_id`` Slack repeats on every retry."""
    payload = {
        "token": ws.verification_token,
        "team_id": ws.team_id,
        "api_app_id": ws.api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


# -- message events (message.channels / message.groups) -------------------------------------------


def _later(ts: str, micros: int) -> str:
    seconds, _, fraction = ts.partition(".")
    return format_ts(int(seconds) * 1_000_000 + int(fraction or 0) + micros)


def message_event(message: Message) -> JsonDict:
    """The ``message`` event Slack sends when a person posts ``message``."""
    event: JsonDict = {
        "type": "message",
        "channel": message.channel,
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "event_ts": message.ts,
        "channel_type": "channel",
    }
    if message.thread_ts is not None:
        event["thread_ts"] = message.thread_ts
    return event


def message_changed_event(before: Message, after: Message) -> JsonDict:
    """The ``message_changed`` event of an edit: the new message, and the one it replaced."""
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": after.channel,
        "hidden": True,
        "ts": _later(after.ts, 500_000),
        "event_ts": _later(after.ts, 500_000),
        "message": {**message_event(after), "edited": {"user": after.user, "ts": after.ts}},
        "previous_message": message_event(before),
        "channel_type": "channel",
    }


def message_deleted_event(message: Message) -> JsonDict:
    """The ``message_deleted`` event: it names the message gone, not who removed it."""
    return {
        "type": "message",
        "subtype": "message_deleted",
        "channel": message.channel,
        "hidden": True,
        "deleted_ts": message.ts,
        "ts": _later(message.ts, 500_000),
        "event_ts": _later(message.ts, 500_000),
        "previous_message": message_event(message),
        "channel_type": "channel",
    }


def reaction_added_event(user: str, reaction: str, message: Message) -> JsonDict:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": message.user,
        "item": {"type": "message", "channel": message.channel, "ts": message.ts},
        "event_ts": _later(message.ts, 250_000),
    }
