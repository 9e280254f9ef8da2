"""Incident cards in Slack: post the plan, run an approved rollback on its card, announce stops.

The glue between the rollback flows and Slack: flows decide and act, views draw, and this
module posts and edits the one card each plan has (its ``ts`` is kept with the plan in the
store, so a restarted bot edits the same card).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from slack_sdk import WebClient

from actions.rollback_plan import RollbackPlan
from bot.deps import Deps
from bot.flows.cherry_pick import PickProposal
from bot.flows.plans import body_of, incident_of
from bot.flows.rollback import Proposal
from bot.flows.rollback_resume import progress_of, recover_interrupted
from bot.flows.rollback_run import Progress, execute_plan
from bot.slack.messages import LiveMessage
from bot.views.blocks import Message, escape, mention_orchestrators, section
from bot.views.cards import build_card_view, build_progress_card_view
from bot.views.rollback import build_plan_closed_view
from store import IncidentState, Plan, PlanState, Surface

log = logging.getLogger("rollback_bot.cards")

# Set once a finished plan's card shows the outcome; a crash before that leaves it unset.
CARD_FINAL_KEY = "rollback_card_final:{}"


def post_card(
    deps: Deps, client: WebClient, message: Message, *, record: Plan | None, channel: str
) -> bool:
    """Post a plan's card and keep its ``ts`` with the plan, so every later edit finds it;
    False when the channel refused it."""
    live = LiveMessage(client, channel)
    if not live.start(message):
        return False
    if record is not None and live.ts is not None:
        deps.store.set_plan_message(record.id, channel=channel, ts=live.ts)
    return True


def post_proposal(
    deps: Deps, client: WebClient, proposal: Proposal | PickProposal, channel: str
) -> bool:
    """Post the card of a fresh plan (one that replaced a plan the repository moved under)."""
    message = build_card_view(proposal, deps.settings.config.slack)
    return post_card(deps, client, message, record=proposal.record, channel=channel)


def card_of(client: WebClient, record: Plan) -> LiveMessage | None:
    if record.channel is None or record.message_ts is None:
        return None
    return LiveMessage.existing(client, record.channel, record.message_ts)


def run_on_card(
    deps: Deps, client: WebClient, record: Plan, *, attempt: int, actor: str
) -> Progress:
    """Execute an approved (or resumed) plan, editing its card as each step finishes."""
    live = card_of(client, record)
    if live is None:  # the card could not be posted: show the run in a new message
        live = LiveMessage(client, record.channel or deps.settings.config.slack.channel)
        live.start(progress_card(deps, progress_of(deps, record)))

    def show(progress: Progress) -> None:
        live.update(progress_card(deps, progress))

    final = execute_plan(
        deps, record, attempt=attempt, actor=actor, surface=Surface.SLACK, on_progress=show
    )
    live.finish(progress_card(deps, _with_latest(deps, final)))
    if final.finished:
        deps.store.write_value(CARD_FINAL_KEY.format(record.id), "1")
    return final


def close_card(deps: Deps, client: WebClient, record: Plan, why: str) -> None:
    """Replace a plan's buttons with what became of it."""
    live = card_of(client, record)
    incident = deps.store.get_incident(record.incident_id)
    if live is None or incident is None:
        return
    body = body_of(record)
    plan = body if isinstance(body, RollbackPlan) else None
    live.finish(build_plan_closed_view(incident=incident, plan=plan, record=record, why=why))


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
            continue
        live.finish(card)
        # A notice as well, since an edit notifies nobody; it has no buttons of its own, so
        # Resume / Abort live only on the card, which the resumed run's last edit retires.
        LiveMessage(client, channel).start(_stopped_notice(deps, record, card))
    if stopped:
        log.warning("%d rollback(s) were interrupted and wait for Resume or Abort", len(stopped))
    _finish_stale_cards(deps, client)
    return len(stopped)


def _stopped_notice(deps: Deps, record: Plan, card: Message) -> Message:
    who = mention_orchestrators(deps.settings.config.slack.orchestrators)
    step = escape(str(record.result.get("stopped_at")))
    return {
        "text": f"{card['text']}: choose Resume or Abort on its card",
        "blocks": [
            section(
                f":octagonal_sign: *{escape(card['text'])}* at step “{step}”. {who}: choose "
                "Resume or Abort on the incident's card above."
            )
        ],
    }


def _finish_stale_cards(deps: Deps, client: WebClient) -> None:
    """A crash after "record" (the plan DONE) but before the card's last edit leaves it saying
    "rolling back" with nobody told: draw the outcome from the journal, once."""
    for incident in deps.store.list_incidents(states=[IncidentState.ROLLED_BACK]):
        for record in deps.store.plans_of(incident.id):
            key = CARD_FINAL_KEY.format(record.id)
            if record.state is not PlanState.DONE or deps.store.read_value(key) is not None:
                continue
            live = card_of(client, record)
            if live is not None:
                live.finish(progress_card(deps, progress_of(deps, record)))
            deps.store.write_value(key, "1")


def _with_latest(deps: Deps, progress: Progress) -> Progress:
    latest = deps.store.get_plan(progress.plan.id)
    return replace(progress, plan=latest) if latest is not None else progress


def progress_card(deps: Deps, progress: Progress) -> Message:
    """The card of a plan under way, from its incident in the store."""
    incident = incident_of(deps, progress.plan)
    return build_progress_card_view(incident, progress, deps.settings.config.slack)
