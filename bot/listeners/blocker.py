"""A blocker's rating buttons: Critical / High / Medium / Low, for orchestrators only."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.flows.blocker import rate_blocker
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, Permission, register_buttons
from bot.slack.incidents import follow_up, retire_rating_requests, show_incident
from bot.views.blocker import rating_of


def handle_blocker_rate_button(deps: Deps, click: Click) -> None:
    rated = rate_blocker(
        deps, click.number("incident"), rating=rating_of(click.action_id), actor=click.user
    )
    show_incident(deps, click.client, rated.proposal)
    retire_rating_requests(deps, click.client, rated.incident, rated.effect)
    follow_up(deps, click.client, rated.incident.id)
    click.tell(f"Rated {rated.rating}. {rated.effect}")


_RATE = Button(
    handle_blocker_rate_button,
    Permission.ORCHESTRATOR,
    "Only an orchestrator can rate a blocker. Nothing was changed.",
)
BUTTONS = {
    ActionId.BLOCKER_RATE_CRITICAL: _RATE,
    ActionId.BLOCKER_RATE_HIGH: _RATE,
    ActionId.BLOCKER_RATE_MEDIUM: _RATE,
    ActionId.BLOCKER_RATE_LOW: _RATE,
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
