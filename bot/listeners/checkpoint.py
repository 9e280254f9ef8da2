"""The checkpoint buttons: "Create checkpoint" on a reminder, "Force checkpoint" on a refusal."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.flows.checkpoint import recall_request, take_checkpoint
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, Permission, register_buttons
from bot.views.checkpoint import build_checkpoint_outcome_view
from store import Surface


def handle_checkpoint_create_button(deps: Deps, click: Click) -> None:
    _checkpoint(deps, click, forced_by=None)


def handle_checkpoint_force_button(deps: Deps, click: Click) -> None:
    _checkpoint(deps, click, forced_by=click.user)


def _checkpoint(deps: Deps, click: Click, *, forced_by: str | None) -> None:
    request = recall_request(deps, click.value)
    outcome = take_checkpoint(
        deps, request, actor=click.user, surface=Surface.SLACK, forced_by=forced_by
    )
    # The card the button was on becomes the result, so nobody presses it again.
    click.reply.replace(build_checkpoint_outcome_view(outcome, requested_by=click.user))


BUTTONS = {
    ActionId.CHECKPOINT_CREATE: Button(handle_checkpoint_create_button),
    ActionId.CHECKPOINT_FORCE: Button(
        handle_checkpoint_force_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can force a checkpoint past a failing checklist. "
        "Nothing was changed.",
    ),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
