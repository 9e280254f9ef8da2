"""Security: roll back, then close the hole. A rollback does not un-leak a key.

The incident card says so before approval; once the rollback is done, its card keeps a tick
for "credentials rotated", recorded with who ticked it, until someone does.
"""

from __future__ import annotations

from typing import Any

from bot.ids import ActionId, BlockId
from bot.views.blocks import button, context, mention, section
from store import Incident

_EXPOSED = "the exposed credentials (tokens, passwords, keys that were in the code or the logs)"
ROTATE = f":key: *Security*: a rollback does not un-leak a key. Rotate {_EXPOSED}, then tick it."
#: On the card before approval: the rollback comes first, the rotation right after it.
ROTATE_AFTER = (
    f":key: *Security*: a rollback does not un-leak a key. Once it is done, rotate {_EXPOSED}."
)


def build_rotation_blocks(incident: Incident, rotated_by: str | None) -> list[dict[str, Any]]:
    """The rotation reminder and its tick, or who ticked it; nothing for other scenarios."""
    if incident.scenario != "security":
        return []
    if rotated_by is not None:
        ticked = f":ballot_box_with_check: *Credentials rotated*, ticked by {mention(rotated_by)}."
        return [section(ticked)]
    tick = button(
        "☐ Credentials rotated",
        ActionId.CREDENTIALS_ROTATED,
        {"incident": incident.id},
        style="primary",
    )
    return [
        section(ROTATE),
        {"type": "actions", "block_id": BlockId.SECURITY_ACTIONS.value, "elements": [tick]},
        context("Tick it once every exposed credential is rotated; the timeline keeps who did."),
    ]
