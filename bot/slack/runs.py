"""An approved plan's run, shown on its card as each step finishes; and what start-up recovers.

The card edited is the plan's own (its ``ts`` in the store) and, when the click came from
another copy of it (a card sent directly to an orchestrator), that copy too. A card that can no
longer be edited never stops the run: the person who clicked is told at once, and the outcome
reaches them and the people concerned directly (see :func:`bot.slack.cards.tell_outcome_elsewhere`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from slack_sdk import WebClient

from actions.removal import RemovalPlan
from bot.deps import Deps
from bot.flows.plans import REMOVAL, ROLLBACK, body_of
from bot.flows.rollback_resume import progress_of, recover_interrupted
from bot.flows.rollback_run import Progress, execute_plan, stopped_step
from bot.slack.cards import card_of, progress_card, tell_outcome_elsewhere
from bot.slack.direct import message_each
from bot.slack.messages import LiveMessage
from bot.slack.orchestrators import people_of
from bot.slack.postmortem import open_thread
from bot.slack.removal import RemovalThread
from bot.slack.replies import Reply
from bot.views.blocks import Message, escape, mention_orchestrators, message, section, unescape
from bot.views.delivery import build_cannot_edit_view, build_undelivered_view, channel_problem
from bot.views.root_cause import build_root_cause_view
from store import IncidentState, Plan, PlanState, Surface

log = logging.getLogger("rollback_bot.runs")

# Set once a finished plan's card shows the outcome; a crash before that leaves it unset.
CARD_FINAL_KEY = "rollback_card_final:{}"


@dataclass(frozen=True)
class Clicked:
    """The click that started or resumed a run: who, the way back to them, and the card."""

    reply: Reply
    message_ts: str | None


@dataclass
class _Cards:
    """The plan's card and the copy that was clicked, edited together."""

    primary: LiveMessage
    copies: list[LiveMessage] = field(default_factory=list)

    def update(self, card: Message) -> None:
        for live in (self.primary, *self.copies):
            live.update(card)

    def finish(self, card: Message) -> bool:
        shown = [live.finish(card) for live in (self.primary, *self.copies)]
        return shown[0]


def _cards(deps: Deps, client: WebClient, record: Plan, clicked: Clicked | None) -> _Cards:
    stored = card_of(client, record)
    copy = None
    if clicked is not None and clicked.message_ts and clicked.reply.channel:
        copy = LiveMessage.existing(client, clicked.reply.channel, clicked.message_ts)
    if stored is None and copy is not None:
        # The card never reached the channel (or its ts was lost to a slow Slack): the copy
        # that was clicked becomes the plan's card.
        deps.store.set_plan_message(record.id, channel=copy.channel, ts=str(copy.ts))
        return _Cards(copy)
    if stored is None:  # no card anywhere: show the run in a new message
        fresh = LiveMessage(client, record.channel or deps.settings.config.slack.channel)
        fresh.start(progress_card(deps, progress_of(deps, record)))
        return _Cards(fresh)
    same = copy is None or (copy.channel, copy.ts) == (stored.channel, stored.ts)
    return _Cards(stored, [] if same else [copy] if copy else [])


def run_on_card(
    deps: Deps,
    client: WebClient,
    record: Plan,
    *,
    attempt: int,
    actor: str,
    clicked: Clicked | None = None,
) -> Progress:
    """Execute an approved (or resumed) plan, editing its card as each step finishes."""
    cards = _cards(deps, client, record, clicked)
    warned: list[bool] = []
    body = body_of(record)
    thread = (
        RemovalThread(deps, client, body, cards.primary) if isinstance(body, RemovalPlan) else None
    )

    def show(progress: Progress) -> None:
        cards.update(progress_card(deps, progress))
        if thread is not None:
            thread.show(progress)
        if cards.primary.problem and not warned and clicked is not None:
            warned.append(True)
            reason = channel_problem(cards.primary.channel, cards.primary.problem)
            clicked.reply.tell(build_cannot_edit_view(reason=reason))

    final = execute_plan(
        deps, record, attempt=attempt, actor=actor, surface=Surface.SLACK, on_progress=show
    )
    card = progress_card(deps, _with_latest(deps, final))
    shown = cards.finish(card) if cards.primary.posted else cards.primary.start(card)
    if not shown:
        reply = clicked.reply if clicked is not None else None
        tell_outcome_elsewhere(deps, record, card, cards.primary, reply)
    if thread is not None:
        thread.finish(final)
    if final.finished:
        deps.store.write_value(CARD_FINAL_KEY.format(record.id), "1")
        if record.kind == ROLLBACK:
            open_thread(deps, client, record.incident_id)
        _ask_root_cause(deps, client, record, cards.primary)
    return final


ROOT_CAUSE_KEY = "root-cause-asked:{}"


def _ask_root_cause(deps: Deps, client: WebClient, record: Plan, card: LiveMessage) -> None:
    """After the email scenario's rollback: the procedure's root-cause questions, once, in the
    incident's thread."""
    incident = deps.store.get_incident(record.incident_id)
    key = ROOT_CAUSE_KEY.format(record.incident_id)
    if incident is None or incident.scenario != "email" or deps.store.read_value(key):
        return
    view = build_root_cause_view(incident)
    thread = {"thread_ts": card.ts} if card.ts and card.channel == incident.channel else {}
    if LiveMessage(client, incident.channel).start({**view, **thread}):
        deps.store.write_value(key, "1")


def announce_interrupted(deps: Deps, client: WebClient) -> int:
    """At start-up: stop what a dead process left running and offer Resume / Abort on its card;
    draw the outcome on cards whose run finished but died before its last edit."""
    stopped = recover_interrupted(deps)
    for record in stopped:
        card = progress_card(deps, progress_of(deps, record))
        channel = record.channel or deps.settings.config.slack.channel
        live = card_of(client, record)
        if live is None:  # no card yet: this message becomes the plan's card
            fresh = LiveMessage(client, channel)
            if fresh.start(card) and fresh.ts is not None:
                deps.store.set_plan_message(record.id, channel=channel, ts=fresh.ts)
            else:
                _page_orchestrators(deps, client, card, fresh)
            continue
        if not live.finish(card):
            _page_orchestrators(deps, client, card, live)
            continue
        # A notice as well, since an edit notifies nobody; it has no buttons of its own, so
        # Resume / Abort live only on the card, which the resumed run's last edit retires.
        LiveMessage(client, channel).start(_stopped_notice(deps, record, card))
    if stopped:
        log.warning("%d rollback(s) were interrupted and wait for Resume or Abort", len(stopped))
    _finish_stale_cards(deps, client)
    return len(stopped)


def _page_orchestrators(deps: Deps, client: WebClient, card: Message, live: LiveMessage) -> None:
    """A stopped rollback whose card cannot be shown: its Resume / Abort go to them directly."""
    reason = channel_problem(live.channel, live.problem)
    people = people_of(deps.settings.config.slack.orchestrators, client=client)
    message_each(client, people, build_undelivered_view(card, reason=reason))


def _stopped_notice(deps: Deps, record: Plan, card: Message) -> Message:
    who = mention_orchestrators(deps.settings.config.slack.orchestrators)
    step = escape(stopped_step(record))
    title = unescape(card["text"])
    return message(
        f"{title}: choose Resume or Abort on its card",
        [
            section(
                f":octagonal_sign: *{escape(title)}* at step “{step}”. {who}: choose "
                "Resume or Abort on the incident's card above."
            )
        ],
    )


def _finish_stale_cards(deps: Deps, client: WebClient) -> None:
    """A crash after "record" (the plan DONE) but before the card's last edit leaves it saying
    "rolling back" (or "removing") with nobody told: draw the outcome from the journal, once,
    and post what it did not get to (the post-mortem thread, the removal's report)."""
    for incident in deps.store.list_incidents(states=[IncidentState.ROLLED_BACK]):
        open_thread(deps, client, incident.id)
        for record in deps.store.plans_of(incident.id):
            if record.state is PlanState.DONE:
                _finish_card(deps, client, record)
    # A removal leaves its incident resolved or open, so it is found by its own plans.
    for record in deps.store.done_plans(REMOVAL):
        _finish_card(deps, client, record)


def _finish_card(deps: Deps, client: WebClient, record: Plan) -> None:
    key = CARD_FINAL_KEY.format(record.id)
    if deps.store.read_value(key) is not None:
        return
    live = card_of(client, record)
    if live is not None:
        progress = progress_of(deps, record)
        live.finish(progress_card(deps, progress))
        body = body_of(record)
        if isinstance(body, RemovalPlan):
            RemovalThread(deps, client, body, live).finish(progress)
    deps.store.write_value(key, "1")


def _with_latest(deps: Deps, progress: Progress) -> Progress:
    latest = deps.store.get_plan(progress.plan.id)
    return replace(progress, plan=latest) if latest is not None else progress
