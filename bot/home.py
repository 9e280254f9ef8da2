"""App Home: the dashboard a stakeholder sees when they open the bot."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.deps import deps_of
from bot.errors import reporting_errors
from bot.flows.status import collect_status
from bot.views import build_home_view


def register_home(app: App) -> None:
    app.event("app_home_opened")(reporting_errors(handle_home_opened))


def handle_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    # Events are acknowledged by Bolt before this runs; the tab has only a "home" variant.
    if event.get("tab", "home") != "home":
        return
    view = build_home_view(collect_status(deps_of(context)))
    client.views_publish(user_id=event["user"], view=view)
