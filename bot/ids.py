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
    DATABASE_RESTORE = "database_restore"
    CREDENTIALS_ROTATED = "credentials_rotated"
    INCIDENT_JOIN = "incident_join"
    FIX_BRANCH = "fix_branch"
    INCIDENT_NEW = "incident_new"
    # A blocker's four ratings: Slack wants a distinct action id per button in a block.
    BLOCKER_RATE_CRITICAL = "blocker_rate_critical"
    BLOCKER_RATE_HIGH = "blocker_rate_high"
    BLOCKER_RATE_MEDIUM = "blocker_rate_medium"
    BLOCKER_RATE_LOW = "blocker_rate_low"
    PAGE_ACKNOWLEDGE = "page_acknowledge"
    FIX_RESOLVED = "fix_resolved"
    FIX_EXTEND = "fix_extend"
    POSTMORTEM_FILL = "postmortem_fill"
    POSTMORTEM_NOTIFY = "postmortem_notify"
    POSTMORTEM_CLOSE = "postmortem_close"
    RETRY_TICK = "retry_tick"
    RETRY_APPROVE = "retry_approve"


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
    DATABASE_RESULT = "database_result"
    SECURITY_ACTIONS = "security_actions"
    JOIN_ACTIONS = "join_actions"
    ERROR = "error"
    ERROR_FORMS = "error_forms"
    BLOCKER_RATING = "blocker_rating"
    PAGE_ACTIONS = "page_actions"
    FIX_ACTIONS = "fix_actions"
    FIX_NOTE = "fix_note"
    POSTMORTEM_ENTRY = "postmortem_entry"
    POSTMORTEM_FIELDS = "postmortem_fields"
    POSTMORTEM_ACTIONS = "postmortem_actions"
    RETRY_ITEMS = "retry_items"
    RETRY_ACTIONS = "retry_actions"
    REMOVAL_FILES = "removal_files"


class ViewId(StrEnum):
    """Modal callback ids: the submission names the modal it came from."""

    FIXED_FORWARD = "fixed_forward"
    POSTMORTEM = "postmortem"


class InputId(StrEnum):
    """Action ids of the inputs inside modals."""

    FIX_NOTE = "fix_note_text"
    # Every post-mortem field's input; its block id is the field's own (postmortem_<key>).
    POSTMORTEM_FIELD = "postmortem_field_text"
