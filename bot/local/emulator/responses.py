"""What Slack does with a message sent to a ``response_url`` or returned in an HTTP ack body."""

from __future__ import annotations

from bot.local.emulator.methods import message_content
from bot.local.emulator.records import ApiError, JsonDict, Message
from bot.local.emulator.state import ResponseTarget, WorkspaceState


def apply_response_url(state: WorkspaceState, target: ResponseTarget, payload: JsonDict) -> None:
    """Post, replace or delete as Slack does for a JSON payload sent to a response_url."""
    if payload.get("delete_original") is True:
        index = _original(state, target)
        state.change_message(index, deleted=True)
        return
    text, blocks = message_content(payload)
    if payload.get("replace_original") is True:
        # A replacement keeps the original's visibility; response_type is ignored for it.
        index = _original(state, target)
        state.change_message(index, text=text, blocks=blocks or [], edited=True)
        return
    in_channel = payload.get("response_type") == "in_channel"
    thread_ts = payload.get("thread_ts")
    message = state.add_message(
        channel=target.channel,
        text=text,
        blocks=blocks or [],
        thread_ts=thread_ts if isinstance(thread_ts, str) and thread_ts else None,
        ephemeral_to=None if in_channel else target.user,
        via="response_url",
    )
    target.last_posted_ts = message.ts


def _original(state: WorkspaceState, target: ResponseTarget) -> int:
    ts = target.message_ts or target.last_posted_ts
    index = state.find_message(target.channel, ts, ephemeral_ok=True)
    if index is None:
        raise ApiError("message_not_found")
    return index


def record_ack(state: WorkspaceState, channel: str, user: str, payload: JsonDict) -> Message | None:
    """Show a slash command's ack body: ephemeral to the invoker unless it asks for in_channel.

    Returns None when the body carries nothing to show (an empty ack shows nothing); a body Slack
    would refuse (say, 51 blocks) raises :class:`ApiError` so the test sees the bot's mistake.
    """
    try:
        text, blocks = message_content(payload)
    except ApiError as err:
        if err.code == "no_text":
            return None
        raise
    in_channel = payload.get("response_type") == "in_channel"
    return state.add_message(
        channel=channel,
        text=text,
        blocks=blocks or [],
        ephemeral_to=None if in_channel else user,
        via="ack",
    )
