"""Refusals and failures as the person who asked sees them: what was wrong, and what is valid."""

from __future__ import annotations

from collections.abc import Sequence

from bot.ids import BlockId
from bot.views.blocks import Message, escape, message, said_once, section


def build_error_view(said: str, valid_forms: Sequence[str] = ()) -> Message:
    """``said`` is plain text: a person's input quoted in it cannot mention anyone."""
    said = said_once(said)
    blocks = [section(f":warning: {escape(said)}", BlockId.ERROR)]
    text = said
    if valid_forms:
        forms = "\n".join(escape(form) for form in valid_forms)
        blocks.append(section(f"Valid forms:\n```{forms}```", BlockId.ERROR_FORMS))
        text = f"{said} Valid forms: {'; '.join(valid_forms)}"
    return message(text, blocks)


def build_not_available_view(command: str) -> Message:
    """For a request the grammar accepts whose flow has not shipped yet: say so plainly."""
    return build_error_view(
        f"`{command}` is understood, but this version of rollback-bot cannot run it yet. "
        "Nothing was changed."
    )
