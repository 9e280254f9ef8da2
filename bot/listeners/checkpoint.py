"""Button listeners: ack first, check who clicked, then run the flow after the ack.

Every button names its action with an :class:`bot.ids.ActionId`; what it acts on travels in its
value, so a click does exactly what the card showed, and a stale or forged value is refused.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from actions.errors import InputError
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.checkpoint import CheckpointRequest, take_checkpoint
from bot.ids import ActionId
from bot.slack.orchestrators import is_orchestrator
from bot.views.checkpoint import build_checkpoint_outcome_view


def register_interactions(app: App) -> None:
    app.action(ActionId.CHECKPOINT_CREATE.value)(reporting_errors(handle_checkpoint_create_button))
    app.action(ActionId.CHECKPOINT_FORCE.value)(reporting_errors(handle_checkpoint_force_button))


def handle_checkpoint_create_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    ack()
    after_ack(context, body, respond, lambda deps: _checkpoint(deps, body, action, respond, None))


def handle_checkpoint_force_button(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    ack()

    def force(deps: Deps) -> None:
        user = body["user"]["id"]
        orchestrators = deps.settings.config.slack.orchestrators
        if not is_orchestrator(user, orchestrators=orchestrators, client=client):
            respond(
                text="Only an orchestrator can force a checkpoint past a failing checklist. "
                "Nothing was changed.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        _checkpoint(deps, body, action, respond, user)

    after_ack(context, body, respond, force)


def _checkpoint(
    deps: Deps,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    forced_by: str | None,
) -> None:
    user = body["user"]["id"]
    request = CheckpointRequest.from_value(button_value(action))
    outcome = take_checkpoint(deps, request, actor=user, surface="slack", forced_by=forced_by)
    message = build_checkpoint_outcome_view(outcome, request, requested_by=user)
    # The card the button was on becomes the result, so nobody presses it again.
    respond(**message, replace_original=True)


def button_value(action: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(action.get("value") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InputError("That button's value is not one rollback-bot made; nothing was changed.")
    return value
