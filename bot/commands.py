"""Slash-command listeners: ack on the request thread, then parse, run a flow and render after it.

Parsing errors raise :class:`InputError`; the one error handler turns them into an ephemeral
message with the valid forms, so listeners stay short and never format errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from bot import grammar
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.status import collect_status
from bot.ids import SlashCommand
from bot.views import Message, build_help_view, build_not_available_view, build_status_view

Flow = Callable[[Deps, Any], Message]

# What each request type runs; a request the grammar knows but no flow serves yet is answered
# honestly by build_not_available_view instead of being dropped.
_FLOWS: dict[type, Flow] = {
    grammar.Help: lambda deps, request: build_help_view(),
    grammar.Status: lambda deps, request: build_status_view(collect_status(deps)),
}


def register_commands(app: App) -> None:
    app.command(SlashCommand.ROLLBACK.value)(reporting_errors(handle_rollback_command))
    app.command(SlashCommand.CHECKPOINT.value)(reporting_errors(handle_checkpoint_command))
    app.command(SlashCommand.SEVERITY.value)(reporting_errors(handle_severity_command))


def handle_rollback_command(
    ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    _ack_then_run(SlashCommand.ROLLBACK, ack, command, respond, context)


def handle_checkpoint_command(
    ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    _ack_then_run(SlashCommand.CHECKPOINT, ack, command, respond, context)


def handle_severity_command(
    ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    _ack_then_run(SlashCommand.SEVERITY, ack, command, respond, context)


def _ack_then_run(
    slash: SlashCommand,
    ack: Ack,
    command: dict[str, Any],
    respond: Respond,
    context: BoltContext,
) -> None:
    ack()
    after_ack(context, command, respond, lambda deps: _run(slash, command, respond, deps))


def _run(slash: SlashCommand, command: dict[str, Any], respond: Respond, deps: Deps) -> None:
    request = grammar.parse(slash.value, command.get("text", ""))
    flow = _FLOWS.get(type(request))
    if flow is None:
        # Name the subcommand for /rollback; the other commands have none.
        verb = (
            command.get("text", "").split(maxsplit=1)[:1] if slash is SlashCommand.ROLLBACK else []
        )
        message = build_not_available_view(" ".join([slash.value, *(v.lower() for v in verb)]))
    else:
        message = flow(deps, request)
    respond(**message, response_type="ephemeral")
