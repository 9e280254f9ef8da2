"""Incident cards in Slack: post a plan's card, close it, and reach people when the channel won't.

Flows decide and act, views draw, and this module posts and edits the one card each plan has
(its ``ts`` is kept with the plan in the store, so a restarted bot edits the same card). When
the incident channel refuses a card or an edit, nothing happens in silence: the person who asked
or clicked is told why, and the card goes to the orchestrators (and the requester) directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient

from actions.rollback_plan import RollbackPlan
from bot.deps import Deps
from bot.flows.cherry_pick import PickProposal
from bot.flows.plans import body_of, incident_of
from bot.flows.removal import RemovalProposal
from bot.flows.rollback import Proposal
from bot.flows.rollback_run import Progress
from bot.flows.security import rotated_by
from bot.slack.direct import message_each
from bot.slack.incidents import follow_up
from bot.slack.messages import LiveMessage
from bot.slack.orchestrators import people_of
from bot.slack.replies import Reply
from bot.views.blocks import Message
from bot.views.cards import build_card_view, build_progress_card_view
from bot.views.delivery import build_undelivered_view, channel_problem
from bot.views.rollback import build_plan_closed_view
from store import Plan, Surface, TimelineAction

log = logging.getLogger("rollback_bot.cards")


def post_card(
    deps: Deps, client: WebClient, message: Message, *, record: Plan | None, channel: str
) -> LiveMessage:
    """Post a plan's card and keep its ``ts`` with the plan, so every later edit finds it; the
    message says whether it was posted (``posted``) and why not (``problem``)."""
    live = LiveMessage(client, channel)
    if live.start(message) and record is not None and live.ts is not None:
        deps.store.set_plan_message(record.id, channel=channel, ts=live.ts)
    return live


def deliver_card(
    deps: Deps, proposal: Proposal | PickProposal | RemovalProposal, reply: Reply
) -> None:
    """A new plan's card in the incident channel; the asker is told where it is. When the
    channel refuses it, the orchestrators get the card (with its buttons) directly, and the
    asker gets it privately with the reason."""
    channel = deps.settings.config.slack.channel
    card = build_card_view(
        proposal, deps.settings.config.slack, fallback=deps.settings.config.escalation.fallback
    )
    live = post_card(deps, reply.client, card, record=proposal.record, channel=channel)
    if live.posted:
        if isinstance(proposal, Proposal | RemovalProposal) and live.ts is not None:
            # The newest card is the incident's: ratings and timers edit this one from now on.
            deps.store.set_incident_message(proposal.incident.id, channel=channel, ts=live.ts)
        if reply.channel != channel:
            reply.say(f"Incident #{proposal.incident.id} is open; its card is in #{channel}.")
        follow_up(deps, reply.client, proposal.incident.id)
        return
    reason = channel_problem(channel, live.problem)
    orchestrators = people_of(deps.settings.config.slack.orchestrators, client=reply.client)
    paged = [user for user in orchestrators if user != reply.user]
    note = f"<@{reply.user}> asked for it; you can decide on it here."
    reached = message_each(
        reply.client, paged, build_undelivered_view(card, reason=reason, note=note)
    )
    reply.tell(build_undelivered_view(card, reason=reason, reached=reached))
    note_undelivered(deps, proposal.incident.id, reply.user, channel, live.problem, reached)
    follow_up(deps, reply.client, proposal.incident.id)


def card_of(client: WebClient, record: Plan) -> LiveMessage | None:
    if record.channel is None or record.message_ts is None:
        return None
    return LiveMessage.existing(client, record.channel, record.message_ts)


def close_card(
    deps: Deps, client: WebClient, record: Plan, why: str, *, reply: Reply | None = None
) -> None:
    """Replace a plan's buttons with what became of it; the clicker is told if that fails."""
    live = card_of(client, record)
    incident = incident_of(deps, record)
    body = body_of(record)
    plan = body if isinstance(body, RollbackPlan) else None
    closed = build_plan_closed_view(incident=incident, plan=plan, record=record, why=why)
    if live is not None and live.finish(closed):
        return
    if reply is not None:  # the card is gone or stale: the clicker still learns the outcome
        reason = channel_problem(live.channel, live.problem) if live else "The card is not there."
        reply.tell(build_undelivered_view(closed, reason=reason))


def tell_outcome_elsewhere(
    deps: Deps, record: Plan, card: Message, live: LiveMessage, reply: Reply | None
) -> None:
    """The card could not show how a run ended: tell the clicker and DM the people concerned."""
    reason = channel_problem(live.channel, live.problem)
    if reply is not None:
        reply.tell(build_undelivered_view(card, reason=reason))
    people = _concerned(deps, record, client=live.client)
    reached = message_each(live.client, people, build_undelivered_view(card, reason=reason))
    actor = reply.user if reply is not None else "bot"
    note_undelivered(deps, record.incident_id, actor, live.channel, live.problem, reached)


def _concerned(deps: Deps, record: Plan, *, client: WebClient) -> Iterable[str]:
    orchestrators = people_of(deps.settings.config.slack.orchestrators, client=client)
    requester = [] if record.requested_by.startswith("os:") else [record.requested_by]
    return [*requester, *orchestrators]


def note_undelivered(
    deps: Deps,
    incident_id: int,
    actor: str,
    channel: str,
    problem: str | None,
    reached: Iterable[str],
) -> None:
    told = list(reached)
    log.warning(
        "a card did not reach %s (%s); told %d people directly", channel, problem, len(told)
    )
    deps.store.append_event(
        actor=actor,
        surface=Surface.SLACK,
        action=TimelineAction.DELIVERY_FAILED,
        incident_id=incident_id,
        details={"channel": channel, "problem": problem, "told_directly": told},
    )


def progress_card(deps: Deps, progress: Progress) -> Message:
    """The card of a plan under way, from its incident in the store."""
    incident = incident_of(deps, progress.plan)
    return build_progress_card_view(
        incident, progress, deps.settings.config.slack, rotated_by=rotated_by(deps, incident.id)
    )


def show_terminal_run(deps: Deps, client: WebClient, record: Plan, card: Message) -> str:
    """A rollback run from a terminal, on its card in Slack: the card is edited when it has one
    (a plan asked for in Slack), posted otherwise. What happened, in a line for the terminal."""
    live = card_of(client, record)
    channel = record.channel or deps.settings.config.slack.channel
    if live is not None and live.finish(card):
        return f"Its card in Slack ({channel}) now shows this run."
    fresh = post_card(deps, client, card, record=record, channel=channel)
    if fresh.posted:
        return f"Its card is posted in Slack ({channel})."
    problem = (live.problem if live is not None else None) or fresh.problem
    return f"Slack did not take its card ({problem}); the timeline has the run."


def close_superseded(
    deps: Deps, client: WebClient, approved: Plan, superseded: Iterable[Plan]
) -> None:
    """The cards of plans retired because another runs: nobody should approve them now."""
    for record in superseded:
        why = (
            f"replaced: the rollback of incident #{approved.incident_id} (plan #{approved.id}) "
            "is under way, so this plan no longer describes the repository. Ask again for a "
            "fresh plan if it is still needed."
        )
        close_card(deps, client, record, why)
