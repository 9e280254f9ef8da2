"""Refusals and failures as the person who asked sees them: what was wrong, and what is valid."""

from __future__ import annotations

from collections.abc import Sequence

from bot.ids import BlockId
from bot.views.blocks import Message, escape, section


def build_error_view(message: str, valid_forms: Sequence[str] = ()) -> Message:
    blocks = [section(f":warning: {escape(message)}", BlockId.ERROR)]
    text = message
    if valid_forms:
        forms = "\n".join(escape(form) for form in valid_forms)
        blocks.append(section(f"Valid forms:\n```{forms}```", BlockId.ERROR_FORMS))
        text = f"{message} Valid forms: {'; '.join(valid_forms)}"
    return {"text": text, "blocks": blocks}


def build_not_available_view(command: str) -> Message:
    """For a request the grammar accepts whose flow has not shipped yet: say so plainly."""
    return build_error_view(
        f"`{command}` is understood, but this version of rollback-bot cannot run it yet. "
        "Nothing was changed."
    )
