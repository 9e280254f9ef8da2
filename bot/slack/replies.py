"""The ways back to whoever asked: privately, or in a channel everyone there can read.

A slash command and a click both carry a ``response_url`` (``respond``), which reaches the
person even where the bot is not a member; a channel post goes through the Web API and can be
refused (``not_in_channel``), in which case the person still gets the answer privately.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.slack.messages import LiveMessage
from bot.views.blocks import Message


@dataclass(frozen=True)
class Reply:
    """Who asked, where, and the two ways back to them."""

    user: str
    channel: str  # where they asked: the channel of the command or of the clicked card
    respond: Respond
    client: WebClient

    def tell(self, message: Message) -> None:
        """Only the asker sees it; the message they clicked (if any) stays as it is."""
        self.respond(**message, response_type="ephemeral", replace_original=False)

    def say(self, text: str) -> None:
        self.tell({"text": text})

    def replace(self, message: Message) -> None:
        """The clicked message becomes this one, so its buttons cannot be pressed again."""
        self.respond(**message, replace_original=True)

    def post_or_tell(self, channel: str, message: Message) -> LiveMessage:
        """Post in ``channel``; when the bot cannot, the asker still gets it privately."""
        live = LiveMessage(self.client, channel)
        if not live.start(message):
            self.tell(message)
        return live
