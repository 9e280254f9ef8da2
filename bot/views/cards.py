"""The cards of incidents and their plans, built from the store: the same for Slack and the
terminal, which renders them as text."""

from __future__ import annotations

from actions.cherry_pick import CherryPickPlan
from actions.errors import StoreError
from bot.deps import Deps
from bot.flows.cherry_pick import PickProposal
from bot.flows.plans import body_of
from bot.flows.rollback import Proposal
from bot.flows.rollback_run import Progress
from bot.views.blocks import Message
from bot.views.cherry_pick import build_cherry_pick_card_view, build_cherry_pick_progress_view
from bot.views.rollback import build_incident_card_view, build_rollback_progress_view


def proposal_card(deps: Deps, proposal: Proposal) -> Message:
    slack = deps.settings.config.slack
    return build_incident_card_view(
        incident=proposal.incident,
        plan=proposal.plan,
        record=proposal.record,
        orchestrators=slack.orchestrators,
        requester_can_approve=slack.requester_can_approve,
        note=proposal.note,
    )


def pick_card(deps: Deps, proposal: PickProposal) -> Message:
    slack = deps.settings.config.slack
    return build_cherry_pick_card_view(
        incident=proposal.incident,
        plan=proposal.plan,
        record=proposal.record,
        orchestrators=slack.orchestrators,
        requester_can_approve=slack.requester_can_approve,
    )


def card_for(deps: Deps, proposal: Proposal | PickProposal) -> Message:
    if isinstance(proposal, PickProposal):
        return pick_card(deps, proposal)
    return proposal_card(deps, proposal)


def progress_card(deps: Deps, progress: Progress) -> Message:
    record = progress.plan
    incident = deps.store.get_incident(record.incident_id)
    if incident is None:
        raise StoreError(f"Plan #{record.id}'s incident #{record.incident_id} is missing.")
    orchestrators = deps.settings.config.slack.orchestrators
    plan = body_of(record)
    if isinstance(plan, CherryPickPlan):
        return build_cherry_pick_progress_view(
            incident=incident, plan=plan, progress=progress, orchestrators=orchestrators
        )
    return build_rollback_progress_view(
        incident=incident, plan=plan, progress=progress, orchestrators=orchestrators
    )
