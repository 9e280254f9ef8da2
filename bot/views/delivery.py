"""Saying why a message did not reach its channel, and what to do about it, in plain words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.slack.messages import TIMED_OUT
from bot.views.blocks import Message, context, escape, mention, message, section, unescape


def channel_problem(channel: str, problem: str | None) -> str:
    """Why the bot could not post or edit in ``channel`` (mrkdwn), with the fix."""
    where = f"<#{escape(channel)}>"
    if problem == "not_in_channel":
        return f"I am not a member of {where}: invite me there with `/invite @rollback-bot`."
    if problem == "channel_not_found":
        return (
            f"I cannot see {where}: it is private and I am not in it, or it no longer exists. "
            "Invite me there, or point `slack.channel` at the incident channel."
        )
    if problem == "is_archived":
        return f"{where} is archived: unarchive it, or point `slack.channel` at another channel."
    if problem == TIMED_OUT:
        return (
            f"Slack did not answer in time when I wrote in {where}, so the message may be there "
            "or not."
        )
    return f"Slack refused my message in {where} (`{escape(problem or 'unknown')}`)."


def build_undelivered_view(
    card: Message, *, reason: str, reached: Sequence[str] = (), note: str = ""
) -> Message:
    """``card`` with, on top, why it is not in the channel and who got it directly instead."""
    said = f":warning: {reason}"
    if reached:
        said += " I sent it directly to " + ", ".join(mention(user) for user in reached) + "."
    if note:
        said += f" {note}"
    blocks: list[dict[str, Any]] = [section(said), *card.get("blocks", [])]
    return message(unescape(str(card.get("text", ""))), blocks)


def build_cannot_edit_view(*, reason: str) -> Message:
    """For the person who clicked, when the card they clicked can no longer be edited."""
    return message(
        "I can no longer edit the incident's card; the outcome comes here.",
        [
            section(
                f":warning: {reason} The rollback goes on; I will tell you its outcome here and "
                "send it to the requester and the orchestrators directly."
            ),
            context("Nothing is lost while the card is stale: the journal has every step."),
        ],
    )
