"""The incident card's buttons: Approve, Approve anyway, Reject, and Resume / Abort.

Only orchestrators may press them (checked at registration, before a job runs); Approve also
takes ``escalation.fallback``, which the approval flow lets through only for a plan the one
orchestrator asked for. A job asks its flow, then either tells the clicker privately why
nothing happened or edits the card.
Which click carries out a rollback is decided by a compare-and-set in the store, never here, so
double clicks, redeliveries and two orchestrators at once run it once.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from bot.deps import Deps
from bot.flows.approval import Verdict, judge_approval, judge_rejection
from bot.flows.database_restore import restore_and_abort
from bot.flows.rollback_resume import Decided, abort_plan, judge_resume
from bot.flows.rollback_run import stopped_step
from bot.ids import ActionId
from bot.listeners.buttons import Button, Click, Permission, register_buttons
from bot.slack.cards import close_card, close_superseded, deliver_card
from bot.slack.orchestrators import is_orchestrator
from bot.slack.runs import Clicked, run_on_card
from bot.views.blocks import escape
from store import Surface, TimelineAction


def _on_proposed_plan(
    decide: Callable[..., Verdict], deps: Deps, click: Click, **extra: bool
) -> Verdict:
    """Approve or Reject: both name the plan and the fingerprint their card was drawn with."""
    return decide(
        deps,
        plan_id=click.number("plan"),
        fingerprint=str(click.value.get("fp", "")),
        actor=click.user,
        surface=Surface.SLACK,
        **extra,
    )


def handle_rollback_approve_button(deps: Deps, click: Click) -> None:
    anyway = click.action_id == ActionId.ROLLBACK_APPROVE_ANYWAY.value
    orchestrators = deps.settings.config.slack.orchestrators
    verdict = _on_proposed_plan(
        judge_approval,
        deps,
        click,
        waive=anyway and click.value.get("waive") is True,
        force=anyway and click.value.get("force") is True,
        # Past the button's permission, a clicker who is no orchestrator is the fallback.
        stand_in=not is_orchestrator(click.user, orchestrators=orchestrators, client=click.client),
    )
    if verdict.outcome == "replanned" and verdict.fresh is not None and verdict.record:
        close_card(deps, click.client, verdict.record, "replaced by a fresh plan (the repo moved)")
        deliver_card(deps, verdict.fresh, click.reply)
    if verdict.outcome != "approved" or verdict.record is None:
        click.tell(verdict.message)
        return
    close_superseded(deps, click.client, verdict.record, verdict.superseded)
    run_on_card(
        deps,
        click.client,
        verdict.record,
        attempt=verdict.record.attempt,
        actor=click.user,
        clicked=Clicked(click.reply, click.message_ts),
    )


def handle_rollback_reject_button(deps: Deps, click: Click) -> None:
    verdict = _on_proposed_plan(judge_rejection, deps, click)
    if verdict.outcome != "rejected" or verdict.record is None:
        click.tell(verdict.message)
        return
    why = f"rejected by <@{click.user}>. Nothing changed."
    close_card(deps, click.client, verdict.record, why, reply=click.reply)


def _on_stopped_plan(decide: Callable[..., Decided], deps: Deps, click: Click) -> Decided:
    """Resume or Abort: both name the stopped plan and the attempt their card was drawn for."""
    return decide(
        deps,
        plan_id=click.number("plan"),
        attempt=click.number("attempt"),
        actor=click.user,
        surface=Surface.SLACK,
    )


def handle_rollback_resume_button(deps: Deps, click: Click) -> None:
    decided = _on_stopped_plan(judge_resume, deps, click)
    if decided.refusal is not None or decided.attempt is None:
        click.tell(decided.refusal or "Nothing to resume.")
        return
    run_on_card(
        deps,
        click.client,
        decided.record,
        attempt=decided.attempt,
        actor=click.user,
        clicked=Clicked(click.reply, click.message_ts),
    )


def handle_rollback_abort_button(deps: Deps, click: Click) -> None:
    decided = _on_stopped_plan(abort_plan, deps, click)
    if decided.refusal is not None:
        click.tell(decided.refusal)
        return
    head = str(decided.record.result.get("head_at_abort") or "unknown")[:10]
    close_card(
        deps,
        click.client,
        decided.record,
        f"aborted by <@{click.user}> at “{stopped_step(decided.record)}”; "
        f"the lock is released and HEAD is at {head}.",
        reply=click.reply,
    )


def handle_database_restore_button(deps: Deps, click: Click) -> None:
    decided = _on_stopped_plan(restore_and_abort, deps, click)
    if decided.refusal is not None:
        click.tell(decided.refusal)
        return
    backup = str(decided.record.result.get("db_restored") or "the backup")
    close_card(
        deps,
        click.client,
        decided.record,
        f"the database was restored from `{escape(backup)}` by <@{click.user}>, and the rollback "
        "aborted: the code is still at HEAD, so the two match again.",
        reply=click.reply,
    )


_APPROVE = Button(
    handle_rollback_approve_button,
    Permission.PAGED,  # escalation.fallback too, for a plan the one orchestrator asked for
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
    ActionId.DATABASE_RESTORE: Button(
        handle_database_restore_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can restore the database. Nothing was changed.",
    ),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
