"""The ways back to whoever asked: privately, or in a channel everyone there can read.

A slash command and a click both carry a ``response_url`` (``respond``), which reaches the
person even where the bot is not a member; a channel post goes through the Web API and can be
refused (``not_in_channel``), in which case the person still gets the answer privately.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.slack.messages import SLACK_FAILURES, LiveMessage, slack_problem
from bot.views.blocks import Message, plain_to_mrkdwn
from bot.views.delivery import build_undelivered_view, channel_problem

log = logging.getLogger("rollback_bot.replies")


@dataclass(frozen=True)
class Reply:
    """Who asked, where, and the two ways back to them."""

    user: str
    channel: str  # where they asked: the channel of the command or of the clicked card
    respond: Respond
    client: WebClient

    def tell(self, message: Message) -> bool:
        """Only the asker sees it; the message they clicked (if any) stays as it is.

        Slack may refuse the message (too long, blocks it will not draw): the asker is then
        told that in plain words, rather than nothing at all. False when nothing got through.
        """
        if self._sent(message):
            return True
        log.warning("Slack refused a private answer; sending a plain one instead")
        plain = {
            "text": "Slack would not show my answer here (it refused the message). Nothing "
            "else went wrong on that account; `/rollback status` shows where things stand."
        }
        return self._sent(plain)

    def _sent(self, message: Message) -> bool:
        try:
            answer = self.respond(**message, response_type="ephemeral", replace_original=False)
        except SLACK_FAILURES as error:
            log.warning("could not answer through the response_url: %s", slack_problem(error))
            return False
        return answer is None or getattr(answer, "status_code", 200) == 200

    def say(self, text: str) -> None:
        """Plain text, escaped: a ref name or a git complaint quoted in it mentions nobody."""
        self.tell({"text": plain_to_mrkdwn(text)})

    def replace(self, message: Message) -> None:
        """The clicked message becomes this one, so its buttons cannot be pressed again."""
        self.respond(**message, replace_original=True)

    def post_or_tell(self, channel: str, message: Message) -> LiveMessage:
        """Post in ``channel``; when the bot cannot, the asker gets it privately, with why."""
        live = LiveMessage(self.client, channel)
        if not live.start(message):
            self.tell_undelivered(message, live)
        return live

    def tell_undelivered(self, message: Message, live: LiveMessage) -> None:
        reason = channel_problem(live.channel, live.problem)
        self.tell(build_undelivered_view(message, reason=reason))
