"""Slash-command listeners: ack on the request thread, then parse, run a flow and render after it.

Parsing errors raise :class:`InputError`; the one error handler turns them into an ephemeral
message with the valid forms, so listeners stay short and never format errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from actions.checks.result import CheckResult
from bot import grammar
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.checkpoint import CheckpointRequest, checkpoint_list, take_checkpoint
from bot.flows.cherry_pick import PickProposal, request_cherry_pick
from bot.flows.rollback import Proposal, request_scenario, request_target
from bot.flows.status import collect_status
from bot.flows.validation import planned_check_names, run_validation
from bot.ids import SlashCommand
from bot.slack.cards import post_card
from bot.slack.messages import LiveMessage
from bot.views.blocks import Message, build_help_view, build_not_available_view, build_status_view
from bot.views.cards import card_for
from bot.views.checkpoint import build_checkpoint_list_view, build_checkpoint_outcome_view
from bot.views.validation import build_checklist_view

Flow = Callable[[Deps, Any], Message]

# What each request type runs; a request the grammar knows but no flow serves yet is answered
# honestly by build_not_available_view instead of being dropped.
_FLOWS: dict[type, Flow] = {
    grammar.Help: lambda deps, request: build_help_view(),
    grammar.Status: lambda deps, request: build_status_view(collect_status(deps)),
    grammar.CheckpointList: lambda deps, request: _checkpoint_list_view(deps),
}


def _checkpoint_list_view(deps: Deps) -> Message:
    infos, problem = checkpoint_list(deps)
    return build_checkpoint_list_view(
        infos, remote=deps.settings.config.git.remote, remote_problem=problem, now=deps.clock()
    )


def register_commands(app: App) -> None:
    app.command(SlashCommand.ROLLBACK.value)(reporting_errors(handle_rollback_command))
    app.command(SlashCommand.CHECKPOINT.value)(reporting_errors(handle_checkpoint_command))
    app.command(SlashCommand.SEVERITY.value)(reporting_errors(handle_severity_command))


def handle_rollback_command(
    ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    _ack_then_run(SlashCommand.ROLLBACK, ack, Reply(command, respond, client), context)


def handle_checkpoint_command(
    ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    _ack_then_run(SlashCommand.CHECKPOINT, ack, Reply(command, respond, client), context)


def handle_severity_command(
    ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    _ack_then_run(SlashCommand.SEVERITY, ack, Reply(command, respond, client), context)


@dataclass(frozen=True)
class Reply:
    """Who asked, and the ways back to them."""

    command: dict[str, Any]
    respond: Respond
    client: WebClient


def _ack_then_run(slash: SlashCommand, ack: Ack, reply: Reply, context: BoltContext) -> None:
    ack()
    after_ack(context, reply.command, reply.respond, lambda deps: _run(slash, reply, deps))


def _run(slash: SlashCommand, reply: Reply, deps: Deps) -> None:
    command, respond = reply.command, reply.respond
    request = grammar.parse(slash.value, command.get("text", ""))
    if isinstance(request, grammar.Validate):
        _validate_in_channel(deps, reply)
        return
    if isinstance(request, grammar.CheckpointCreate):
        _checkpoint_in_channel(deps, reply, request)
        return
    if isinstance(request, grammar.Scenario | grammar.RollbackTo | grammar.CherryPick):
        _incident_in_channel(deps, reply, request)
        return
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


def _validate_in_channel(deps: Deps, reply: Reply) -> None:
    """Post the checklist in the channel and edit it as checks finish; the verdict comes first."""
    user = reply.command["user_id"]
    names = planned_check_names(deps, restart=False)
    live = LiveMessage(reply.client, reply.command["channel_id"])
    live.start(build_checklist_view([], pending=names, requested_by=user))
    done: list[CheckResult] = []
    lock = threading.Lock()

    def progress(result: CheckResult) -> None:
        with lock:
            done.append(result)
            finished = list(done)
        seen = {r.name for r in finished}
        pending = [name for name in names if name not in seen]
        live.update(build_checklist_view(finished, pending=pending, requested_by=user))

    report = run_validation(deps, actor=user, surface="slack", on_result=progress)
    final = build_checklist_view(
        report.checklist.results,
        duration_s=report.checklist.duration_s,
        requested_by=user,
        diagnostics=report.diagnostics,
    )
    if live.posted:
        live.finish(final)
    else:  # the bot may not be in this channel: the asker still gets the answer
        reply.respond(**final, response_type="ephemeral")


def _checkpoint_in_channel(deps: Deps, reply: Reply, parsed: grammar.CheckpointCreate) -> None:
    """Validate, then checkpoint; the result, or the refusal with its override, goes to the team."""
    user = reply.command["user_id"]
    request = CheckpointRequest(kind=parsed.kind, hours=parsed.hours, message=parsed.message)
    reply.respond(
        text="Running the validation checklist before the checkpoint…", response_type="ephemeral"
    )
    outcome = take_checkpoint(deps, request, actor=user, surface="slack")
    message = build_checkpoint_outcome_view(outcome, request, requested_by=user)
    post_or_tell(reply.client, reply.command["channel_id"], message, reply.respond)


def _incident_in_channel(
    deps: Deps, reply: Reply, request: grammar.Scenario | grammar.RollbackTo | grammar.CherryPick
) -> None:
    """Open the incident (or a cherry-pick for one) and post its card in the incident channel."""
    user = reply.command["user_id"]
    channel = deps.settings.config.slack.channel
    proposal: Proposal | PickProposal
    if isinstance(request, grammar.CherryPick):
        proposal = request_cherry_pick(
            deps, incident_id=request.incident, commits=request.commits, actor=user, surface="slack"
        )
    elif isinstance(request, grammar.Scenario):
        proposal = request_scenario(
            deps,
            scenario=request.scenario,
            severity=request.severity,
            trigger=request.trigger,
            actor=user,
            channel=channel,
            surface="slack",
        )
    else:
        proposal = request_target(
            deps, target=request.target, actor=user, channel=channel, surface="slack"
        )
    if not post_card(deps, reply.client, proposal, channel):
        reply.respond(**card_for(deps, proposal), response_type="ephemeral")
    elif reply.command.get("channel_id") != channel:
        reply.respond(
            text=f"Incident #{proposal.incident.id} is open; its card is in <#{channel}>.",
            response_type="ephemeral",
        )


def post_or_tell(client: WebClient, channel: str, message: Message, respond: Respond) -> None:
    """Post in the channel; when the bot cannot, the asker still gets it privately."""
    live = LiveMessage(client, channel)
    if not live.start(message):
        respond(**message, response_type="ephemeral")
