"""Block Kit for `/severity`: what the new rating is and what it changed."""

from __future__ import annotations

from bot.flows.severity import Rerated
from bot.views.blocks import Message, context, escape, message, section
from bot.views.incident import incident_title


def build_rerated_view(rerated: Rerated) -> Message:
    incident = rerated.incident
    level = incident.decision.get("level") or ""
    old = f"{rerated.old} → " if rerated.old else ""
    picked = (
        f" This was the newest open incident here; name another with "
        f"`/severity {rerated.new} &lt;incident&gt;`."
        if rerated.picked
        else ""
    )
    text = (
        f":arrows_counterclockwise: *{escape(incident_title(incident))}*: severity "
        f"{old}{rerated.new} ({escape(str(level))}). {escape(rerated.effect)}{picked}"
    )
    return message(
        f"Incident #{incident.id}{' (the newest open one here)' if rerated.picked else ''}: "
        f"severity {old}{rerated.new}. {rerated.effect}",
        [section(text), context("The card shows the new rating; the timeline has who and why.")],
    )
