"""Direct messages: how the bot reaches people when a channel cannot (``im:write``).

A rollback must never run with nobody told. When the incident channel refuses a card or an
edit, the requester and the orchestrators get it directly, in the bot's DM with each of them
(``conversations.open``, then ``chat.postMessage``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient

from bot.slack.messages import SLACK_FAILURES, LiveMessage, slack_problem
from bot.views.blocks import Message

log = logging.getLogger("rollback_bot.direct")


def message_directly(client: WebClient, user: str, message: Message) -> LiveMessage | None:
    """Post ``message`` in the bot's DM with ``user``; the posted message, or None."""
    try:
        opened = client.conversations_open(users=user)
    except SLACK_FAILURES as error:
        log.warning("could not open a DM with %s: %s", user, slack_problem(error))
        return None
    channel = (opened.get("channel") or {}).get("id")
    if not isinstance(channel, str) or not channel:
        return None
    live = LiveMessage(client, channel)
    return live if live.start(message) else None


def message_each(client: WebClient, users: Iterable[str], message: Message) -> list[str]:
    """DM each person once; the ones who got it."""
    reached: list[str] = []
    for user in dict.fromkeys(users):
        if message_directly(client, user, message) is not None:
            reached.append(user)
    return reached
