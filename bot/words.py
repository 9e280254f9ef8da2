"""The words of a command, as the grammar reads them: the first word and the rest, severities
and numbers typed in any script, incident numbers, and a person's word echoed back safely."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from actions.errors import InputError

SEVERITY_WORDS = ("low", "medium", "high", "critical")
_INCIDENT_RE = re.compile(r"^(?:#|inc-)?([1-9][0-9]{0,8})$", re.IGNORECASE)
# Unicode digits on purpose: a number typed in another script is still a number.
_NUMBER_RE = re.compile(r"[+\-\u2212]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+\-]?\d+)?")


def normalise_severity(word: str) -> str | None:
    """'4' -> '4', 'HIGH' -> 'high', a full-width digit five -> '5'; anything else -> None."""
    lowered = unicodedata.normalize("NFKC", word).strip().lower()
    if lowered in SEVERITY_WORDS:
        return lowered
    if len(lowered) == 1 and unicodedata.decimal(lowered, 0) in (1, 2, 3, 4, 5):
        return str(unicodedata.decimal(lowered))
    return None


def looks_like_a_number(word: str) -> bool:
    """'9', '-1', '1e3', '5.0', '+3', '٣' (in any script's digits): a number, meant or not."""
    return _NUMBER_RE.fullmatch(unicodedata.normalize("NFKC", word)) is not None


def did_you_mean(word: str, known: Iterable[str], prefix: str) -> str:
    """' Did you mean `/rollback status`?' for a near miss such as 'stauts'; '' otherwise."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" Did you mean `{prefix}{close[0]}`?" if word and close else ""


def is_incident_id(word: str) -> bool:
    return _INCIDENT_RE.match(word) is not None


def incident_id(word: str) -> int:
    match = _INCIDENT_RE.match(word)
    if not match:
        what = f"`{shown(word)}` is not an incident number" if word else "Which incident?"
        raise InputError(f"{what} (for example 12 or #12).")
    return int(match.group(1))


def split_first(text: str) -> tuple[str, str]:
    parts = text.split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def unescape_command(text: str) -> str:
    # Slack escapes exactly these three in command text; &amp; must come last.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def shown(value: str) -> str:
    """A user's word, safe to echo inside backticks (bounded, no backticks or mentions)."""
    cleaned = value.replace("`", "'").replace("<", "\u2039").replace(">", "\u203a")
    return cleaned if len(cleaned) <= 60 else cleaned[:57] + "..."
