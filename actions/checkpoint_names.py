"""Names, labels and messages of checkpoints, built the way the procedure writes them by hand.

Everything that ends up in git comes from here: the tag name is assembled from the configured
phase and a number, never from chat, and passes :func:`actions.refs.require_ref_name`; the text
a person typed only ever becomes part of a message, after :func:`check_message` has made sure it
is one printable line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from actions.errors import InputError, RefNameError
from actions.plain_text import LINE_BREAKS, has_hidden_characters
from actions.refs import require_ref_name

Kind = Literal["checkpoint", "complete", "before"]

MAX_MESSAGE_LENGTH = 200
MAX_HOURS = 9999
# Config already restricts phases this way; checked again because the phase becomes a tag name.
_PHASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_PHASE_NUMBER_RE = re.compile(r"^([A-Za-z]+)(\d+)$")


@dataclass(frozen=True)
class CheckpointNames:
    tag: str
    tag_message: str
    commit_message: str
    label: str


def phase_title(phase: str) -> str:
    """'phase2' -> 'Phase 2'; anything else just gets a capital first letter."""
    match = _PHASE_NUMBER_RE.match(phase)
    if match:
        return f"{match.group(1).capitalize()} {match.group(2)}"
    return phase[:1].upper() + phase[1:]


def hours_since(started_at: datetime, now: datetime) -> int:
    """Whole hours from the phase start, floored, and at least 1 (there is no T+0h checkpoint)."""
    elapsed = _as_utc(now) - _as_utc(started_at)
    return max(1, int(elapsed.total_seconds() // 3600))


def check_message(message: str, *, what: str = "message", limit: int = MAX_MESSAGE_LENGTH) -> str:
    """The message without surrounding blanks, or InputError when it cannot go into git as is."""
    text = message.strip()
    if "\n" in text or "\r" in text or any(char in LINE_BREAKS for char in text):
        raise InputError(f"The checkpoint {what} must be a single line. Nothing was changed.")
    if has_hidden_characters(text):
        raise InputError(
            f"The checkpoint {what} contains control characters; use plain text. "
            "Nothing was changed."
        )
    if len(text) > limit:
        raise InputError(
            f"The checkpoint {what} is {len(text)} characters long; at most "
            f"{limit} are allowed. Nothing was changed."
        )
    return text


def checkpoint_names(
    *,
    phase: str,
    kind: Kind,
    hours: int | None,
    message: str,
    started_at: datetime,
    now: datetime,
) -> CheckpointNames:
    """Tag, tag message, commit message and label for one checkpoint.

    ``hours`` None means T+N is counted from ``started_at``; "before" checkpoints ignore it and
    are named after ``now`` in UTC, with ``message`` as the change they come before.
    """
    _check_phase(phase)
    title = phase_title(phase)
    if kind == "before":
        change = check_message(message, what="change description")
        if not change:
            raise InputError("Say what change this checkpoint comes before. Nothing was changed.")
        label = _as_utc(now).strftime("%Y%m%d-%H%M%S")
        names = CheckpointNames(
            tag=f"checkpoint-{label}",
            tag_message="Pre-change checkpoint",
            commit_message=f"stabilize({phase}): checkpoint before {change}",
            label=label,
        )
    elif kind in ("checkpoint", "complete"):
        text = check_message(message)
        count = hours_since(started_at, now) if hours is None else _check_hours(hours)
        label = f"T+{count}h"
        if kind == "checkpoint":
            unit = "hour" if count == 1 else "hours"
            names = CheckpointNames(
                tag=f"{phase}-checkpoint-{label}",
                tag_message=f"{title} Checkpoint: {count} {unit}",
                commit_message=f"stabilize({phase}): {label} checkpoint"
                + (f" - {text}" if text else ""),
                label=label,
            )
        else:
            names = CheckpointNames(
                tag=f"{phase}-complete-{label}",
                tag_message=f"{title} Complete" + (f": {text}" if text else ""),
                commit_message=f"stabilize({phase}): {label} - {text or f'{title} complete'}",
                label=label,
            )
    else:
        raise InputError(f"Unknown checkpoint kind {kind!r}: use checkpoint, complete or before.")
    require_ref_name(names.tag, what="checkpoint tag name")
    return names


def _check_phase(phase: str) -> None:
    if not _PHASE_RE.match(phase):
        shown = phase[:40] if phase.isprintable() else repr(phase[:40])
        raise RefNameError(
            f"The phase {shown!r} cannot be part of a tag name: use letters, digits, '.', '_' "
            "or '-', starting with a letter or digit. Nothing was changed."
        )


def _check_hours(hours: int) -> int:
    if not 1 <= hours <= MAX_HOURS:
        raise InputError(
            f"T+{hours}h is not a checkpoint label: hours count from 1 to {MAX_HOURS}. "
            "Nothing was changed."
        )
    return hours


def _as_utc(moment: datetime) -> datetime:
    # A naive time is taken to be UTC, the zone the config stores the phase start in.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
