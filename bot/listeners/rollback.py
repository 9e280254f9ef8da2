"""The incident card's buttons: Approve, Approve anyway, Reject, and Resume / Abort.

Each listener acks, then after the ack checks who clicked (an orchestrator, by user ID or user
group), asks the flow, and either tells the clicker privately why nothing happened or edits the
card. Which click carries out a rollback is decided by a compare-and-set in the store, never
here, so double clicks, redeliveries and two orchestrators at once run it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from actions.errors import InputError
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.approval import judge_approval, judge_rejection
from bot.flows.rollback_resume import abort_plan, judge_resume
from bot.ids import ActionId
from bot.listeners.checkpoint import button_value
from bot.slack.cards import close_card, post_card, run_on_card
from bot.slack.orchestrators import is_orchestrator


class _Click:
    """Who clicked which plan's button, and the ways back to them."""

    def __init__(
        self, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        self.user: str = body["user"]["id"]
        self.value = button_value(action)
        self.respond = respond
        self.client = client
        self.anyway = action.get("action_id") == ActionId.ROLLBACK_APPROVE_ANYWAY.value

    def number(self, key: str) -> int:
        value = self.value.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError("That button does not match a rollback plan; nothing was changed.")
        return value

    def orchestrator(self, deps: Deps) -> bool:
        orchestrators = deps.settings.config.slack.orchestrators
        return is_orchestrator(self.user, orchestrators=orchestrators, client=self.client)

    def tell(self, text: str) -> None:
        self.respond(text=text, response_type="ephemeral", replace_original=False)


ClickJob = Callable[[Deps, _Click], None]


def _after_click(job: ClickJob) -> Callable[..., None]:
    """A listener that acks, reads the click, and runs ``job`` with it after the ack."""

    def listener(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        click = _Click(body, action, respond, client)
        after_ack(context, body, respond, lambda deps: job(deps, click))

    return listener


def _approve(deps: Deps, click: _Click) -> None:
    verdict = judge_approval(
        deps,
        plan_id=click.number("plan"),
        fingerprint=str(click.value.get("fp", "")),
        actor=click.user,
        orchestrator=click.orchestrator(deps),
        surface="slack",
        waive=click.anyway and click.value.get("waive") is True,
        force=click.anyway and click.value.get("force") is True,
    )
    if verdict.outcome == "replanned" and verdict.fresh is not None and verdict.record:
        close_card(deps, click.client, verdict.record, "replaced by a fresh plan (the repo moved)")
        post_card(deps, click.client, verdict.fresh, verdict.fresh.incident.channel)
    if verdict.outcome != "approved" or verdict.record is None:
        click.tell(verdict.message)
        return
    run_on_card(
        deps, click.client, verdict.record, attempt=verdict.record.attempt, actor=click.user
    )


def _reject(deps: Deps, click: _Click) -> None:
    verdict = judge_rejection(
        deps,
        plan_id=click.number("plan"),
        fingerprint=str(click.value.get("fp", "")),
        actor=click.user,
        orchestrator=click.orchestrator(deps),
        surface="slack",
    )
    if verdict.outcome != "rejected" or verdict.record is None:
        click.tell(verdict.message)
        return
    close_card(deps, click.client, verdict.record, f"rejected by <@{click.user}>. Nothing changed.")


def _resume(deps: Deps, click: _Click) -> None:
    decided = judge_resume(
        deps,
        plan_id=click.number("plan"),
        attempt=click.number("attempt"),
        actor=click.user,
        orchestrator=click.orchestrator(deps),
        surface="slack",
    )
    if decided.refusal is not None or decided.attempt is None:
        click.tell(decided.refusal or "Nothing to resume.")
        return
    run_on_card(deps, click.client, decided.record, attempt=decided.attempt, actor=click.user)


def _abort(deps: Deps, click: _Click) -> None:
    decided = abort_plan(
        deps,
        plan_id=click.number("plan"),
        attempt=click.number("attempt"),
        actor=click.user,
        orchestrator=click.orchestrator(deps),
        surface="slack",
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


handle_rollback_approve_button = _after_click(_approve)
handle_rollback_reject_button = _after_click(_reject)
handle_rollback_resume_button = _after_click(_resume)
handle_rollback_abort_button = _after_click(_abort)


def register_rollback_buttons(app: App) -> None:
    for action_id, handler in (
        (ActionId.ROLLBACK_APPROVE, handle_rollback_approve_button),
        (ActionId.ROLLBACK_APPROVE_ANYWAY, handle_rollback_approve_button),
        (ActionId.ROLLBACK_REJECT, handle_rollback_reject_button),
        (ActionId.ROLLBACK_RESUME, handle_rollback_resume_button),
        (ActionId.ROLLBACK_ABORT, handle_rollback_abort_button),
    ):
        app.action(action_id.value)(reporting_errors(handler))
