"""A page's Acknowledge button: the pages pause, nothing is decided."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.flows.escalation import acknowledge
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, Permission, register_buttons


def handle_page_acknowledge_button(deps: Deps, click: Click) -> None:
    acknowledged = acknowledge(deps, click.number("incident"), actor=click.user)
    click.tell(acknowledged.message)


BUTTONS = {
    ActionId.PAGE_ACKNOWLEDGE: Button(
        handle_page_acknowledge_button,
        Permission.PAGED,
        "Only the people being paged (orchestrators, the fallback) can acknowledge a page.",
    ),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
