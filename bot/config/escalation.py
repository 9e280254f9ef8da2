"""``[escalation]``: who is paged after the orchestrators, how often, and how many rounds."""

from __future__ import annotations

from actions.errors import ConfigError
from bot.config.model import EscalationConfig, EscalationDelays
from bot.config.principals import principals
from bot.config.section import Section

_LEVELS = ("critical", "high", "medium", "low")


def parse_escalation(top: Section) -> EscalationConfig:
    if not top.has("escalation"):
        return EscalationConfig()
    section = top.table("escalation")
    fallback = principals(section, "fallback", required=False)
    repeat = section.optional_int("repeat", "a whole number of rounds (1 to 20)")
    if repeat is not None and not 1 <= repeat <= 20:
        raise ConfigError(f"{section.key('repeat')}: expected 1 to 20 rounds, got {repeat}")
    delays = EscalationDelays()
    if section.has("delay_min"):
        table = section.table("delay_min")
        minutes = {
            level: table.number(level, getattr(delays, level), "minutes (0 pages once)")
            for level in _LEVELS
        }
        table.finish()
        for level, value in minutes.items():
            if not 0 <= value <= 24 * 60:
                raise ConfigError(f"{table.key(level)}: expected 0 to 1440 minutes, got {value:g}")
        delays = EscalationDelays(**minutes)
    section.finish()
    return EscalationConfig(
        fallback=fallback, repeat=2 if repeat is None else repeat, delay_min=delays
    )
