"""The card of a plan, whichever kind it is: the same message for Slack and the terminal.

A plan has one card, drawn three ways as it goes: proposed (with Approve / Reject), under way
or stopped (the step list), and closed. The kind-specific parts are in
:mod:`bot.views.rollback` and :mod:`bot.views.cherry_pick`.
"""

from __future__ import annotations

from actions.cherry_pick import CherryPickPlan
from bot.config import SlackConfig
from bot.flows.cherry_pick import PickProposal
from bot.flows.plans import body_of
from bot.flows.rollback import Proposal
from bot.flows.rollback_run import Progress
from bot.views.blocks import Message
from bot.views.cherry_pick import build_cherry_pick_card_view, build_cherry_pick_progress_view
from bot.views.rollback import build_incident_card_view, build_rollback_progress_view
from store import Incident


def build_card_view(proposal: Proposal | PickProposal, slack: SlackConfig) -> Message:
    """A plan as proposed: what it would do, and the buttons to decide on it."""
    if isinstance(proposal, PickProposal):
        return build_cherry_pick_card_view(proposal, slack)
    return build_incident_card_view(proposal, slack)


def build_progress_card_view(incident: Incident, progress: Progress, slack: SlackConfig) -> Message:
    """A plan under way, stopped (with Resume / Abort) or finished."""
    plan = body_of(progress.plan)
    if isinstance(plan, CherryPickPlan):
        return build_cherry_pick_progress_view(
            incident=incident, plan=plan, progress=progress, orchestrators=slack.orchestrators
        )
    return build_rollback_progress_view(
        incident=incident, plan=plan, progress=progress, orchestrators=slack.orchestrators
    )
