"""The question a second report gets while an incident is open: Join #N, or a new incident."""

from __future__ import annotations

from bot.flows.join import JoinOrNew
from bot.ids import ActionId, BlockId
from bot.views.blocks import Message, button, context, escape, message, section
from bot.views.incident import incident_title
from store import Incident


def build_join_or_new_view(asked: JoinOrNew) -> Message:
    incident, request = asked.existing, asked.request
    said = escape(request.trigger) if request.trigger else "no description"
    value = {"request": asked.request_id, "incident": incident.id}
    state = incident.state.value.replace("_", " ")
    return message(
        f"{incident_title(incident)} is open: join it, or open a new incident?",
        [
            section(
                f"*{incident_title(incident)}* is open ({escape(state)}). Is your report "
                f"({escape(request.scenario)}: {said}) the same problem?"
            ),
            {
                "type": "actions",
                "block_id": BlockId.JOIN_ACTIONS.value,
                "elements": [
                    button(f"Join #{incident.id}", ActionId.INCIDENT_JOIN, value, style="primary"),
                    button("Open a new incident", ActionId.INCIDENT_NEW, value),
                ],
            },
            context("Joining adds your report to that incident's timeline and thread."),
        ],
    )


def build_joined_note_view(incident: Incident, reporter: str, trigger: str) -> Message:
    """Said in the incident's thread, so the channel sees the second report."""
    said = escape(trigger) if trigger else "the same problem"
    return message(
        f"Another report for incident #{incident.id}",
        [section(f"<@{reporter}> reports the same problem: {said}")],
    )
