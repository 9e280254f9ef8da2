"""Global Bolt middleware: dependencies, redelivery dedupe, and the audit trail.

Order matters and is fixed in :func:`install_middleware`: dependencies first (everything after
needs the store), then dedupe (a redelivery must not even be audited twice), then the audit
record, so every action that reaches a listener is in the timeline with who and when.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context import BoltContext

from bot.deps import CONTEXT_KEY, Deps, deps_of

log = logging.getLogger("rollback_bot.middleware")

Next = Callable[[], BoltResponse]


def install_middleware(app: App, deps: Deps) -> None:
    def inject_deps(context: BoltContext, next: Next) -> BoltResponse:
        context[CONTEXT_KEY] = deps
        return next()

    app.use(inject_deps)
    app.use(drop_redeliveries)
    app.use(record_actions)


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


def drop_redeliveries(body: dict[str, Any], context: BoltContext, next: Next) -> BoltResponse:
    key = delivery_key(body)
    if key is None or deps_of(context).store.claim_delivery(key):
        return next()
    log.info("acknowledged a repeated delivery without running it again (%s)", key.split(":")[0])
    # Acknowledge, and ask Slack to stop retrying this one.
    return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})


def actor_of(body: Mapping[str, Any]) -> str | None:
    if isinstance(body.get("user"), dict):
        user_id = body["user"].get("id")
        return str(user_id) if user_id else None
    user_id = body.get("user_id")
    return str(user_id) if user_id else None


def record_actions(body: dict[str, Any], context: BoltContext, next: Next) -> BoltResponse:
    actor = actor_of(body)
    details = _audit_details(body)
    if actor and details is not None:
        action, facts = details
        deps_of(context).store.append_event(
            actor=actor, surface="slack", action=action, details=facts
        )
    return next()


def _audit_details(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    if body.get("command"):
        return "slash_command", {
            "command": body["command"],
            "text": body.get("text", ""),
            "channel": body.get("channel_id"),
        }
    if body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        return "button", {
            "action_id": actions[0].get("action_id"),
            "value": actions[0].get("value"),
            "channel": (body.get("channel") or {}).get("id"),
        }
    if body.get("type") == "view_submission":
        return "modal_submit", {"callback_id": (body.get("view") or {}).get("callback_id")}
    return None
