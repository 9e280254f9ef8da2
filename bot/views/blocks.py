"""Block Kit primitives every view is made of: data in, dicts out, no Slack calls, no I/O.

Each view module builds ``{"text": fallback, "blocks": [...]}`` from these, ready for
``respond``, ``chat.postMessage`` or the terminal renderer, inside Slack's limits (50 blocks
per message, 3000 characters per section).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.ids import ActionId

Message = dict[str, Any]
SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup (mentions, links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def button(text: str, action: ActionId, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A button whose value says exactly what it acts on, as compact JSON."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action.value,
        "value": json.dumps(value, separators=(",", ":")),
        **extra,
    }


def confirm(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    """Slack's confirmation dialog; plain text, so nothing in it is read as markup."""
    return {
        "title": {"type": "plain_text", "text": title[:100]},
        "text": {"type": "plain_text", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes[:30]},
        "deny": {"type": "plain_text", "text": no[:30]},
    }


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def mention(actor: str) -> str:
    # Slack users are mentioned; terminal users ("os:alice") are shown as they are.
    return escape(actor) if actor.startswith("os:") else f"<@{actor}>"


def mention_orchestrators(orchestrators: Sequence[str]) -> str:
    # A user group is mentioned with Slack's subteam syntax so its members are notified.
    return " ".join(
        f"<!subteam^{entry}>" if entry.startswith("S") else f"<@{entry}>" for entry in orchestrators
    )


def age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "unknown age"
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min ago"
    return f"{minutes // (24 * 60)} days ago"
