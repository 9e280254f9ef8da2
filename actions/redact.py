"""Scrubbing of secrets from any text headed for a log, a message or the store.

Defence in depth: secrets are kept out of those places by design (they live in
:class:`bot.settings.Secret` and are never formatted), and this catches what slips through,
such as a database URL echoed by a failing command.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_PATTERNS = (
    # Slack bot, user, app-level and config tokens.
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    # The password part of any URL with credentials (postgres://user:secret@host/db).
    re.compile(r"(?<=://)([^/\s:@]+):([^@\s/]+)@"),
)


def redact(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """Replace known secrets and anything shaped like a token or URL password."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(REDACTED, text)
    return _PATTERNS[2].sub(lambda match: f"{match.group(1)}:{REDACTED}@", text)
