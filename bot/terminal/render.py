"""Block Kit rendered as plain text, for the terminal console and the terminal commands.

Pure: a message dict in, lines and numbered buttons out. It renders what the bot uses (header,
section with text and fields, context, divider, actions with buttons, image as its alt text)
and shows anything else as ``[unsupported block: type]`` rather than hiding it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_LINK_RE = re.compile(r"<(?P<target>[^|>]+)(?:\|(?P<label>[^>]+))?>")
_BOLD_RE = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_CODE_RE = re.compile(r"`([^`\n]+)`")
# The emoji the bot uses, as a terminal shows them best; others stay as :codes:.
_EMOJI = {
    ":white_check_mark:": "[ok]",
    ":x:": "[FAIL]",
    ":warning:": "[!]",
    ":hourglass:": "[..]",
    ":hourglass_flowing_sand:": "[..]",
    ":large_green_circle:": "(*)",
    ":red_circle:": "(X)",
    ":tada:": "(*)",
    ":label:": "#",
    ":arrow_up:": "^",
    ":no_entry:": "[NO]",
    ":alarm_clock:": "(!)",
    ":rewind:": "<<",
    ":white_small_square:": "[ ]",
    ":octagonal_sign:": "[STOP]",
    ":no_entry_sign:": "[NO]",
    ":arrows_counterclockwise:": "(~)",
    ":information_source:": "(i)",
    ":stopwatch:": "(!)",
    ":wrench:": "*",
    ":cherries:": "*",
    ":rotating_light:": "(!!)",
    ":floppy_disk:": "[db]",
}
_EMOJI_RE = re.compile("|".join(re.escape(code) for code in _EMOJI))


@dataclass(frozen=True)
class ButtonRef:
    """A button shown on screen; ``number`` is what the person types to press it."""

    number: int
    block_id: str
    element: dict[str, Any]

    @property
    def label(self) -> str:
        return str(self.element.get("text", {}).get("text", "?"))


def mrkdwn_to_text(text: str) -> str:
    """Slack mrkdwn to readable terminal text: mentions and links become their labels."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group("target"), match.group("label")
        if target.startswith(("@", "#")):
            return label or target
        if target.startswith("!"):
            return "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label else target

    text = _LINK_RE.sub(link, text)
    text = _BOLD_RE.sub(r"\1", _CODE_RE.sub(r"\1", text.replace("```", "")))
    text = _EMOJI_RE.sub(lambda match: _EMOJI[match.group(0)], text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_of(obj: Mapping[str, Any] | None) -> str:
    if not obj:
        return ""
    raw = str(obj.get("text", ""))
    return mrkdwn_to_text(raw) if obj.get("type") == "mrkdwn" else raw


def render_message(
    message: Mapping[str, Any], *, first_button: int = 1
) -> tuple[list[str], list[ButtonRef]]:
    """Lines for one message, and its buttons numbered from ``first_button``."""
    blocks: Sequence[Mapping[str, Any]] = message.get("blocks") or []
    if not blocks:
        return mrkdwn_to_text(str(message.get("text", ""))).splitlines() or [""], []
    lines: list[str] = []
    buttons: list[ButtonRef] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text_of(block.get("text"))
            lines += [title.upper(), "=" * min(len(title), 60)]
        elif kind == "section":
            if block.get("text"):
                lines += _text_of(block["text"]).splitlines()
            for field in block.get("fields") or []:
                lines.append("  " + _text_of(field))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                buttons.append(_button(block, accessory, first_button + len(buttons)))
                lines.append(f"  [{buttons[-1].number}] {buttons[-1].label}")
        elif kind == "context":
            parts = [
                _text_of(element) or str(element.get("alt_text", ""))
                for element in block.get("elements", [])
            ]
            lines.append("  (" + " · ".join(p for p in parts if p) + ")")
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "actions":
            row = []
            for element in block.get("elements", []):
                if element.get("type") != "button":
                    row.append(f"[unsupported element: {element.get('type')}]")
                    continue
                buttons.append(_button(block, element, first_button + len(buttons)))
                row.append(f"[{buttons[-1].number}] {buttons[-1].label}")
            lines.append("  " + "   ".join(row))
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        else:
            lines.append(f"[unsupported block: {kind}]")
    return lines, buttons


def _button(block: Mapping[str, Any], element: Mapping[str, Any], number: int) -> ButtonRef:
    return ButtonRef(number=number, block_id=str(block.get("block_id", "")), element=dict(element))
