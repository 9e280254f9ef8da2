"""Block Kit for the "Before Retry" checklist: four checkboxes and the approval that lifts the
freeze. Ticking is anyone's; the approval is an orchestrator's other than whoever asked."""

from __future__ import annotations

import re
from typing import Any

from bot.flows.retry import ITEMS, RetryChecklist
from bot.ids import ActionId, BlockId
from bot.views.blocks import (
    Message,
    button,
    confirm,
    context,
    header,
    mention,
    mention_orchestrators,
    message,
    section,
)


def retry_block_id(retry_id: int) -> str:
    # The checkbox action carries no value of its own: the checklist travels in its block id.
    return f"{BlockId.RETRY_ITEMS.value}-{retry_id}"


def _option(key: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "mrkdwn", "text": text}, "value": key}


def build_retry_view(checklist: RetryChecklist, *, orchestrators: tuple[str, ...]) -> Message:
    retry, incident = checklist.retry, checklist.incident
    title = f"Before retry: incident #{incident.id}"
    asked = f"Asked for by {mention(retry.requested_by)} (rollback of incident #{incident.id})."
    if retry.approved_by is not None:
        done = "\n".join(f":white_check_mark: {item.text}" for item in ITEMS)
        return message(
            f"{title}: approved, the freeze is lifted",
            [
                header(title),
                section(
                    f"{done}\n:unlock: *Approved by {mention(retry.approved_by)}*: the "
                    "freeze is lifted and the phase may go on."
                ),
                context(asked),
            ],
        )
    options = [_option(item.key, item.text) for item in ITEMS]
    checkboxes: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": ActionId.RETRY_TICK.value,
        "options": options,
    }
    ticked = [option for option in options if option["value"] in retry.ticked]
    if ticked:
        checkboxes["initial_options"] = ticked
    approve = button(
        "Approve retry",
        ActionId.RETRY_APPROVE,
        {"retry": retry.id},
        style="primary",
        confirm=confirm(
            "Approve the retry?",
            "Every box is ticked and you are not the one who asked: this lifts the freeze.",
            "Approve",
        ),
    )
    left = len(ITEMS) - len(retry.ticked)
    status = "every box is ticked" if left == 0 else f"{left} of {len(ITEMS)} boxes still open"
    return message(
        f"{title}: {status}",
        [
            header(title),
            section(
                ":ice_cube: The phase is frozen by this rollback. Tick each item as it is done; "
                "then an orchestrator approves the retry."
            ),
            {"type": "actions", "block_id": retry_block_id(retry.id), "elements": [checkboxes]},
            {"type": "actions", "block_id": BlockId.RETRY_ACTIONS.value, "elements": [approve]},
            context(
                f"{asked} Approval: an orchestrator other than them "
                f"({mention_orchestrators(orchestrators)}), once {status.replace('every', 'all')}."
            ),
        ],
    )


def ticked_from(action: dict[str, Any]) -> set[str]:
    """The keys of the boxes ticked, from a checkboxes action (every ticked one, each time)."""
    chosen = action.get("selected_options") or []
    return {str(option.get("value")) for option in chosen if isinstance(option, dict)}


def shown_ticked(body: dict[str, Any], block_id: object) -> set[str]:
    """The boxes the clicker saw ticked: the checkboxes' initial options in the message."""
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    for block in (message or {}).get("blocks") or []:
        if isinstance(block, dict) and block.get("block_id") == block_id:
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("type") == "checkboxes":
                    return ticked_from({"selected_options": element.get("initial_options")})
    return set()


def retry_id_from(block_id: object) -> int | None:
    prefix = f"{BlockId.RETRY_ITEMS.value}-"
    text = str(block_id or "")
    number = text.removeprefix(prefix)
    ours = text.startswith(prefix) and re.fullmatch(r"[0-9]{1,9}", number) is not None
    return int(number) if ours else None


def build_retry_posted_view(checklist: RetryChecklist) -> Message:
    channel = checklist.incident.channel
    return message(
        "The Before Retry checklist is posted",
        [
            section(
                f"The Before Retry checklist of incident #{checklist.incident.id} is in "
                f"<#{channel}>. Tick each item there; another orchestrator approves it."
            )
        ],
    )
