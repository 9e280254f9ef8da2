"""An incident's life in Slack: its one card, the rating requests, and the pages.

The incident's card is the message whose ``ts`` the store keeps with the incident: a rating, a
window's end or a new severity edits it in place, so the channel reads one story per incident.
After every change :func:`follow_up` does what the new state asks: the orchestrators get the
rating buttons directly, and while a decision is needed the first page goes out (the timers in
the store send the next ones, see :mod:`bot.flows.escalation`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk import WebClient

from bot.deps import Deps
from bot.flows.escalation import Page, start_paging
from bot.flows.performance import diagnostics_of
from bot.flows.plans import rollback_plan_from_body
from bot.flows.rollback import Proposal
from bot.flows.severity import Rerated
from bot.flows.windows import window_end
from bot.slack.direct import message_directly
from bot.slack.messages import LiveMessage
from bot.slack.orchestrators import people_of
from bot.slack.replies import Reply
from bot.views.blocker import build_rating_done_view, build_rating_request_view
from bot.views.blocks import Message
from bot.views.cards import build_card_view
from bot.views.escalation import build_page_view
from bot.views.severity import build_rerated_view
from store import Incident, IncidentState, PlanState

log = logging.getLogger("rollback_bot.incidents")

#: The states whose card this module draws; a rollback's runs draw their own.
DRAWN_HERE = (
    IncidentState.OPEN,
    IncidentState.FIXING,
    IncidentState.AWAITING_RATING,
    IncidentState.AWAITING_APPROVAL,
    IncidentState.RESOLVED,
)
RATE_NOTICE = "rate"
PAGE_NOTICE = "page"


def proposal_now(deps: Deps, incident: Incident) -> Proposal:
    """The incident as its card should show it now: with its open plan, if it has one."""
    ends = window_end(deps, incident.id) if incident.state is IncidentState.FIXING else None
    if incident.state is IncidentState.AWAITING_APPROVAL:
        proposed = [p for p in deps.store.plans_of(incident.id) if p.state is PlanState.PROPOSED]
        if proposed and proposed[-1].kind == "rollback":
            record = proposed[-1]
            plan = rollback_plan_from_body(record.body)
            made = deps.store.checkpoint_records([plan.target_ref]).get(plan.target_ref)
            found = diagnostics_of(deps, incident.id)
            return Proposal(incident, None, plan, record, target_checkpoint=made, diagnostics=found)
    return Proposal(
        incident,
        None,
        None,
        None,
        window_ends_at=ends,
        diagnostics=diagnostics_of(deps, incident.id),
    )


def show_incident(deps: Deps, client: WebClient, proposal: Proposal) -> LiveMessage:
    """Draw the incident's card: edit the one it has, or post it in the incident channel."""
    incident = proposal.incident
    card = build_card_view(
        proposal, deps.settings.config.slack, fallback=deps.settings.config.escalation.fallback
    )
    if incident.message_ts:
        live = LiveMessage.existing(client, incident.channel, incident.message_ts)
        if live.finish(card):
            _keep_plan_card(deps, proposal, live)
            return live
        log.warning("incident #%s: its card could not be edited (%s)", incident.id, live.problem)
    live = LiveMessage(client, deps.settings.config.slack.channel)
    if live.start(card) and live.ts is not None:
        deps.store.set_incident_message(incident.id, channel=live.channel, ts=live.ts)
        _keep_plan_card(deps, proposal, live)
    return live


def _keep_plan_card(deps: Deps, proposal: Proposal, live: LiveMessage) -> None:
    if proposal.record is not None and live.ts is not None:
        deps.store.set_plan_message(proposal.record.id, channel=live.channel, ts=live.ts)


def follow_up(deps: Deps, client: WebClient, incident_id: int) -> None:
    """What the incident's new state asks of people: the rating buttons, the first page."""
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        return
    asked: list[str] = []
    if incident.state is IncidentState.AWAITING_RATING:
        asked = ask_for_rating(deps, client, incident)
    page = start_paging(deps, incident)
    if page is not None:
        send_page(deps, client, incident, page, already_told=asked)


def ask_for_rating(deps: Deps, client: WebClient, incident: Incident) -> list[str]:
    """Each orchestrator gets the blocker and the four ratings directly; who was reached."""
    people = people_of(deps.settings.config.slack.orchestrators, client=client)
    return _tell_each(
        deps, client, incident, people, build_rating_request_view(incident), RATE_NOTICE
    )


def retire_rating_requests(deps: Deps, client: WebClient, incident: Incident, effect: str) -> None:
    """Rated: every orchestrator's rating request says by whom, with no buttons left."""
    done = build_rating_done_view(incident, effect)
    for notice in deps.store.notices_of(incident.id, kind=RATE_NOTICE):
        LiveMessage.existing(client, notice.channel, notice.ts).finish(done)


def send_page(
    deps: Deps,
    client: WebClient,
    incident: Incident,
    page: Page,
    *,
    already_told: Sequence[str] = (),
) -> list[str]:
    """The page in the incident's thread, and directly to each person of its level."""
    view = build_page_view(incident, page)
    if incident.message_ts:
        _post(client, incident.channel, {**view, "thread_ts": incident.message_ts})
    else:
        _post(client, deps.settings.config.slack.channel, view)
    people = [user for user in people_of(page.people, client=client) if user not in already_told]
    return _tell_each(deps, client, incident, people, view, PAGE_NOTICE)


def _tell_each(
    deps: Deps,
    client: WebClient,
    incident: Incident,
    people: Sequence[str],
    view: Message,
    kind: str,
) -> list[str]:
    """Message each person directly and keep each message as a notice, so it can be retired
    later; who was reached."""
    reached = []
    for user in people:
        live = message_directly(client, user, view)
        if live is not None and live.ts is not None:
            deps.store.add_notice(
                incident_id=incident.id, kind=kind, user=user, channel=live.channel, ts=live.ts
            )
            reached.append(user)
    return reached


def _post(client: WebClient, channel: str, message: Message) -> None:
    live = LiveMessage(client, channel)
    if not live.start(message):
        log.warning("a page could not be posted in %s (%s)", channel, live.problem)


def show_rerated(deps: Deps, rerated: Rerated, reply: Reply) -> None:
    """The asker hears what the new rating did; the card shows it, unless a rollback's own card
    is telling its story (under way, stopped or done)."""
    reply.tell(build_rerated_view(rerated))
    incident = rerated.incident
    if rerated.proposal is not None:
        show_incident(deps, reply.client, rerated.proposal)
    elif incident.state in DRAWN_HERE:
        show_incident(deps, reply.client, proposal_now(deps, incident))
    if rerated.proposal is not None and rerated.proposal.record is not None:
        follow_up(deps, reply.client, incident.id)  # a new plan: someone must approve it
