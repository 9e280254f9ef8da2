"""Slack listeners, one module per surface or capability, each with ``register(app)``.

``commands`` holds the route table of every slash command; the button modules list their
buttons with who may press them; ``home`` is the App Home. What none of them handles is
answered by :func:`bot.errors.handle_bolt_error`.
"""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import (
    blocker,
    checkpoint,
    commands,
    escalation,
    fix_window,
    home,
    join,
    postmortem,
    retry,
    rollback,
    security,
)


def register(app: App) -> None:
    modules = (
        commands,
        home,
        checkpoint,
        rollback,
        blocker,
        escalation,
        fix_window,
        security,
        join,
        postmortem,
        retry,
    )
    for module in modules:
        module.register(app)
