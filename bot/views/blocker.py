"""Block Kit for blockers: the card that waits for a rating, and the rating buttons."""

from __future__ import annotations

from typing import Any

from bot.config import SlackConfig
from bot.flows.blocker import RATINGS
from bot.ids import ActionId, BlockId
from bot.views.blocks import (
    Message,
    button,
    context,
    escape,
    header,
    mention,
    mention_orchestrators,
    message,
    section,
)
from bot.views.incident import card_foot, incident_title
from store import Incident

_RATING_BUTTONS = (
    ("Critical", "critical", ActionId.BLOCKER_RATE_CRITICAL, "danger"),
    ("High", "high", ActionId.BLOCKER_RATE_HIGH, None),
    ("Medium", "medium", ActionId.BLOCKER_RATE_MEDIUM, None),
    ("Low", "low", ActionId.BLOCKER_RATE_LOW, None),
)
#: What each rating does, as the procedure's escalation path says it.
_MEANS = (
    "*Critical*: roll back now · *High*: a fix window, then the rollback · "
    "*Medium* / *Low*: continue with the fix"
)


def rating_of(action_id: str) -> str:
    """The rating a button stands for, from its action id."""
    return next((rating for _, rating, action, _ in _RATING_BUTTONS if action == action_id), "")


def _rating_buttons(incident: Incident) -> dict[str, Any]:
    assert set(RATINGS) == {rating for _, rating, _, _ in _RATING_BUTTONS}
    elements = []
    for text, rating, action, style in _RATING_BUTTONS:
        extra = {"style": style} if style else {}
        elements.append(button(text, action, {"incident": incident.id, "rating": rating}, **extra))
    return {"type": "actions", "block_id": BlockId.BLOCKER_RATING.value, "elements": elements}


def build_blocker_card_view(incident: Incident, slack: SlackConfig) -> Message:
    """The blocker in the incident channel, waiting for an orchestrator's rating."""
    who = mention_orchestrators(slack.orchestrators)
    blocks = [
        header(incident_title(incident)),
        section(
            f"*Blocker*: {escape(incident.trigger)}\n*Reported by* {mention(incident.requester)}",
            BlockId.INCIDENT_SUMMARY,
        ),
        section(
            f":rotating_light: *Waiting for a rating.* {who}: rate it with the buttons "
            f"(sent to you directly too).\n{_MEANS}"
        ),
        _rating_buttons(incident),
        context(f"Only an orchestrator's rating counts. {card_foot(incident, None)}"),
    ]
    return message(f"{incident_title(incident)}: waiting for a rating", blocks)


def build_rating_request_view(incident: Incident) -> Message:
    """The direct message each orchestrator gets: the blocker and the four ratings."""
    blocks = [
        section(
            f":rotating_light: *Blocker #{incident.id}* from {mention(incident.requester)}: "
            f"{escape(incident.trigger)}\nHow bad is it? {_MEANS}"
        ),
        _rating_buttons(incident),
    ]
    return message(f"Blocker #{incident.id} needs your rating", blocks)


def build_rating_done_view(incident: Incident, effect: str) -> Message:
    """A rating request once someone has rated: no buttons left to press."""
    by = mention(incident.rated_by) if incident.rated_by else "someone"
    level = incident.decision.get("level") or incident.severity
    text = (
        f":white_check_mark: *Blocker #{incident.id}* ({escape(incident.trigger)}) was rated "
        f"*{escape(str(level))}* by {by}. {escape(effect)}"
    )
    return message(f"Blocker #{incident.id} rated {level}", [section(text)])
