"""The Before Retry checklist's checkboxes and its Approve retry button.

A checkboxes action has no value of its own; the checklist it belongs to is in its block id
(``retry_items-<id>``), and Slack sends every ticked box each time, so the store keeps exactly
what the person now sees.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from actions.errors import InputError
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.retry import approve_retry, tick_items
from bot.ids import ActionId
from bot.listeners.buttons import (
    Button,
    Click,
    Permission,
    message_ts_of,
    register_buttons,
)
from bot.slack.replies import Reply
from bot.slack.retry import redraw_checklist
from bot.views.retry import retry_id_from, shown_ticked, ticked_from
from store import Surface, TimelineAction


def handle_retry_tick_action(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    ack()
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or "")
    block_id = action.get("block_id")
    retry_id, ticked = retry_id_from(block_id), ticked_from(action)
    shown = shown_ticked(body, block_id)
    message_ts = message_ts_of(body)
    clicked = (channel, message_ts) if channel and message_ts else None

    def tick(deps: Deps) -> None:
        if not user or retry_id is None:
            raise InputError("Those boxes are not on a checklist rollback-bot made.")
        try:
            checklist = tick_items(deps, retry_id, shown=shown, ticked=ticked, actor=user)
        except InputError as error:
            Reply(user, channel, respond, client).say(error.user_message)
            return
        redraw_checklist(deps, client, checklist, clicked=clicked)

    after_ack(context, body, respond, tick)


def handle_retry_approve_button(deps: Deps, click: Click) -> None:
    checklist = approve_retry(
        deps, click.number("retry"), actor=click.user, surface=Surface.SLACK, orchestrator=True
    )
    clicked = (click.reply.channel, click.message_ts) if click.message_ts else None
    redraw_checklist(deps, click.client, checklist, clicked=clicked)
    click.tell(
        f"Approved: the freeze from incident #{checklist.incident.id} is lifted. The phase may "
        "go on."
    )


BUTTONS = {
    ActionId.RETRY_APPROVE: Button(
        handle_retry_approve_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can approve a retry. Nothing was changed.",
        TimelineAction.RETRY_REFUSED,
    ),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
    app.action(ActionId.RETRY_TICK.value)(reporting_errors(handle_retry_tick_action))
