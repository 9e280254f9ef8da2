"""Slack Web API methods, answered with the shapes and error codes real Slack uses.

Each handler takes the workspace state and the request's arguments (form fields are strings,
JSON fields keep their JSON types) and returns the response body, or raises :class:`ApiError`.
The caller holds the emulator's lock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.local.emulator.files import files_complete_upload_external, files_get_upload_url_external
from bot.local.emulator.records import ApiError, JsonDict
from bot.local.emulator.state import WorkspaceState, with_block_ids

Args = Mapping[str, Any]
Handler = Callable[[WorkspaceState, Args], JsonDict]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000
MAX_MPIM_USERS = 8
# Slack ids are a type letter then upper-case alphanumerics; "#incidents" or "incidents" is not.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


# -- argument helpers -------------------------------------------------------------------------


def _text(args: Args, name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _flag(args: Args, name: str) -> bool:
    # Form bodies carry booleans as "1"/"true" (slack_sdk sends "1"); JSON bodies as true.
    value = args.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return value is True or value == 1


def _json_arg(args: Args, name: str, error: str) -> Any:
    """A structured argument that form bodies carry as a JSON string and JSON bodies inline."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error) from None
    return value


def _blocks(args: Args, limit: int) -> list[JsonDict] | None:
    blocks = _json_arg(args, "blocks", "invalid_blocks_format")
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    if len(blocks) > limit:
        raise ApiError("invalid_blocks")
    if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
        raise ApiError("invalid_blocks")
    for block in blocks:
        _check_block(block)
    return with_block_ids(blocks)


def _check_block(block: JsonDict) -> None:
    """Refuse a block as Slack does (``invalid_blocks``): slack_sdk's Block Kit models hold
    Slack's limits (text lengths, a button value of at most 2,000 characters, …)."""
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    try:
        parsed = Block.parse(block)
        if parsed is None:
            raise ApiError("invalid_blocks")
        parsed.to_dict()  # validates the block and everything in it
    except (SlackObjectFormationError, KeyError, TypeError, ValueError):
        raise ApiError("invalid_blocks") from None


def message_content(args: Args) -> tuple[str, list[JsonDict] | None]:
    """Text and blocks of a message; Slack refuses one that has neither."""
    text = _text(args, "text") or ""
    blocks = _blocks(args, MAX_MESSAGE_BLOCKS)
    if not text and not blocks and not args.get("attachments"):
        raise ApiError("no_text")
    if len(text) > MAX_TEXT_CHARS:
        raise ApiError("msg_too_long")
    return text, blocks


def _channel(state: WorkspaceState, args: Args, *, user_ids_ok: bool = False) -> str:
    channel = _text(args, "channel") or ""
    if user_ids_ok and state.known_user(channel):
        # chat.postMessage to a user id posts in the app's DM with that user.
        return state.dm_channel(channel)
    if not _CHANNEL_ID.fullmatch(channel):
        raise ApiError("channel_not_found")
    return channel


def _known_user(state: WorkspaceState, args: Args, name: str) -> str:
    user_id = _text(args, name) or ""
    if not state.known_user(user_id):
        raise ApiError("user_not_found")
    return user_id


def _view_spec(args: Args, *, kind: str) -> JsonDict:
    view = _json_arg(args, "view", "invalid_arguments")
    if not isinstance(view, dict) or view.get("type") != kind:
        raise ApiError("invalid_arguments")
    if kind == "modal" and not view.get("title"):
        raise ApiError("invalid_arguments")
    blocks = view.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
        raise ApiError("invalid_blocks")
    if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
        raise ApiError("invalid_blocks")
    for block in blocks:
        _check_block(block)
    return view


def _check_hash(args: Args, current: JsonDict | None) -> None:
    # The hash guards against two writers racing on one view: a stale hash is refused.
    expected = _text(args, "hash")
    if expected and current is not None and current["hash"] != expected:
        raise ApiError("hash_conflict")


# -- methods ----------------------------------------------------------------------------------


def auth_test(state: WorkspaceState, args: Args) -> JsonDict:
    ident = state.identity
    return {
        "ok": True,
        "url": f"https://{ident.team_domain}.slack.com/",
        "team": ident.team_domain,
        "user": "rollback-bot",
        "team_id": ident.team_id,
        "user_id": ident.bot_user_id,
        "bot_id": ident.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(state: WorkspaceState, args: Args) -> JsonDict:
    channel = _channel(state, args, user_ids_ok=True)
    text, blocks = message_content(args)
    thread_ts = _text(args, "thread_ts") or None
    message = state.add_message(
        channel=channel,
        text=text,
        blocks=blocks or [],
        thread_ts=thread_ts,
        reply_broadcast=thread_ts is not None and _flag(args, "reply_broadcast"),
        via="api",
    )
    return {
        "ok": True,
        "channel": channel,
        "ts": message.ts,
        "message": state.message_dict(message),
    }


def chat_post_ephemeral(state: WorkspaceState, args: Args) -> JsonDict:
    channel = _channel(state, args)
    user_id = _known_user(state, args, "user")
    text, blocks = message_content(args)
    message = state.add_message(
        channel=channel,
        text=text,
        blocks=blocks or [],
        thread_ts=_text(args, "thread_ts") or None,
        ephemeral_to=user_id,
        via="api",
    )
    return {"ok": True, "message_ts": message.ts}


def chat_update(state: WorkspaceState, args: Args) -> JsonDict:
    channel = _channel(state, args)
    ts = _text(args, "ts")
    text, blocks = message_content(args)
    # Ephemeral messages cannot be edited through the API, only through their response_url.
    index = state.find_message(channel, ts, ephemeral_ok=False)
    if index is None:
        raise ApiError("message_not_found")
    old = state.messages[index]
    # Slack keeps the fields a chat.update leaves out; an explicit empty list clears blocks.
    message = state.change_message(
        index,
        text=text if "text" in args else old.text,
        blocks=blocks if blocks is not None else old.blocks,
        edited=True,
    )
    return {
        "ok": True,
        "channel": channel,
        "ts": message.ts,
        "text": message.text,
        "message": state.message_dict(message),
    }


def chat_delete(state: WorkspaceState, args: Args) -> JsonDict:
    channel = _channel(state, args)
    ts = _text(args, "ts")
    index = state.find_message(channel, ts, ephemeral_ok=False)
    if index is None:
        raise ApiError("message_not_found")
    state.change_message(index, deleted=True)
    return {"ok": True, "channel": channel, "ts": ts}


def conversations_open(state: WorkspaceState, args: Args) -> JsonDict:
    if _text(args, "channel"):
        return {"ok": True, "channel": {"id": _channel(state, args)}}
    raw = args.get("users")
    users = raw if isinstance(raw, list) else (_text(args, "users") or "").split(",")
    users = [str(u).strip() for u in users if str(u).strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    if len(users) > MAX_MPIM_USERS:
        raise ApiError("too_many_users")
    if not all(state.known_user(u) for u in users):
        raise ApiError("user_not_found")
    channel = state.dm_channel(users[0]) if len(users) == 1 else state.mpim_channel(users)
    already_open = channel in state.open_dms
    state.open_dms.add(channel)
    return {
        "ok": True,
        "no_op": already_open,
        "already_open": already_open,
        "channel": {"id": channel},
    }


def users_info(state: WorkspaceState, args: Args) -> JsonDict:
    return {"ok": True, "user": state.user_object(_known_user(state, args, "user"))}


def usergroups_users_list(state: WorkspaceState, args: Args) -> JsonDict:
    members = state.usergroups.get(_text(args, "usergroup") or "")
    if members is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(members)}


def views_open(state: WorkspaceState, args: Args) -> JsonDict:
    trigger_id = _text(args, "trigger_id")
    if not trigger_id:
        raise ApiError("invalid_arguments")
    spec = _view_spec(args, kind="modal")
    external_id = spec.get("external_id")
    if external_id and state.find_view(view_id=None, external_id=external_id):
        raise ApiError("duplicate_external_id")
    state.exchange_trigger(trigger_id)
    view = state.build_view(spec, view_id=state.new_view_id())
    state.modals[view["id"]] = view
    return {"ok": True, "view": view}


def views_update(state: WorkspaceState, args: Args) -> JsonDict:
    current = state.find_view(
        view_id=_text(args, "view_id"), external_id=_text(args, "external_id")
    )
    if current is None:
        raise ApiError("not_found")
    _check_hash(args, current)
    spec = _view_spec(args, kind=current["type"])
    if not spec.get("external_id"):
        # An update that leaves external_id out keeps the one the view was opened with.
        spec = {**spec, "external_id": current["external_id"]}
    view = state.build_view(spec, view_id=current["id"])
    state.store_view(view)
    return {"ok": True, "view": view}


def views_publish(state: WorkspaceState, args: Args) -> JsonDict:
    user_id = _known_user(state, args, "user_id")
    current = state.home_views.get(user_id)
    _check_hash(args, current)
    spec = _view_spec(args, kind="home")
    # A user's Home tab keeps its view id across publishes.
    view_id = current["id"] if current is not None else state.new_view_id()
    view = state.build_view(spec, view_id=view_id)
    state.home_views[user_id] = view
    return {"ok": True, "view": view}


def conversations_replies(state: WorkspaceState, args: Args) -> JsonDict:
    """A thread's parent and its replies; for a reply's ts, that reply alone (as Slack does)."""
    channel = _channel(state, args)
    ts = _text(args, "ts")
    index = state.find_message(channel, ts, ephemeral_ok=False)
    if index is None:
        raise ApiError("thread_not_found")
    found = state.messages[index]
    if found.thread_ts is not None and found.thread_ts != found.ts:
        thread = [found]
    else:
        thread = [found] + [
            m
            for m in state.messages
            if m.channel == channel and m.thread_ts == ts and not m.deleted and not m.ephemeral
        ]
    raw_limit = _text(args, "limit") or "1000"
    limit = int(raw_limit) if raw_limit.isdigit() else 1000
    return {
        "ok": True,
        "messages": [state.message_dict(m) for m in thread[: max(1, limit)]],
        "has_more": len(thread) > limit,
    }


def chat_get_permalink(state: WorkspaceState, args: Args) -> JsonDict:
    channel = _channel(state, args)
    ts = _text(args, "message_ts")
    index = state.find_message(channel, ts, ephemeral_ok=False)
    if index is None or ts is None:
        raise ApiError("message_not_found")
    found = state.messages[index]
    link = (
        f"https://{state.identity.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    )
    if found.thread_ts is not None and found.thread_ts != found.ts:
        link += f"?thread_ts={found.thread_ts}&cid={channel}"
    return {"ok": True, "channel": channel, "permalink": link}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "conversations.open": conversations_open,
    "conversations.replies": conversations_replies,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "chat.getPermalink": chat_get_permalink,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "views.open": views_open,
    "views.update": views_update,
    "views.publish": views_publish,
}
