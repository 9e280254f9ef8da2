"""Deciding on a plan: may this orchestrator approve it, does it still hold, which click wins.

Only orchestrators reach these flows from Slack (their buttons say so at registration). The
rules are checked in the order a person would want to hear the answer (not your own request,
is it still open, what must be confirmed, did the repository move) and only then does one
compare-and-set in the store decide which click carries the plan out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from actions.errors import InputError, RollbackBotError
from actions.git import open_repo
from actions.rollback_plan import RollbackPlan, verify_plan
from bot.config.approvers import fallback_may_approve
from bot.deps import Deps
from bot.flows.cherry_pick import PickProposal, picks_moved, plan_picks, store_picks
from bot.flows.escalation import stop_paging
from bot.flows.plans import (
    CHERRY_PICK,
    REMOVAL,
    ROLLBACK,
    cherry_pick_from_body,
    removal_from_body,
    rollback_plan_from_body,
)
from bot.flows.removal import (
    RemovalProposal,
    plan_files,
    refuse_without_drill,
    removal_moved,
    store_removal,
)
from bot.flows.retry import frozen_because
from bot.flows.rollback import Proposal, needs_confirmation, replan
from store import Incident, Plan, PlanState, Surface, TimelineAction


@dataclass(frozen=True)
class Verdict:
    """What became of a click on Approve or Reject."""

    outcome: Literal["approved", "rejected", "refused", "replanned"]
    message: str
    record: Plan | None
    fresh: Proposal | PickProposal | RemovalProposal | None = (
        None  # the new plan, when the old one moved
    )
    #: Other plans retired because this one runs: their cards must say so.
    superseded: tuple[Plan, ...] = ()


def judge_approval(
    deps: Deps,
    *,
    plan_id: int,
    fingerprint: str,
    actor: str,
    surface: Surface,
    waive: bool = False,
    force: bool = False,
    break_glass: bool = False,
    stand_in: bool = False,
) -> Verdict:
    """Apply the approval rules; on "approved" this caller, and only it, must run the plan.

    ``break_glass`` is the terminal's path for when Slack is down: whoever has a shell on the
    box both asks and approves, so the requester rule cannot apply; everything else does.
    ``stand_in``: the clicker is not an orchestrator but in ``escalation.fallback``, which may
    approve only a plan whose requester is the one orchestrator (see bot.config.approvers).
    """
    record = _require_plan(deps, plan_id, fingerprint)
    refusal = None if break_glass else own_request_refusal(deps, record, actor=actor)
    if (
        refusal is None
        and stand_in
        and not fallback_may_approve(deps.settings.config, record.requested_by)
    ):
        refusal = (
            "Only an orchestrator can approve this rollback; escalation.fallback approves only "
            "when the one orchestrator asked for it. Nothing was changed."
        )
    if refusal is None:
        refusal = _still_open(deps, record)
    plan = rollback_plan_from_body(record.body) if record.kind == ROLLBACK else None
    if refusal is None and plan is not None:
        refusal = _approval_conditions(plan, waive=waive, force=force)
    if refusal is None and record.kind == REMOVAL:
        refusal = _removal_conditions(deps, record)
    if refusal is not None:
        _note(deps, record, actor, surface, TimelineAction.APPROVAL_REFUSED, refusal)
        return Verdict("refused", refusal, record)
    moved = _moved(deps, record, actor)
    if moved is not None:
        return _replanned(deps, record, actor, surface, *moved)
    if not deps.store.approve_plan(
        plan_id, approver=actor, now=deps.clock(), waived=waive, forced=force
    ):
        latest = deps.store.get_plan(plan_id) or record
        message = _still_open(deps, latest) or "Someone else decided on this plan first."
        return Verdict("refused", message, latest)
    return _approved(deps, record, actor, surface, waive=waive, force=force, stand_in=stand_in)


def _replanned(
    deps: Deps,
    record: Plan,
    actor: str,
    surface: Surface,
    problem: str,
    fresh: Proposal | PickProposal | RemovalProposal | RollbackBotError,
) -> Verdict:
    _note(deps, record, actor, surface, TimelineAction.APPROVAL_REFUSED, f"plan moved: {problem}")
    said = (
        f"Not approved: {problem} since the plan was made, so it no longer describes what "
        "approving would do. Nothing was changed"
    )
    if isinstance(fresh, RollbackBotError):
        return Verdict("refused", f"{said}. No fresh plan either: {fresh.user_message}", record)
    return Verdict("replanned", f"{said}; here is a fresh plan.", record, fresh)


def _approved(
    deps: Deps,
    record: Plan,
    actor: str,
    surface: Surface,
    *,
    waive: bool,
    force: bool,
    stand_in: bool,
) -> Verdict:
    """This caller won the plan: the other open plans retire, and the timeline says so."""
    approved = _APPROVED[record.kind]
    retired = deps.store.supersede_proposed(except_plan_id=record.id)
    stop_paging(deps, record.incident_id, actor=actor, why="approved")
    _note(
        deps,
        record,
        actor,
        surface,
        approved,
        "",
        waived=waive,
        forced=force,
        superseded=[plan.id for plan in retired],
        **({"as": "escalation.fallback"} if stand_in else {}),
    )
    latest = deps.store.get_plan(record.id) or record
    return Verdict("approved", "Approved.", latest, superseded=tuple(retired))


_APPROVED = {
    ROLLBACK: TimelineAction.ROLLBACK_APPROVED,
    CHERRY_PICK: TimelineAction.CHERRY_PICK_APPROVED,
    REMOVAL: TimelineAction.REMOVAL_APPROVED,
}


def _moved(
    deps: Deps, record: Plan, actor: str
) -> tuple[str, Proposal | PickProposal | RemovalProposal | RollbackBotError] | None:
    """(what moved, a fresh plan for the same request or why there is none), or None while
    the plan holds."""
    incident = _incident(deps, record)
    fresh: Callable[[], Proposal | PickProposal | RemovalProposal]
    if record.kind == REMOVAL:
        removal = removal_from_body(record.body)
        again_removal = plan_files(deps, removal.asked)
        problem = removal_moved(removal, again_removal)
        fresh = partial(
            store_removal, deps, incident, again_removal, actor=actor, surface=Surface.BOT
        )
    elif record.kind == CHERRY_PICK:
        picks = cherry_pick_from_body(record.body)
        commits = tuple(commit.sha for commit in picks.commits)
        # Planning again is the check: the same picks give the same fingerprint unless HEAD,
        # the remote or the backup moved, and the new plan is then the fresh one.
        again = plan_picks(deps, backup_branch=picks.backup_branch, commits=commits)
        problem = picks_moved(picks, again)
        fresh = partial(store_picks, deps, incident, again, actor=actor, surface=Surface.BOT)
    else:
        plan = rollback_plan_from_body(record.body)
        problem = verify_plan(repo=open_repo(deps.settings.config.git.path), plan=plan)
        fresh = partial(replan, deps, incident, actor=actor)
    if problem is None:
        return None
    try:
        return problem, fresh()
    except RollbackBotError as error:
        return problem, error


def judge_rejection(
    deps: Deps, *, plan_id: int, fingerprint: str, actor: str, surface: Surface
) -> Verdict:
    record = _require_plan(deps, plan_id, fingerprint)
    if not deps.store.reject_plan(plan_id, by=actor, now=deps.clock()):
        refusal = _still_open(deps, deps.store.get_plan(plan_id) or record) or "Already decided."
        return Verdict("refused", refusal, record)
    _note(deps, record, actor, surface, TimelineAction.ROLLBACK_REJECTED, "")
    stop_paging(deps, record.incident_id, actor=actor, why="rejected")
    return Verdict("rejected", "Rejected.", deps.store.get_plan(plan_id) or record)


def _require_plan(deps: Deps, plan_id: int, fingerprint: str) -> Plan:
    record = deps.store.get_plan(plan_id)
    # The button carries the fingerprint it was drawn with: a forged or stale value is refused.
    if record is None or not fingerprint or not record.fingerprint.startswith(fingerprint):
        raise InputError("That button does not match a rollback plan; nothing was changed.")
    return record


def own_request_refusal(deps: Deps, record: Plan, *, actor: str) -> str | None:
    """The procedure's four eyes: whoever asked does not approve, unless the config allows it."""
    slack = deps.settings.config.slack
    if actor == record.requested_by and not slack.requester_can_approve:
        return (
            "You asked for this rollback, so another orchestrator must approve it "
            "(slack.requester_can_approve is off). Nothing was changed."
        )
    return None


def _still_open(deps: Deps, record: Plan) -> str | None:
    """Why this plan can no longer be decided on, or None while it can."""
    if record.state is PlanState.PROPOSED:
        if record.expires_at <= deps.clock():
            return (
                f"This plan expired at {record.expires_at:%H:%M} UTC; the repository may have "
                "changed since. Nothing was changed; ask again for a fresh plan."
            )
        return None
    who = f" by @{record.approved_by}" if record.approved_by else ""
    return {
        PlanState.RUNNING: f"Already approved{who}; the rollback is under way.",
        PlanState.STOPPED: f"Already approved{who}; it stopped and waits for Resume or Abort.",
        PlanState.DONE: f"Already approved{who} and carried out.",
        PlanState.REJECTED: f"Already rejected{who}.",
        PlanState.SUPERSEDED: "This plan was replaced by a newer one; use the newest card.",
        PlanState.ABORTED: f"This rollback was aborted{who}.",
    }[record.state]


def _approval_conditions(plan: RollbackPlan, *, waive: bool, force: bool) -> str | None:
    reasons = needs_confirmation(plan)
    if reasons and not force:
        return (
            f"This target needs an explicit confirmation: {'; '.join(reasons)}. Use "
            "“Approve anyway” on the card. Nothing was changed."
        )
    if plan.database_waiver_needed and not waive:
        return (
            f"The rollback crosses {len(plan.migrations_crossed)} schema migration(s) and "
            "the plan has no database step. Waive it on the card only if the database does "
            "not need rolling back. Nothing was changed."
        )
    return None


def _removal_conditions(deps: Deps, record: Plan) -> str | None:
    """What the request was refused for may have come since: a freeze, a stale drill."""
    reason = frozen_because(deps)
    if reason is not None:
        return f"The high-risk removal is refused: {reason} Nothing was changed."
    try:
        refuse_without_drill(deps, removal_from_body(record.body))
    except InputError as error:
        return error.user_message
    return None


def _incident(deps: Deps, record: Plan) -> Incident:
    incident = deps.store.get_incident(record.incident_id)
    if incident is None:
        raise InputError(f"Incident #{record.incident_id} does not exist.")
    return incident


def _note(
    deps: Deps,
    record: Plan,
    actor: str,
    surface: Surface,
    action: TimelineAction,
    reason: str,
    **extra: object,
) -> None:
    details: dict[str, object] = {"plan": record.id, **extra}
    if reason:
        details["reason"] = reason
    deps.store.append_event(
        actor=actor, surface=surface, action=action, incident_id=record.incident_id, details=details
    )
