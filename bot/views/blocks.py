"""Block Kit primitives every view is made of: data in, dicts out, no Slack calls, no I/O.

Each view module builds ``{"text": fallback, "blocks": [...]}`` with :func:`message`, ready
for ``respond``, ``chat.postMessage`` or the terminal renderer, inside Slack's limits (50 blocks
per message, 3000 characters per section).

Slack reads ``<…>`` as a mention or a link and ``&…;`` as an entity, in blocks and in the
top-level ``text`` alike, and notifies from ``text``. So every string the bot did not compose
goes through :func:`escape`; the fallback ``text`` is plain text, escaped whole by
:func:`message`; and cutting a long text never splits an entity or a mention.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.ids import ActionId

Message = dict[str, Any]
SECTION_LIMIT = 3000
FALLBACK_LIMIT = 3000
# A person or a channel named in plain text the bot composed ("approved by @U0ORCH", "in
# #C0INCIDENTS"), turned into a mention or a channel link.
_PERSON_RE = re.compile(r"(?<![\w@])@([UW][A-Z0-9]{2,})\b")
_CHANNEL_RE = re.compile(r"(?<![\w#&])#([CG][A-Z0-9]{2,})\b")
_SLACK_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup (mentions, links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The plain text of a fallback :func:`message` made (its inverse of :func:`escape`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def said_once(text: str) -> str:
    """A message with each sentence said once: refusals built up from several layers can each
    add "Nothing was changed.", and reading it three times helps nobody."""
    seen: set[str] = set()
    kept = []
    for sentence in _SENTENCE_END.split(text):
        key = sentence.strip().rstrip(".;").lower()
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
    return " ".join(kept)


def plain_to_mrkdwn(text: str) -> str:
    """Plain text (a flow's refusal, say) as mrkdwn: escaped, with ``@U…`` people mentioned and
    ``#C…`` channels linked."""
    return _CHANNEL_RE.sub(r"<#\1>", _PERSON_RE.sub(r"<@\1>", escape(said_once(text))))


def cut_mrkdwn(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending in "…" when cut; never inside an
    entity (``&lt;``) or a mention or link (``<@U0ORCH>``), which would break the rest."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi and len(cut) - amp <= 8:  # an entity is at most "&amp;" long; be generous
        cut = cut[:amp]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut + "…"


def cut_list(lines: list[str], shown: int, what: str = "", total: int | None = None) -> str:
    """The first ``shown`` lines, then how many more there are (``total`` counts them all,
    when the caller holds fewer lines than there are)."""
    kept = lines[:shown]
    rest = (len(lines) if total is None else total) - len(kept)
    if rest > 0:
        kept.append(f"…and {rest} more" + (f" {what}" if what else ""))
    return "\n".join(kept)


def message(text: str, blocks: list[dict[str, Any]]) -> Message:
    """A message whose fallback ``text`` is plain text, escaped: it reaches notifications and
    screen readers, so nothing in it may mention anyone."""
    return {"text": cut_mrkdwn(escape(text), FALLBACK_LIMIT), "blocks": blocks[:50]}


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut_mrkdwn(text, SECTION_LIMIT)},
    }
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut_mrkdwn(text, SECTION_LIMIT)}],
    }


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
    # The bot's own actors ("watch", "bot") are named as they are, never as a broken mention.
    if actor.startswith("os:") or not _SLACK_ID_RE.match(actor):
        return escape(actor)
    return f"<@{actor}>"


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
