"""``[postmortem]``: where ROLLBACK_LOG.md goes, who hears the stakeholder notice, reminders."""

from __future__ import annotations

import re
from pathlib import Path

from actions.errors import ConfigError
from bot.config.model import PostmortemConfig
from bot.config.section import Section

_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")
#: A reminder later than a month after the rollback reminds nobody of anything.
MAX_REMIND_H = 24 * 31


def parse_postmortem(top: Section) -> PostmortemConfig:
    if not top.has("postmortem"):
        return PostmortemConfig()
    section = top.table("postmortem")
    log_path = section.optional_text("log_path", "a file inside git.path") or "ROLLBACK_LOG.md"
    parts = Path(log_path).parts
    if log_path.startswith("/") or ".." in parts or not parts or parts[0] == ".git":
        raise ConfigError(f"{section.key('log_path')}: must be a file inside git.path")
    channel = section.optional_text("stakeholder_channel", "a channel ID such as C0STAKEHOLDERS")
    if channel is not None and not _CHANNEL_RE.match(channel):
        raise ConfigError(
            f"{section.key('stakeholder_channel')}: expected a channel ID such as C0STAKEHOLDERS"
        )
    remind = _remind_after(section)
    config = PostmortemConfig(
        log_path=log_path,
        commit_log=section.boolean("commit_log", False),
        stakeholder_channel=channel,
        remind_after_h=remind,
    )
    section.finish()
    return config


def _remind_after(section: Section) -> tuple[float, ...]:
    if not section.has("remind_after_h"):
        return PostmortemConfig().remind_after_h
    values = section.number_list("remind_after_h", "hours after the rollback, such as [1, 24]")
    if not values or any(not 0 < value <= MAX_REMIND_H for value in values):
        raise ConfigError(
            f"{section.key('remind_after_h')}: expected hours from 0 to {MAX_REMIND_H} "
            "(fractions allowed), such as [1, 24]"
        )
    return tuple(sorted(set(values)))
