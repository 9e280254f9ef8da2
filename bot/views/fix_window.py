"""Block Kit for fixing forward: the fix window's card, the fix-forward card, the note modal.

While a quick fix is under way the card says until when, and offers "Resolved: fixed forward"
(the requester or an orchestrator) and "Extend 15 min" (orchestrators). When the window ends
unresolved, the same card becomes the rollback proposal (:mod:`bot.views.rollback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.config import SlackConfig
from bot.ids import ActionId, BlockId, InputId, ViewId
from bot.views.blocks import (
    Message,
    button,
    confirm,
    context,
    escape,
    header,
    mention,
    mention_orchestrators,
    message,
    section,
)
from bot.views.incident import card_foot, incident_summary, incident_title
from store import Incident

NOTE_LIMIT = 300


def minutes_said(minutes: float) -> str:
    """30 -> '30 min', 0.05 -> '3 s', 90 -> '1 h 30 min': a window as people say it."""
    seconds = round(minutes * 60)
    if seconds < 60:
        return f"{seconds} s"
    hours, rest = divmod(seconds // 60, 60)
    if hours:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{rest} min"


def _resolve_button(incident: Incident) -> dict[str, Any]:
    return button(
        "Resolved: fixed forward", ActionId.FIX_RESOLVED, {"incident": incident.id}, style="primary"
    )


def build_fix_window_card_view(
    incident: Incident,
    *,
    ends_at: datetime | None,
    slack: SlackConfig,
    diagnostics: Sequence[str] = (),
) -> Message:
    """The incident while its quick fix is under way."""
    window = incident.decision.get("fix_window_min")
    length = f" ({minutes_said(float(window))})" if isinstance(window, int | float) else ""
    until = f"until *{ends_at:%H:%M} UTC*{length}" if ends_at else "for a short while"
    extend = button(
        "Extend 15 min",
        ActionId.FIX_EXTEND,
        {"incident": incident.id},
        confirm=confirm(
            "Extend the fix window?",
            "Fifteen more minutes before the rollback is proposed. The extension is recorded.",
            "Extend",
        ),
    )
    blocks = [
        header(incident_title(incident)),
        incident_summary(incident),
        section(
            f":stopwatch: *Quick fix first*, {until}. If it is not fixed by then, the rollback "
            "is proposed here and the orchestrators are paged."
        ),
        {
            "type": "actions",
            "block_id": BlockId.FIX_ACTIONS.value,
            "elements": [_resolve_button(incident), extend, *_fix_branch_button(incident)],
        },
        context(
            f"Resolved: {mention(incident.requester)} or an orchestrator. Extend: orchestrators "
            f"({mention_orchestrators(slack.orchestrators)}). {card_foot(incident, None)}"
        ),
    ]
    if diagnostics:
        blocks.insert(3, section(build_diagnostics_text(diagnostics)))
    return message(f"{incident_title(incident)}: quick fix first", blocks)


def build_diagnostics_text(diagnostics: Sequence[str]) -> str:
    """Scenario 4, step 1, as measured when the incident opened."""
    shown = "\n".join(f"• {escape(line)}" for line in diagnostics)
    return f":mag: *Diagnostics* (measured when it was reported)\n{shown}"


def _fix_branch_button(incident: Incident) -> list[dict[str, Any]]:
    """Scenario 4: the quick fix on its own branch, so the phase branch stays rollback-ready."""
    if incident.scenario != "performance":
        return []
    return [
        button(
            "Create fix branch",
            ActionId.FIX_BRANCH,
            {"incident": incident.id},
            confirm=confirm(
                "Create the fix branch?",
                "Pushes a fix/…-performance-optimization branch from HEAD (never forced); "
                "the phase branch does not move.",
                "Create",
            ),
        )
    ]


def build_fix_forward_card_view(
    incident: Incident, slack: SlackConfig, effect: str = ""
) -> Message:
    """An incident the procedure fixes forward: it stays open until someone resolves it."""
    said = f" {escape(effect)}" if effect else ""
    blocks = [
        header(incident_title(incident)),
        incident_summary(incident),
        section(
            f":wrench: *Fix forward*: the procedure needs no rollback for this.{said} Raise the "
            f"severity with `/severity &lt;1-5&gt; {incident.id}` if it gets worse; press "
            "Resolved when it is fixed, with the lesson learned."
        ),
        {
            "type": "actions",
            "block_id": BlockId.FIX_ACTIONS.value,
            "elements": [_resolve_button(incident)],
        },
        context(
            f"{mention_orchestrators(slack.orchestrators)} for your information. "
            f"{card_foot(incident, None)}"
        ),
    ]
    return message(f"{incident_title(incident)}: fix forward", blocks)


def build_fixed_forward_view(incident: Incident, *, by: str) -> Message:
    """A resolved incident: fixed forward, by whom, and the lesson for the post-mortem."""
    lesson = escape(incident.lesson) if incident.lesson else "_no note_"
    blocks = [
        header(f"Incident #{incident.id}: fixed forward"),
        incident_summary(incident),
        section(
            f":white_check_mark: *Resolved: fixed forward* by {mention(by)}.\n*Lesson*: {lesson}"
        ),
        context(card_foot(incident, None)),
    ]
    return message(f"Incident #{incident.id}: fixed forward", blocks)


def build_fixed_forward_modal_view(incident: Incident) -> dict[str, Any]:
    """The modal that asks for the one-line note that goes to the lessons learned."""
    return {
        "type": "modal",
        "callback_id": ViewId.FIXED_FORWARD.value,
        "private_metadata": str(incident.id),
        "title": {"type": "plain_text", "text": "Fixed forward"},
        "submit": {"type": "plain_text", "text": "Resolve"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Incident #{incident.id}: {escape(incident.trigger or '')}"[:3000],
                },
            },
            {
                "type": "input",
                "block_id": BlockId.FIX_NOTE.value,
                "label": {"type": "plain_text", "text": "What fixed it (for the lessons learned)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": InputId.FIX_NOTE.value,
                    "max_length": NOTE_LIMIT,
                    "placeholder": {"type": "plain_text", "text": "One line"},
                },
            },
        ],
    }
