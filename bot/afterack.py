"""Work after the acknowledgement: the durable delivery claim, the audit record, then the flow.

Slack must have its acknowledgement within 3 seconds whatever the work behind it, so the app
runs with ``process_before_response=True``: a listener acks on the request thread, hands its
work to :func:`after_ack`, and returns. Nothing on the ack path writes to the store; measured,
writes there made the ack's p99 4-6x that of a bare Bolt app, and a busy listener pool made
acks wait behind earlier work.

The claim is what makes "runs once" true across restarts and replicas: a redelivery that
reaches this point finds the key already claimed and stops. The in-memory check in
:mod:`bot.middleware` only answers most redeliveries early with ``X-Slack-No-Retry``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt.context.respond import Respond

from bot.deps import Deps, deps_of
from bot.errors import handle_listener_error
from store import Surface, TimelineAction

log = logging.getLogger("rollback_bot.after_ack")

Job = Callable[[Deps], None]


def after_ack(
    context: Mapping[str, Any], body: Mapping[str, Any], respond: Respond | None, job: Job
) -> None:
    """Queue ``job`` to run after the ack; its failures reach the one error handler."""
    deps = deps_of(context)
    deps.work.submit(_run, deps, dict(body), respond, job)


def _run(deps: Deps, body: dict[str, Any], respond: Respond | None, job: Job) -> None:
    try:
        key = delivery_key(body)
        if key is not None and not deps.store.claim_delivery(key):
            log.info("a repeated delivery was not run again (%s)", key.split(":")[0])
            return
        audit = audit_record(body)
        if audit is not None:
            actor, action, details = audit
            deps.store.append_event(
                actor=actor, surface=Surface.SLACK, action=action, details=details
            )
        job(deps)
    except Exception as error:
        handle_listener_error(error, body, respond)


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """What Slack repeats verbatim when it redelivers, and nothing else does."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    trigger = body.get("trigger_id")
    if not trigger:
        return None
    kind = body.get("type") or "command"
    if kind == "block_actions":
        stamps = ",".join(str(action.get("action_ts", "")) for action in body.get("actions", []))
        return f"action:{trigger}:{stamps}"
    return f"{kind}:{trigger}"


#: What the audit keeps of a person's text; the grammar refuses more than this anyway, and a
#: megabyte sent to the front door must not become a megabyte in the timeline.
MAX_AUDIT_TEXT = 2000


def capped(value: object, limit: int = 200) -> str | None:
    return None if value is None else str(value)[:limit]


def capped_text(key: str, value: object) -> dict[str, object]:
    """``{key: text}``, cut to MAX_AUDIT_TEXT characters with the full length noted."""
    if value is None:
        return {key: None}
    text = str(value)
    if len(text) <= MAX_AUDIT_TEXT:
        return {key: text}
    return {key: text[:MAX_AUDIT_TEXT], f"{key}_length": len(text)}


def actor_of(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return str(user["id"]) if user.get("id") else None
    user_id = body.get("user_id")
    return str(user_id) if user_id else None


def audit_record(body: Mapping[str, Any]) -> tuple[str, TimelineAction, dict[str, Any]] | None:
    """(actor, action, details) for the timeline, or None for what is not a person's action."""
    actor = actor_of(body)
    if actor is None:
        return None
    if body.get("command"):
        details = {
            "command": capped(body["command"]),
            **capped_text("text", body.get("text", "")),
            "channel": body.get("channel_id"),
        }
        return actor, TimelineAction.SLASH_COMMAND, details
    if body.get("type") == "block_actions":
        action = (body.get("actions") or [{}])[0]
        channel = (body.get("channel") or {}).get("id")
        details = {
            "action_id": capped(action.get("action_id")),
            **capped_text("value", action.get("value")),
            "channel": channel,
        }
        return actor, TimelineAction.BUTTON, details
    if body.get("type") == "view_submission":
        return (
            actor,
            TimelineAction.MODAL_SUBMIT,
            {"callback_id": (body.get("view") or {}).get("callback_id")},
        )
    return None
