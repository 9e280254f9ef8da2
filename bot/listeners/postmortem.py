"""The post-mortem thread: Fill in (a modal), Notify stakeholders, Close; the thread's replies
and 📌 reactions, captured into the incident's timeline.

A modal submitted for an incident that is unknown or closed is answered inside the modal
(``response_action: errors``): that check is a store read, done before the ack; the save and
the summary's edit run after it. Events for threads that are not an incident's are dropped
without a word in the log, since every message in the channel comes here.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from actions.errors import InputError, RollbackBotError
from bot.afterack import after_ack
from bot.deps import Deps, deps_of
from bot.errors import reporting_errors
from bot.flows.postmortem import (
    close_incident,
    fields_for,
    save_fields,
    shown_digest,
    writable_postmortem,
    write_rollback_log,
)
from bot.flows.thread import PINNED, Change, Pinned, Posted, record_pin, record_thread_event
from bot.ids import ActionId, InputId, ViewId
from bot.listeners.buttons import Button, Click, Permission, register_buttons
from bot.slack.messages import SLACK_FAILURES, slack_problem
from bot.slack.orchestrators import is_orchestrator
from bot.slack.postmortem import notify_stakeholders, refresh_summary, show_closed
from bot.views.postmortem import build_postmortem_modal_view, field_block_id
from store import Surface, TimelineAction

MAX_INCIDENT = 2**31 - 1


def handle_postmortem_fill_button(deps: Deps, click: Click) -> None:
    incident, postmortem = writable_postmortem(deps, click.number("incident"))
    if click.trigger_id is None:
        raise InputError("Slack did not send what opening the form needs; press it again.")
    try:
        view = build_postmortem_modal_view(incident, postmortem)
        click.client.views_open(trigger_id=click.trigger_id, view=view)
    except SLACK_FAILURES as error:
        click.tell(f"Slack would not open the form ({slack_problem(error)}); press it again.")


def handle_postmortem_notify_button(deps: Deps, click: Click) -> None:
    incident_id = click.number("incident")
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        raise InputError("That incident does not exist; nobody was told.")
    orchestrators = deps.settings.config.slack.orchestrators
    if click.user != incident.requester and not is_orchestrator(
        click.user, orchestrators=orchestrators, client=click.client
    ):
        raise InputError("Only whoever reported it or an orchestrator can notify stakeholders.")
    channel = notify_stakeholders(deps, click.client, incident_id, actor=click.user)
    refresh_summary(deps, click.client, incident_id)
    click.tell(f"The stakeholders in #{channel} have the new ETA and the lessons learned.")


def handle_postmortem_close_button(deps: Deps, click: Click) -> None:
    closed = close_incident(deps, click.number("incident"), actor=click.user, surface=Surface.SLACK)
    show_closed(deps, click.client, closed)
    click.tell(f"Incident #{closed.id} is closed; its reminders are stopped.")


# -- the modal ------------------------------------------------------------------------------------


def handle_postmortem_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    deps = deps_of(context)
    try:
        incident_id, fields, conflicts = _submitted(deps, view)
    except RollbackBotError as error:
        conflicts = _errors_for(view, error.user_message)
    if conflicts:
        why = "; ".join(sorted(set(conflicts.values())))
        ack(response_action="errors", errors=conflicts)
        after_ack(context, body, None, lambda deps: _refused(deps, user, why))
        return
    ack()
    after_ack(context, body, None, lambda deps: _save(deps, client, user, incident_id, fields))


def _submitted(deps: Deps, view: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, str]]:
    """(incident, the fields this form changed, errors for fields saved meanwhile by others).

    A field is compared with what this form showed, not with what is stored now: one left as
    shown is not written (so it can neither erase a newer save nor cut a text longer than the
    form holds), and one changed here that someone else saved since is refused, in the form.
    """
    incident_id, shown = _metadata(view)
    incident, postmortem = writable_postmortem(deps, incident_id)
    values = (view.get("state") or {}).get("values") or {}
    fields, conflicts = {}, {}
    for field in fields_for(incident):
        entered = (values.get(field_block_id(field)) or {}).get(InputId.POSTMORTEM_FIELD.value)
        text = str((entered or {}).get("value") or "")
        was = shown.get(field.key, shown_digest(""))
        if shown_digest(text) == was:
            continue
        if shown_digest(postmortem.fields.get(field.key, "")) != was:
            conflicts[field_block_id(field)] = "Saved by someone else meanwhile: reopen the form."
            continue
        fields[field.key] = text
    return incident.id, fields, conflicts


def _metadata(view: dict[str, Any]) -> tuple[int, dict[str, str]]:
    try:
        metadata = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        metadata = None
    number = metadata.get("incident") if isinstance(metadata, dict) else None
    shown = metadata.get("shown") if isinstance(metadata, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= MAX_INCIDENT:
        raise InputError("This form does not belong to an incident rollback-bot knows.")
    if not isinstance(shown, dict):
        shown = {}
    return number, {str(k): str(v) for k, v in shown.items()}


def _refused(deps: Deps, user: str, why: str) -> None:
    deps.store.append_event(
        actor=user or "slack",
        surface=Surface.SLACK,
        action=TimelineAction.POSTMORTEM_REFUSED,
        details={"reason": why},
    )


def _errors_for(view: dict[str, Any], message: str) -> dict[str, str]:
    blocks = [b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"]
    first = next((str(b) for b in blocks if b), "postmortem_root_cause")
    return {first: message[:150]}


def _save(
    deps: Deps, client: WebClient, user: str, incident_id: int, fields: dict[str, str]
) -> None:
    saved = save_fields(deps, incident_id, fields, actor=user, surface=Surface.SLACK)
    if saved.changed:
        refresh_summary(deps, client, incident_id)
        write_rollback_log(deps, actor=user, surface=Surface.SLACK)


# -- events ---------------------------------------------------------------------------------------


def handle_thread_message_event(
    body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    posted = _posted(event)
    if posted is None:
        return
    deps = deps_of(context)
    if deps.store.postmortem_of_thread(posted.channel, posted.thread_ts) is None:
        return  # not an incident's thread: most messages, and none of our business

    def record(deps: Deps) -> None:
        record_thread_event(deps, posted)

    after_ack(context, body, None, record)


def handle_reaction_added_event(
    body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    item = event.get("item") or {}
    if event.get("reaction") != PINNED or item.get("type") != "message":
        return
    channel, ts, user = item.get("channel"), item.get("ts"), event.get("user")
    if not all(isinstance(value, str) and value for value in (channel, ts, user)):
        return
    after_ack(
        context, body, None, lambda deps: _pin(deps, client, str(channel), str(ts), str(user))
    )


def _posted(event: dict[str, Any]) -> Posted | None:
    """A reply in some thread, its edit or its deletion; None for anything else (a message
    outside a thread, a bot's, a join notice)."""
    subtype = event.get("subtype")
    channel = event.get("channel")
    if subtype == "message_changed":
        change, message = Change.EDITED, event.get("message") or {}
    elif subtype == "message_deleted":
        change, message = Change.DELETED, event.get("previous_message") or {}
    elif subtype in (None, "thread_broadcast", "file_share"):
        change, message = Change.POSTED, event
    else:
        return None
    if (
        not isinstance(message, dict)
        or message.get("bot_id")
        or message.get("subtype") == "bot_message"
    ):
        return None
    thread_ts, ts = message.get("thread_ts"), message.get("ts")
    if not isinstance(channel, str) or not isinstance(thread_ts, str) or not isinstance(ts, str):
        return None
    if ts == thread_ts:
        return None  # the thread's parent (the card) itself, edited: not a reply
    user = message.get("user") if change is not Change.DELETED else ""
    return Posted(change, channel, thread_ts, ts, str(user or ""), str(message.get("text") or ""))


def _pin(deps: Deps, client: WebClient, channel: str, ts: str, user: str) -> None:
    """Look the pinned message up (its text, its thread), then record it."""
    thread_ts = author = text = None
    try:
        found = client.conversations_replies(channel=channel, ts=ts, limit=1, inclusive=True)
        messages = found.get("messages") or []
        if messages and isinstance(messages[0], dict):
            thread_ts = messages[0].get("thread_ts")
            author, text = messages[0].get("user"), messages[0].get("text")
    except SLACK_FAILURES:
        pass  # the pin is still recorded, without the text Slack would not give
    record_pin(deps, Pinned(channel, ts, user, thread_ts, author, text))


BUTTONS = {
    ActionId.POSTMORTEM_FILL: Button(handle_postmortem_fill_button),
    ActionId.POSTMORTEM_NOTIFY: Button(handle_postmortem_notify_button),
    ActionId.POSTMORTEM_CLOSE: Button(
        handle_postmortem_close_button,
        Permission.ORCHESTRATOR,
        "Only an orchestrator can close an incident. Nothing was changed.",
    ),
}


def register(app: App) -> None:
    register_buttons(app, BUTTONS)
    app.view(ViewId.POSTMORTEM.value)(reporting_errors(handle_postmortem_submission))
    app.event("message")(reporting_errors(handle_thread_message_event))
    app.event("reaction_added")(reporting_errors(handle_reaction_added_event))
