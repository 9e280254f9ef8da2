"""A loopback Slack: a Web API emulator and a sender of requests signed as Slack signs them."""

from bot.local.emulator.payloads import (
    Actor,
    Workspace,
    encode_form,
    interaction_body,
    message_changed_event,
    message_deleted_event,
    message_event,
    reaction_added_event,
)
from bot.local.emulator.records import ApiCall, ApiError, Message
from bot.local.emulator.sender import SentRequest, SlackSender
from bot.local.emulator.webapi import SlackEmulator

__all__ = [
    "Actor",
    "ApiCall",
    "ApiError",
    "Message",
    "SentRequest",
    "SlackEmulator",
    "SlackSender",
    "Workspace",
    "encode_form",
    "interaction_body",
    "message_changed_event",
    "message_deleted_event",
    "message_event",
    "reaction_added_event",
]
