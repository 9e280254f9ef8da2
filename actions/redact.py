"""Scrubbing of secrets from any text headed for a log, a message or the store.

Defence in depth: secrets are kept out of those places by design (they live in
:class:`bot.settings.Secret` and are never formatted), and this catches what slips through,
such as a database URL echoed by a failing command.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "[redacted]"
#: A part of a secret shorter than this is not redacted on its own: replacing every "ab" in a
#: message would make it unreadable, and such a password is a problem of its own.
MIN_PART_LENGTH = 4

_PATTERNS = (
    # Slack bot, user, app-level and config tokens.
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    # The password part of any URL with credentials (postgres://user:secret@host/db).
    re.compile(r"(?<=://)([^/\s:@]+):([^@\s/]+)@"),
    # A password given as a keyword (libpq's "host=db password=secret", PGPASSWORD=secret).
    re.compile(r"(?i)\b(pg)?(password|passwd|pwd)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)"),
)


def redact(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """Replace known secrets and anything shaped like a token or URL password."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(REDACTED, text)
    text = _PATTERNS[2].sub(lambda match: f"{match.group(1)}:{REDACTED}@", text)
    return _PATTERNS[3].sub(
        lambda match: f"{match.group(1) or ''}{match.group(2)}{match.group(3)}{REDACTED}", text
    )


def secret_parts(url: str) -> tuple[str, ...]:
    """The pieces of a connection string that are secret on their own: the password (as typed
    and percent-decoded) and the user:password pair, so a command that prints only them is
    redacted too. Works for URLs and for libpq's keyword form."""
    parts: list[str] = []
    if "://" in url:
        split = urlsplit(url)
        raw_userinfo = split.netloc.rpartition("@")[0]
        if ":" in raw_userinfo:
            parts += [raw_userinfo, raw_userinfo.partition(":")[2]]
        if split.password:
            parts.append(unquote(split.password))
        parts += [v for k, v in parse_qsl(split.query) if k.lower() in ("password", "pwd")]
    else:
        parts += [m.group(4).strip("'\"") for m in _PATTERNS[3].finditer(url)]
    unique = dict.fromkeys(part for part in parts if len(part) >= MIN_PART_LENGTH)
    return tuple(unique)
