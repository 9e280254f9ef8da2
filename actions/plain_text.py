"""Text a person typed that goes into git, the store or a card: is it plain, printable text?

Control characters (NUL, BEL, escape sequences) and the invisible bidi overrides and isolates
can make a message read differently in Slack than in ``git log`` or a terminal, so they are
refused rather than stored.
"""

from __future__ import annotations

import unicodedata

#: Line breaks that are not control characters.
LINE_BREAKS = frozenset("\u2028\u2029")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_hidden_characters(text: str, *, allowed: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` holds a control character or a bidi override not in ``allowed``."""
    return any(
        char not in allowed and (unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS)
        for char in text
    )
