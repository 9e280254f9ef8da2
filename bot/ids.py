"""Every Slack identifier the bot owns, in one place: slash commands, action IDs, block IDs.

Listeners are registered from these enums and views are built from them, so a rename cannot
leave a button without a handler. ``manifest.yml`` is checked against :class:`SlashCommand`.
"""

from __future__ import annotations

from enum import StrEnum


class SlashCommand(StrEnum):
    ROLLBACK = "/rollback"
    CHECKPOINT = "/checkpoint"
    SEVERITY = "/severity"


class ActionId(StrEnum):
    CHECKPOINT_CREATE = "checkpoint_create"
    CHECKPOINT_FORCE = "checkpoint_force"


class BlockId(StrEnum):
    HELP_COMMANDS = "help_commands"
    STATUS_REPO = "status_repo"
    STATUS_CHECKPOINTS = "status_checkpoints"
    STATUS_INCIDENTS = "status_incidents"
    STATUS_WARNINGS = "status_warnings"
    CHECKPOINT_ACTIONS = "checkpoint_actions"
    ERROR = "error"
    ERROR_FORMS = "error_forms"
