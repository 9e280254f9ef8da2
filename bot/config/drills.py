"""``[drills]``: how long a passing drill counts, and how to serve a clone for its checklist."""

from __future__ import annotations

import shlex

from actions.errors import ConfigError
from bot.config.model import DrillsConfig
from bot.config.section import Section


def parse_drills(top: Section) -> DrillsConfig:
    if not top.has("drills"):
        return DrillsConfig()
    section = top.table("drills")
    days = section.number("fresh_for_days", 7.0, "a number of days (fractions allowed)")
    if not 0 < days <= 365:
        raise ConfigError(f"{section.key('fresh_for_days')}: expected 0 to 365 days, got {days:g}")
    command = section.optional_text("scratch_command", "a command with {port} in it")
    if command is not None:
        try:
            words = shlex.split(command)
        except ValueError as error:
            raise ConfigError(
                f"{section.key('scratch_command')}: cannot be split: {error}"
            ) from None
        if not any("{port}" in word for word in words):
            raise ConfigError(
                f"{section.key('scratch_command')}: expected {{port}} where the scratch service "
                "listens, e.g. node server.js --port {port}"
            )
    section.finish()
    return DrillsConfig(fresh_for_days=days, scratch_command=command)
