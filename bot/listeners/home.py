"""App Home: the dashboard a stakeholder sees when they open the bot."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.home import record_home_open
from bot.slack.home import publish_home

log = logging.getLogger("rollback_bot.home")


def register(app: App) -> None:
    app.event("app_home_opened")(reporting_errors(handle_home_opened_event))


def handle_home_opened_event(
    body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    # Bolt acknowledges events itself when this returns; the tab has only a "home" variant.
    if event.get("tab", "home") != "home":
        return
    user = event.get("user")
    if not isinstance(user, str) or not user:
        log.info("ignored an app_home_opened without a user")
        return

    def publish(deps: Deps) -> None:
        record_home_open(deps, user)
        publish_home(deps, client, [user])

    after_ack(context, body, None, publish)
