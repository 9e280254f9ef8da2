"""A loopback Slack: a Web API emulator and a sender of requests signed as Slack signs them."""

from bot.emulator.payloads import Actor, Workspace, encode_form, interaction_body
from bot.emulator.records import ApiCall, ApiError, Message
from bot.emulator.sender import SentRequest, SlackSender
from bot.emulator.webapi import SlackEmulator

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
]
