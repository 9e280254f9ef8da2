"""The one shape of every button listener: ack, read the click, check who clicked, run the job.

Each capability lists its buttons as a table of :class:`Button` rows (its job, and who may
press it) and registers them with :func:`register_buttons`. The listener acks on the request
thread; after the ack the clicker is checked against the row's :class:`Permission` (here, once,
at registration, as Dispatch does) before the job runs. A refused click is told why privately
and recorded in the timeline; the job never sees it.

What a button acts on travels in its value (ids, never the person's text), so a click does
exactly what the card showed, and a value that is not one the bot made is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from actions.errors import InputError
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.ids import ActionId
from bot.slack.orchestrators import is_orchestrator
from bot.slack.replies import Reply
from store import Surface, TimelineAction

NOT_OURS = "That button's value is not one rollback-bot made; nothing was changed."
#: Ids the bot hands out fit SQLite's integers many times over; a larger one is forged.
MAX_ID = 2**31 - 1


class Permission(Enum):
    ANYONE = "anyone"
    ORCHESTRATOR = "orchestrator"  # named in slack.orchestrators, by user ID or user group
    PAGED = "paged"  # an orchestrator or someone in escalation.fallback: who gets paged


@dataclass(frozen=True)
class Click:
    """Who clicked which button, what its value says, and the ways back to them."""

    action_id: str
    value: dict[str, Any]
    reply: Reply
    message_ts: str | None = None  # the message the button was on, when it was a message
    trigger_id: str | None = None  # for opening a modal, within 3 seconds of the click

    @property
    def user(self) -> str:
        return self.reply.user

    @property
    def client(self) -> WebClient:
        return self.reply.client

    def number(self, key: str) -> int:
        """A non-negative whole number from the value (a plan id, an attempt)."""
        value = self.value.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
            raise InputError("That button does not match a rollback plan; nothing was changed.")
        return value

    def tell(self, text: str) -> None:
        self.reply.say(text)


Job = Callable[[Deps, Click], None]


@dataclass(frozen=True)
class Button:
    job: Job
    permission: Permission = Permission.ANYONE
    refusal: str = ""  # what a clicker without the permission is told
    refused_as: TimelineAction = TimelineAction.PERMISSION_REFUSED


def register_buttons(app: App, buttons: Mapping[ActionId, Button]) -> None:
    for action_id, row in buttons.items():
        app.action(action_id.value)(reporting_errors(button_listener(row)))


def button_listener(row: Button) -> Callable[..., None]:
    def listener(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        user, channel = body.get("user"), body.get("channel")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            raise InputError("That click did not say who made it; nothing was done.")
        where = str(channel.get("id") or "") if isinstance(channel, dict) else ""
        reply = Reply(user["id"], where, respond, client)
        after_ack(context, body, respond, lambda deps: _checked(deps, row, action, body, reply))

    return listener


def _checked(
    deps: Deps, row: Button, action: dict[str, Any], body: dict[str, Any], reply: Reply
) -> None:
    # Read after the delivery claim and the audit, so even a click with a junk value is on
    # the timeline before it is refused.
    trigger = body.get("trigger_id")
    click = Click(
        str(action.get("action_id", "")),
        button_value(action),
        reply,
        message_ts_of(body),
        trigger if isinstance(trigger, str) else None,
    )
    if not _permitted(deps, row.permission, click):
        deps.store.append_event(
            actor=click.user,
            surface=Surface.SLACK,
            action=row.refused_as,
            details={"action_id": click.action_id, "reason": row.refusal},
        )
        click.tell(row.refusal)
        return
    row.job(deps, click)


def message_ts_of(body: Mapping[str, Any]) -> str | None:
    """The message an interaction came from, when it came from one."""
    container, message = body.get("container"), body.get("message")
    for source, key in ((container, "message_ts"), (message, "ts")):
        if isinstance(source, dict) and isinstance(source.get(key), str) and source[key]:
            return str(source[key])
    return None


def _permitted(deps: Deps, permission: Permission, click: Click) -> bool:
    if permission is Permission.ANYONE:
        return True
    if clicked_by_orchestrator(deps, click):
        return True
    if permission is Permission.PAGED:
        fallback = deps.settings.config.escalation.fallback
        return is_orchestrator(click.user, orchestrators=fallback, client=click.client)
    return False


def clicked_by_orchestrator(deps: Deps, click: Click) -> bool:
    orchestrators = deps.settings.config.slack.orchestrators
    return is_orchestrator(click.user, orchestrators=orchestrators, client=click.client)


def button_value(action: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(action.get("value") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InputError(NOT_OURS)
    return value
