"""``/rollback help``: every command of the grammar, with a line on what it does."""

from __future__ import annotations

from bot.grammar import CHECKPOINT_USAGE, ROLLBACK_USAGE, SEVERITY_USAGE
from bot.ids import BlockId
from bot.views.blocks import Message, context, escape, header, message, section

_HELP_LINES = {
    "help": "this help",
    "scenario": "report a problem by scenario; the policy decides fix-forward or rollback",
    "blocker": "report a blocker: the orchestrator rates it with buttons",
    "to": "ask for a rollback to an explicit target",
    "status": "branch, remote, freeze, last checkpoints, open incidents",
    "validate": "run the validation checklist now",
    "log": "last N ROLLBACK_LOG entries",
    "drill": "practice a rollback in an isolated clone",
    "remove": "high-risk removal, one file at a time, test after each",
    "retry": "the Before Retry checklist and the approval that lifts the freeze",
    "close": "close a rolled-back incident once its post-mortem is filled in (orchestrators)",
    "postmortem": "the incident's Markdown post-mortem, as a file in its thread",
    "watch": "turn the watch for bad commits on or off (orchestrators)",
    "bisect": "name the first bad commit among those a rollback removed",
    "cherry-pick": "bring good commits back from an incident's backup branch",
}


def build_help_view() -> Message:
    lines = [f"`{escape(ROLLBACK_USAGE[verb])}`\n{_HELP_LINES[verb]}" for verb in ROLLBACK_USAGE]
    checkpoint = "\n".join(f"`{escape(form)}`" for form in CHECKPOINT_USAGE)
    severity = "\n".join(f"`{escape(form)}`" for form in SEVERITY_USAGE)
    return message(
        "rollback-bot commands: " + ", ".join(ROLLBACK_USAGE.values()),
        [
            header("rollback-bot"),
            section("\n".join(lines), BlockId.HELP_COMMANDS),
            section(f"*Checkpoints*\n{checkpoint}"),
            section(f"*Severity*\n{severity}"),
            context(
                "Severity: 1-5 or low, medium, high, critical. "
                "Incidents are numbers such as 12 or #12."
            ),
        ],
    )
