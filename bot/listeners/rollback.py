"""The incident card's buttons: Approve, Approve anyway, Reject, and Resume / Abort.

Only orchestrators may press any of them (checked at registration, before a job runs). A job
asks its flow, then either tells the clicker privately why nothing happened or edits the card.
Which click carries out a rollback is decided by a compare-and-set in the store, never here, so
double clicks, redeliveries and two orchestrators at once run it once.
"""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.flows.approval import judge_approval, judge_rejection
from bot.flows.rollback_resume import abort_plan, judge_resume
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, Permission, register_buttons
from bot.slack.cards import close_card, post_proposal, run_on_card
from store import Surface, TimelineAction


def handle_rollback_approve_button(deps: Deps, click: Click) -> None:
    anyway = click.action_id == ActionId.ROLLBACK_APPROVE_ANYWAY.value
    verdict = judge_approval(
        deps,
        plan_id=click.number("plan"),
        fingerprint=str(click.value.get("fp", "")),
        actor=click.user,
        surface=Surface.SLACK,
        waive=anyway and click.value.get("waive") is True,
        force=anyway and click.value.get("force") is True,
    )
    if verdict.outcome == "replanned" and verdict.fresh is not None and verdict.record:
        close_card(deps, click.client, verdict.record, "replaced by a fresh plan (the repo moved)")
        post_proposal(deps, click.client, verdict.fresh, verdict.fresh.incident.channel)
    if verdict.outcome != "approved" or verdict.record is None:
        click.tell(verdict.message)
        return
    run_on_card(
        deps, click.client, verdict.record, attempt=verdict.record.attempt, actor=click.user
    )


def handle_rollback_reject_button(deps: Deps, click: Click) -> None:
    verdict = judge_rejection(
        deps,
        plan_id=click.number("plan"),
        fingerprint=str(click.value.get("fp", "")),
        actor=click.user,
        surface=Surface.SLACK,
    )
    if verdict.outcome != "rejected" or verdict.record is None:
        click.tell(verdict.message)
        return
    close_card(deps, click.client, verdict.record, f"rejected by <@{click.user}>. Nothing changed.")


def handle_rollback_resume_button(deps: Deps, click: Click) -> None:
    decided = judge_resume(
        deps,
        plan_id=click.number("plan"),
        attempt=click.number("attempt"),
        actor=click.user,
        surface=Surface.SLACK,
    )
    if decided.refusal is not None or decided.attempt is None:
        click.tell(decided.refusal or "Nothing to resume.")
        return
    run_on_card(deps, click.client, decided.record, attempt=decided.attempt, actor=click.user)


def handle_rollback_abort_button(deps: Deps, click: Click) -> None:
    decided = abort_plan(
        deps,
        plan_id=click.number("plan"),
        attempt=click.number("attempt"),
        actor=click.user,
        surface=Surface.SLACK,
    )
    if decided.refusal is not None:
        click.tell(decided.refusal)
        return
    head = str(decided.record.result.get("head_at_abort") or "unknown")[:10]
    close_card(
        deps,
        click.client,
        decided.record,
        f"aborted by <@{click.user}> at step “{decided.record.result.get('stopped_at')}”; "
        f"the lock is released and HEAD is at {head}.",
    )


_APPROVE = Button(
    handle_rollback_approve_button,
    Permission.ORCHESTRATOR,
    "Only an orchestrator can approve this rollback. Nothing was changed.",
    TimelineAction.APPROVAL_REFUSED,
)
BUTTONS = {
    ActionId.ROLLBACK_APPROVE: _APPROVE,
    ActionId.ROLLBACK_APPROVE_ANYWAY: _APPROVE,
    ActionId.ROLLBACK_REJECT: Button(
        handle_rollback_reject_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can reject this rollback. Nothing was changed.",
    ),
    ActionId.ROLLBACK_RESUME: Button(
        handle_rollback_resume_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can resume a rollback. Nothing was changed.",
    ),
    ActionId.ROLLBACK_ABORT: Button(
        handle_rollback_abort_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can abort a rollback. Nothing was changed.",
    ),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
