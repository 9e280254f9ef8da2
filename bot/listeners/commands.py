"""Slash commands: one route table from each request the grammar parses to a flow and a view.

A listener acks on the request thread and returns. After the ack the text is parsed, the
request's route runs its flow and draws its view, and the answer goes where the route says:
privately to the asker, in the channel it was typed in (edited in place while the flow runs),
or in the incident channel as the card of a plan. A request the grammar knows but no flow
serves yet is answered "not available" from the same table, so nothing is ever dropped.

Adding a command: its request in :mod:`bot.grammar`, a row in :data:`ROUTES`, its flow in
``bot/flows/`` and its view in ``bot/views/``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from actions.errors import InputError
from bot import grammar
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.asker import Asker
from bot.flows.bisect import run_bisect
from bot.flows.blocker import report_blocker
from bot.flows.checkpoint import checkpoint_list, checkpoint_now
from bot.flows.cherry_pick import request_cherry_pick
from bot.flows.drill import confidence_table, run_drill
from bot.flows.join import JoinOrNew
from bot.flows.postmortem import close_requested, log_entries
from bot.flows.postmortem_doc import postmortem_file
from bot.flows.removal import request_removal
from bot.flows.retry import request_retry
from bot.flows.rollback import request_scenario, request_target
from bot.flows.severity import Rerated, rerate
from bot.flows.status import collect_status
from bot.flows.validation import ChecklistSoFar, validate_now
from bot.flows.watch import switch_watch
from bot.ids import SlashCommand
from bot.slack.cards import deliver_card
from bot.slack.incidents import show_rerated
from bot.slack.messages import LiveMessage
from bot.slack.orchestrators import is_orchestrator
from bot.slack.postmortem import post_bisect_report, show_closed, upload_postmortem
from bot.slack.replies import Reply
from bot.slack.retry import post_checklist
from bot.views.bisect import build_bisect_posted_view
from bot.views.blocks import Message
from bot.views.checkpoint import build_checkpoint_list_view, build_checkpoint_outcome_view
from bot.views.drill import (
    build_drill_progress_view,
    build_drill_result_view,
    build_drill_step_views,
)
from bot.views.errors import build_not_available_view
from bot.views.help import build_help_view
from bot.views.join import build_join_or_new_view
from bot.views.postmortem import (
    build_closed_view,
    build_rollback_log_view,
    build_uploaded_view,
)
from bot.views.retry import build_retry_posted_view
from bot.views.status import build_status_view
from bot.views.validation import build_checklist_view
from bot.views.watch import build_watch_switched_view
from store import Surface


class Reach(Enum):
    """Where a command's answer goes."""

    ASKER = "asker"  # only whoever typed it sees it
    CHANNEL = "channel"  # the channel it was typed in; privately when the bot cannot post there
    INCIDENT = "incident"  # slack.channel, as the card of the incident's plan


Flow = Callable[[Deps, Any, Asker], Any]
View = Callable[[Deps, Asker, Any], Message]
Replies = Callable[[Deps, Asker, Any], Sequence[Message]]
Shown = Callable[[Deps, WebClient, Any], Any]


@dataclass(frozen=True)
class Route:
    flow: Flow | None  # None: understood and validated, but not available in this version
    view: View | None = None  # the flow's result as the message the asker gets
    reach: Reach = Reach.ASKER
    notice: str = ""  # said privately before a slow flow starts
    working: View | None = None  # the channel's message while the flow runs, from its progress
    # Replies in that message's thread, one per thing done so far: each is posted once, as it
    # appears, so the people following the thread are told step by step.
    thread: Replies | None = None
    # What the result changes in Slack besides the answer (a summary edited, a file posted);
    # what it returns is what the view draws.
    then: Shown | None = None


NOT_AVAILABLE = Route(flow=None)


def _incident_channel(deps: Deps) -> str:
    return deps.settings.config.slack.channel


def _checklist_so_far(deps: Deps, asker: Asker, so_far: ChecklistSoFar) -> Message:
    return build_checklist_view(so_far.done, pending=so_far.pending, requested_by=asker.actor)


def _checklist(deps: Deps, asker: Asker, report: Any) -> Message:
    return build_checklist_view(
        report.checklist.results,
        duration_s=report.checklist.duration_s,
        requested_by=asker.actor,
        diagnostics=report.diagnostics,
        next_step=True,
    )


def _checkpoint_list(deps: Deps, asker: Asker, found: Any) -> Message:
    return build_checkpoint_list_view(
        found.infos,
        remote=deps.settings.config.git.remote,
        remote_problem=found.remote_problem,
        now=deps.clock(),
        records=found.records,
    )


ROUTES: dict[type, Route] = {
    grammar.Help: Route(lambda deps, request, asker: None, lambda d, a, _: build_help_view()),
    grammar.Status: Route(
        lambda deps, request, asker: collect_status(deps),
        lambda deps, asker, report: build_status_view(report),
    ),
    grammar.Validate: Route(
        lambda deps, request, asker: validate_now(deps, asker),
        _checklist,
        Reach.CHANNEL,
        working=_checklist_so_far,
    ),
    grammar.CheckpointList: Route(
        lambda deps, request, asker: checkpoint_list(deps), _checkpoint_list
    ),
    grammar.CheckpointCreate: Route(
        checkpoint_now,
        lambda deps, asker, outcome: build_checkpoint_outcome_view(
            outcome, requested_by=asker.actor
        ),
        Reach.CHANNEL,
        notice="Running the validation checklist before the checkpoint…",
    ),
    grammar.Scenario: Route(request_scenario, None, Reach.INCIDENT),
    grammar.RollbackTo: Route(request_target, None, Reach.INCIDENT),
    grammar.CherryPick: Route(request_cherry_pick, None, Reach.INCIDENT),
    grammar.Blocker: Route(report_blocker, None, Reach.INCIDENT),
    grammar.Log: Route(
        lambda deps, request, asker: log_entries(deps, limit=request.count),
        lambda deps, asker, entries: build_rollback_log_view(
            entries, asked=len(entries), path=deps.settings.config.postmortem.log_path
        ),
    ),
    grammar.PostmortemFile: Route(
        lambda deps, request, asker: postmortem_file(deps, request.incident),
        lambda deps, asker, file: build_uploaded_view(file),
        then=upload_postmortem,
    ),
    grammar.Close: Route(
        lambda deps, request, asker: close_requested(
            deps, request.incident, asker=asker, note=request.note
        ),
        lambda deps, asker, incident: build_closed_view(incident),
        then=show_closed,
    ),
    grammar.Drill: Route(
        run_drill,
        lambda deps, asker, progress: build_drill_result_view(progress, confidence_table(deps)),
        Reach.CHANNEL,
        notice="Practising the rollback in an isolated clone…",
        working=lambda deps, asker, progress: build_drill_progress_view(progress),
        thread=lambda deps, asker, progress: build_drill_step_views(progress),
    ),
    grammar.Remove: Route(request_removal, None, Reach.INCIDENT),
    grammar.Retry: Route(
        request_retry,
        lambda deps, asker, checklist: build_retry_posted_view(checklist),
        then=post_checklist,
    ),
    grammar.SeveritySet: Route(rerate, None, Reach.INCIDENT),
    grammar.Bisect: Route(
        run_bisect,
        lambda deps, asker, report: build_bisect_posted_view(report),
        notice="Bisecting the removed commits in an isolated clone, the checklist as the test…",
        then=post_bisect_report,
    ),
    grammar.Watch: Route(
        switch_watch, lambda deps, asker, on: build_watch_switched_view(on, deps.settings.config)
    ),
}


def register(app: App) -> None:
    for slash, handler in (
        (SlashCommand.ROLLBACK, handle_rollback_command),
        (SlashCommand.CHECKPOINT, handle_checkpoint_command),
        (SlashCommand.SEVERITY, handle_severity_command),
    ):
        app.command(slash.value)(reporting_errors(handler))


def _listener(slash: SlashCommand) -> Callable[..., None]:
    def listener(
        ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
    ) -> None:
        ack()
        user = command.get("user_id")
        if not isinstance(user, str) or not user:
            raise InputError("That command did not say who sent it; nothing was done.")
        reply = Reply(user, str(command.get("channel_id") or ""), respond, client)
        text = str(command.get("text", ""))
        after_ack(context, command, respond, lambda deps: run_command(deps, slash, text, reply))

    return listener


handle_rollback_command = _listener(SlashCommand.ROLLBACK)
handle_checkpoint_command = _listener(SlashCommand.CHECKPOINT)
handle_severity_command = _listener(SlashCommand.SEVERITY)


def run_command(deps: Deps, slash: SlashCommand, text: str, reply: Reply) -> None:
    """Parse, route, run the flow and deliver its view; errors reach the one error handler."""
    request = grammar.parse(slash.value, text)
    route = ROUTES[type(request)]
    if route.flow is None:
        reply.tell(build_not_available_view(_command_name(slash, text)))
        return
    if route.notice:
        reply.say(route.notice)
    answer = _Answer(deps, route, reply)
    answer.deliver(route.flow(deps, request, answer.asker))


def _command_name(slash: SlashCommand, text: str) -> str:
    # Name the subcommand for /rollback; the other commands have none.
    verb = text.split(maxsplit=1)[:1] if slash is SlashCommand.ROLLBACK else []
    return " ".join([slash.value, *(word.lower() for word in verb)])


class _Answer:
    """One command's answer on its way: the channel's message while the flow runs, then the
    result where the route sends it."""

    def __init__(self, deps: Deps, route: Route, reply: Reply) -> None:
        self._deps, self._route, self._reply = deps, route, reply
        orchestrators = deps.settings.config.slack.orchestrators
        self.asker = Asker(
            reply.user,
            Surface.SLACK,
            reply.channel,
            progress=self.progress,
            orchestrator=lambda: is_orchestrator(
                reply.user, orchestrators=orchestrators, client=reply.client
            ),
        )
        self._live = LiveMessage(reply.client, reply.channel)
        self._started = False
        self._replied = 0
        self._lock = threading.Lock()
        self._thread_lock = threading.Lock()  # replies wait on Slack: not under _lock

    def progress(self, so_far: object) -> None:
        if self._route.working is None:
            return
        message = self._route.working(self._deps, self.asker, so_far)
        with self._lock:  # checks finish on several threads; the first one posts
            first, self._started = not self._started, True
            if first:
                self._live.start(message)
        if not first:
            self._live.update(message)
        self._reply_in_thread(so_far)

    def _reply_in_thread(self, so_far: object) -> None:
        if self._route.thread is None or self._live.ts is None:
            return
        with self._thread_lock:  # in order, and each reply once
            replies = self._route.thread(self._deps, self.asker, so_far)[self._replied :]
            for reply in replies:
                posted = LiveMessage(self._reply.client, self._live.channel).start(
                    {**reply, "thread_ts": self._live.ts}
                )
                if not posted:
                    break  # tried again, in order, with the next step's replies
                self._replied += 1

    def deliver(self, result: Any) -> None:
        if self._route.then is not None:
            result = self._route.then(self._deps, self._reply.client, result)
        if self._route.reach is Reach.INCIDENT:
            self._card(result)
            return
        assert self._route.view is not None, "a route with a flow has a view"
        message = self._route.view(self._deps, self.asker, result)
        if self._route.reach is Reach.ASKER:
            self._reply.tell(message)
        elif self._live.posted:
            self._reply_in_thread(result)
            if not self._live.finish(message):
                self._reply.tell_undelivered(message, self._live)
        elif self._started:  # the bot may not be in this channel: the asker still gets it
            self._reply.tell_undelivered(message, self._live)
        else:
            self._reply.post_or_tell(self._reply.channel, message)

    def _card(self, result: Any) -> None:
        """The incident's card in the incident channel, or to the people who must see it."""
        if isinstance(result, Rerated):
            show_rerated(self._deps, result, self._reply)
            return
        if isinstance(result, JoinOrNew):
            self._reply.tell(build_join_or_new_view(result))
            return
        deliver_card(self._deps, result, self._reply)
