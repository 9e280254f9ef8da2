"""The Before Retry checklist in Slack: posted in the incident channel, under the incident's
card, and redrawn in place as boxes are ticked and when it is approved."""

from __future__ import annotations

from slack_sdk import WebClient

from actions.errors import InputError
from bot.deps import Deps
from bot.flows.retry import RetryChecklist
from bot.slack.messages import LiveMessage
from bot.views.retry import build_retry_view


def post_checklist(deps: Deps, client: WebClient, checklist: RetryChecklist) -> RetryChecklist:
    incident = checklist.incident
    view = build_retry_view(checklist, orchestrators=deps.settings.config.slack.orchestrators)
    thread = (
        {"thread_ts": incident.message_ts, "reply_broadcast": True} if incident.message_ts else {}
    )
    live = LiveMessage(client, incident.channel)
    if not live.start({**view, **thread}) or live.ts is None:
        raise InputError(
            f"Slack would not post the checklist in #{incident.channel}; invite the bot there and "
            "ask again."
        )
    deps.store.set_retry_message(checklist.retry.id, channel=incident.channel, ts=live.ts)
    return checklist


def redraw_checklist(
    deps: Deps,
    client: WebClient,
    checklist: RetryChecklist,
    *,
    clicked: tuple[str, str] | None = None,
) -> None:
    """Redraw the checklist where the store says it is. A click can beat the store: the
    checklist is clickable the moment Slack shows it, before its poster has saved where it is;
    then the message clicked on (``clicked``: channel, ts) is the one redrawn."""
    retry = checklist.retry
    known = (retry.channel, retry.message_ts) if retry.channel and retry.message_ts else None
    where = known or clicked
    if where is None:
        return
    view = build_retry_view(checklist, orchestrators=deps.settings.config.slack.orchestrators)
    LiveMessage.existing(client, *where).finish(view)
