"""Block Kit for pages: who is paged for what, with Acknowledge."""

from __future__ import annotations

from bot.flows.escalation import Page
from bot.ids import ActionId, BlockId
from bot.views.blocks import Message, button, context, mention_orchestrators, message, section
from store import Incident

_LEVELS = {1: "orchestrators", 2: "fallback"}


def build_page_view(incident: Incident, page: Page, *, card_link: str = "") -> Message:
    """A page: the people of this level, what is needed, and an Acknowledge button."""
    who = mention_orchestrators(page.people)
    where = f" (<{card_link}|the card>)" if card_link else " (the card is in the channel)"
    text = (
        f":rotating_light: {who}: incident #{incident.id} needs you to *{page.why}*{where}. "
        f"Page {page.step + 1} of {page.steps}, level {page.level} "
        f"({_LEVELS.get(page.level, 'level')})."
    )
    if page.last:
        text += " This is the last page."
    acknowledge = button(
        "Acknowledge", ActionId.PAGE_ACKNOWLEDGE, {"incident": incident.id}, style="primary"
    )
    blocks = [
        section(text),
        {"type": "actions", "block_id": BlockId.PAGE_ACTIONS.value, "elements": [acknowledge]},
        context("Acknowledge stops the pages for a while; it decides nothing."),
    ]
    return message(f"Incident #{incident.id} needs you to {page.why}", blocks)
