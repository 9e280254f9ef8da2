"""Lists of people in the config: Slack user IDs or user group IDs."""

from __future__ import annotations

import re

from actions.errors import ConfigError
from bot.config.section import Section

# User IDs start with U or W (enterprise); user group IDs with S.
_PRINCIPAL_RE = re.compile(r"^[UWS][A-Z0-9]{2,}$")


def principals(section: Section, key: str, *, required: bool) -> tuple[str, ...]:
    found = section.text_list(
        key, 'a list of user or user group IDs such as ["U0ORCH"]', required=required
    )
    bad = [item for item in found if not _PRINCIPAL_RE.match(item)]
    if (required and not found) or bad:
        raise ConfigError(
            f"{section.key(key)}: expected user IDs (U…/W…) or user group IDs (S…), "
            f"got {bad[0] if bad else 'an empty list'!r}"
        )
    return found
