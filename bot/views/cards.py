"""The card of a plan, whichever kind it is: the same message for Slack and the terminal.

A plan has one card, drawn three ways as it goes: proposed (with Approve / Reject), under way
or stopped (the step list), and closed. The kind-specific parts are in
:mod:`bot.views.rollback`, :mod:`bot.views.cherry_pick` and :mod:`bot.views.removal`.
"""

from __future__ import annotations

from collections.abc import Sequence

from actions.cherry_pick import CherryPickPlan
from actions.removal import RemovalPlan
from bot.config import SlackConfig
from bot.flows.cherry_pick import PickProposal
from bot.flows.plans import body_of
from bot.flows.removal import RemovalProposal
from bot.flows.rollback import Proposal
from bot.flows.rollback_run import Progress
from bot.views.blocker import build_blocker_card_view
from bot.views.blocks import Message
from bot.views.cherry_pick import build_cherry_pick_card_view, build_cherry_pick_progress_view
from bot.views.fix_window import (
    build_fix_forward_card_view,
    build_fix_window_card_view,
    build_fixed_forward_view,
)
from bot.views.removal import build_removal_card_view, build_removal_progress_view
from bot.views.rollback import build_incident_card_view, build_rollback_progress_view
from store import Incident, IncidentState


def build_card_view(
    proposal: Proposal | PickProposal | RemovalProposal,
    slack: SlackConfig,
    *,
    fallback: Sequence[str] = (),
) -> Message:
    """An incident's card as it stands: the plan to decide on when there is one; otherwise what
    the incident waits for (a rating, a fix within its window, a fix forward). ``fallback`` is
    ``escalation.fallback``, named when it may approve."""
    if isinstance(proposal, PickProposal):
        return build_cherry_pick_card_view(proposal, slack)
    if isinstance(proposal, RemovalProposal):
        return build_removal_card_view(proposal, slack)
    incident = proposal.incident
    if proposal.plan is not None and proposal.record is not None:
        return build_incident_card_view(proposal, slack, fallback=fallback)
    if incident.state is IncidentState.AWAITING_RATING:
        return build_blocker_card_view(incident, slack)
    if incident.state is IncidentState.FIXING:
        return build_fix_window_card_view(
            incident,
            ends_at=proposal.window_ends_at,
            slack=slack,
            diagnostics=proposal.diagnostics,
        )
    if incident.state is IncidentState.RESOLVED:
        return build_fixed_forward_view(incident, by=incident.resolved_by or incident.requester)
    return build_fix_forward_card_view(incident, slack)


def build_progress_card_view(
    incident: Incident, progress: Progress, slack: SlackConfig, *, rotated_by: str | None = None
) -> Message:
    """A plan under way, stopped (with Resume / Abort) or finished; a security incident's
    finished card keeps its "credentials rotated" tick (``rotated_by``: who ticked it)."""
    plan = body_of(progress.plan)
    if isinstance(plan, CherryPickPlan):
        return build_cherry_pick_progress_view(
            incident=incident, plan=plan, progress=progress, orchestrators=slack.orchestrators
        )
    if isinstance(plan, RemovalPlan):
        return build_removal_progress_view(
            incident=incident, plan=plan, progress=progress, orchestrators=slack.orchestrators
        )
    return build_rollback_progress_view(
        incident=incident,
        plan=plan,
        progress=progress,
        orchestrators=slack.orchestrators,
        rotated_by=rotated_by,
    )
