"""The fix window's buttons and the note modal: Resolved (fixed forward) and Extend 15 min.

Resolved opens a modal for the one-line lesson; its submission resolves the incident. The
requester or an orchestrator may resolve, and that is checked twice: before the modal opens (so
nobody types a note for nothing) and on submission (the one that counts).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from actions.errors import InputError, RollbackBotError
from bot.afterack import after_ack
from bot.deps import Deps
from bot.errors import reporting_errors
from bot.flows.fix_window import extend_window, resolve_fixed_forward, start_fix_branch
from bot.ids import ActionId, BlockId, InputId, ViewId
from bot.listeners.buttons import Button, Click, Permission, register_buttons
from bot.slack.incidents import proposal_now, show_incident
from bot.slack.messages import SLACK_FAILURES, slack_problem
from bot.slack.orchestrators import is_orchestrator
from bot.slack.postmortem import open_thread
from bot.views.blocks import plain_to_mrkdwn
from bot.views.fix_window import build_fixed_forward_modal_view, minutes_said
from store import Surface

log = logging.getLogger("rollback_bot.fix_window")
MAX_INCIDENT = 2**31 - 1


def handle_fix_resolved_button(deps: Deps, click: Click) -> None:
    incident = deps.store.get_incident(click.number("incident"))
    if incident is None:
        raise InputError("That incident does not exist; nothing was changed.")
    _may_resolve(deps, click.client, click.user, incident.requester, incident.id)
    if click.trigger_id is None:
        raise InputError("Slack did not send what opening the note needs; press it again.")
    try:
        click.client.views_open(
            trigger_id=click.trigger_id, view=build_fixed_forward_modal_view(incident)
        )
    except SLACK_FAILURES as error:
        click.tell(f"Slack would not open the note ({slack_problem(error)}); press Resolved again.")


def handle_fix_extend_button(deps: Deps, click: Click) -> None:
    incident_id = click.number("incident")
    ends = extend_window(deps, incident_id, actor=click.user)
    incident = deps.store.get_incident(incident_id)
    if incident is not None:
        show_incident(deps, click.client, proposal_now(deps, incident))
    left = minutes_said((ends - deps.clock()).total_seconds() / 60)
    click.tell(
        f"Extended: the fix window of incident #{incident_id} ends at {ends:%H:%M} UTC "
        f"({left} from now)."
    )


def handle_fix_branch_button(deps: Deps, click: Click) -> None:
    incident = deps.store.get_incident(click.number("incident"))
    if incident is None:
        raise InputError("That incident does not exist; nothing was changed.")
    _may_resolve(deps, click.client, click.user, incident.requester, incident.id)
    name = start_fix_branch(deps, incident.id, actor=click.user, surface=Surface.SLACK)
    remote = deps.settings.config.git.remote
    click.tell(
        f"`{name}` is on {remote}, from HEAD: `git fetch {remote} && git switch {name}`. "
        "The phase branch stays where it was."
    )


def handle_fixed_forward_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    user = str((body.get("user") or {}).get("id") or "")
    after_ack(context, body, None, lambda deps: _resolve(deps, client, user, view))


def _resolve(deps: Deps, client: WebClient, user: str, view: dict[str, Any]) -> None:
    try:
        incident_id, note = _submitted(view)
        incident = deps.store.get_incident(incident_id)
        if incident is None:
            raise InputError(f"There is no incident #{incident_id}.")
        _may_resolve(deps, client, user, incident.requester, incident.id)
        resolved = resolve_fixed_forward(
            deps, incident_id, actor=user, surface=Surface.SLACK, lesson=note
        )
    except RollbackBotError as error:
        # A modal has no response_url: the person hears it in the incident channel, privately.
        _tell(client, deps.settings.config.slack.channel, user, error.user_message)
        return
    show_incident(deps, client, proposal_now(deps, resolved))
    open_thread(deps, client, resolved.id)


def _submitted(view: dict[str, Any]) -> tuple[int, str]:
    metadata = str(view.get("private_metadata") or "")
    if not metadata.isdigit() or not 0 < int(metadata) <= MAX_INCIDENT:
        raise InputError("That note does not belong to an incident rollback-bot knows.")
    values = (view.get("state") or {}).get("values") or {}
    typed = ((values.get(BlockId.FIX_NOTE.value) or {}).get(InputId.FIX_NOTE.value) or {}).get(
        "value"
    )
    note = " ".join(str(typed or "").split())
    if not note:
        raise InputError("Say in one line what fixed it; it goes to the lessons learned.")
    return int(metadata), note[:300]


def _may_resolve(deps: Deps, client: WebClient, user: str, requester: str, number: int) -> None:
    if user == requester:
        return
    orchestrators = deps.settings.config.slack.orchestrators
    if not is_orchestrator(user, orchestrators=orchestrators, client=client):
        raise InputError(
            f"Only whoever reported incident #{number} or an orchestrator can resolve it. "
            "Nothing was changed."
        )


def _tell(client: WebClient, channel: str, user: str, text: str) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=plain_to_mrkdwn(text))
    except SLACK_FAILURES as error:
        log.warning("could not tell %s why the note was refused: %s", user, slack_problem(error))


BUTTONS = {
    ActionId.FIX_RESOLVED: Button(handle_fix_resolved_button),
    ActionId.FIX_EXTEND: Button(
        handle_fix_extend_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can extend a fix window. Nothing was changed.",
    ),
    ActionId.FIX_BRANCH: Button(handle_fix_branch_button),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
    app.view(ViewId.FIXED_FORWARD.value)(reporting_errors(handle_fixed_forward_submission))
