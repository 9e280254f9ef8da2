"""Block Kit for the watch's switch."""

from __future__ import annotations

from bot.config import Config
from bot.views.blocks import Message, message, section


def build_watch_switched_view(on: bool, config: Config) -> Message:
    watch = config.watch
    if on:
        text = (
            f":eyes: The watch is *on*: HEAD is checked every {watch.interval_s:g} s, and "
            f"{watch.failures_before_incident} red runs in a row open an incident with a plan "
            "back to the last green commit (approved as any rollback)."
        )
    else:
        text = ":no_entry_sign: The watch is *off*: only the 30-minute validation runs."
    return message(f"The watch is {'on' if on else 'off'}", [section(text)])
