"""Block Kit for the watch: its switch, and a red commit on the remote nobody has pulled yet."""

from __future__ import annotations

from bot.config import Config
from bot.flows.watch_remote import RemoteLook
from bot.views.blocks import Message, escape, message, section
from bot.views.incident import short


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


def build_remote_red_view(look: RemoteLook, *, remote: str, branch: str) -> Message:
    failing = ", ".join(f"“{escape(name)}”" for name in look.failing) or "the checklist"
    subject = f" ({escape(look.subject)})" if look.subject else ""
    text = (
        f":red_circle: *`{escape(remote)}/{escape(branch)}` is at {short(look.head)}{subject}, "
        f"and it fails on a scratch service*: {failing}.\n"
        "The working copy does not have it yet: don't pull it until it is fixed or reverted "
        "on the remote. Nothing was changed here."
    )
    return message(
        f"{remote}/{branch} is at {(look.head or '')[:7]}, which fails the checklist",
        [section(text)],
    )
