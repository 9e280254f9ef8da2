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
    ROLLBACK_APPROVE = "rollback_approve"
    # Approve past a warning (not a checkpoint, not an ancestor, migrations crossed): its own
    # button with its own confirm dialog, so the plain Approve can never waive anything.
    ROLLBACK_APPROVE_ANYWAY = "rollback_approve_anyway"
    ROLLBACK_REJECT = "rollback_reject"
    ROLLBACK_RESUME = "rollback_resume"
    ROLLBACK_ABORT = "rollback_abort"


class BlockId(StrEnum):
    HELP_COMMANDS = "help_commands"
    STATUS_REPO = "status_repo"
    STATUS_CHECKPOINTS = "status_checkpoints"
    STATUS_INCIDENTS = "status_incidents"
    STATUS_WARNINGS = "status_warnings"
    CHECKPOINT_ACTIONS = "checkpoint_actions"
    INCIDENT_SUMMARY = "incident_summary"
    INCIDENT_PLAN = "incident_plan"
    INCIDENT_ACTIONS = "incident_actions"
    ROLLBACK_STEPS = "rollback_steps"
    ROLLBACK_RESULT = "rollback_result"
    ROLLBACK_RESTORE = "rollback_restore"
    ERROR = "error"
    ERROR_FORMS = "error_forms"
