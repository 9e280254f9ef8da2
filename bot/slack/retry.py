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


def redraw_checklist(deps: Deps, client: WebClient, checklist: RetryChecklist) -> None:
    retry = checklist.retry
    if retry.channel is None or retry.message_ts is None:
        return
    view = build_retry_view(checklist, orchestrators=deps.settings.config.slack.orchestrators)
    LiveMessage.existing(client, retry.channel, retry.message_ts).finish(view)
