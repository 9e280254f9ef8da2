"""``[watch]``: how often the watch looks for a new HEAD, and how many red runs open an incident."""

from __future__ import annotations

from actions.errors import ConfigError
from bot.config.model import WatchConfig
from bot.config.section import Section, seconds


def parse_watch(top: Section) -> WatchConfig:
    if not top.has("watch"):
        return WatchConfig()
    section = top.table("watch")
    interval = seconds(section, "interval_s", 60.0)
    failures = section.optional_int("failures_before_incident", "a whole number of red runs")
    if failures is not None and not 1 <= failures <= 20:
        raise ConfigError(
            f"{section.key('failures_before_incident')}: expected 1 to 20 runs, got {failures}"
        )
    enabled = section.boolean("enabled", True)
    section.finish()
    return WatchConfig(interval_s=interval, failures_before_incident=failures or 2, enabled=enabled)
