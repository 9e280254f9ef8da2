"""Records the store hands out: frozen, so nothing outside the store mutates state by accident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TimelineAction(StrEnum):
    """Every kind of entry the timeline holds: what happened, whoever did it.

    The audit of a request (its command, button or modal) comes first; the flows add what the
    request led to. Values are what the store keeps, so existing names never change.
    """

    # The audit of every request a person makes, recorded once after the delivery claim.
    SLASH_COMMAND = "slash_command"
    BUTTON = "button"
    MODAL_SUBMIT = "modal_submit"
    # A click refused before its flow ran: the clicker may not use that button.
    PERMISSION_REFUSED = "permission_refused"
    # A card or an outcome Slack would not take in its channel, and who was told instead.
    DELIVERY_FAILED = "delivery_failed"
    STATUS = "status"
    VALIDATION = "validation"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_REFUSED = "checkpoint_refused"
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_JOINED = "incident_joined"  # a second report of the same problem, added to it
    ROLLBACK_PLANNED = "rollback_planned"
    CHERRY_PICK_PLANNED = "cherry_pick_planned"
    APPROVAL_REFUSED = "approval_refused"
    ROLLBACK_APPROVED = "rollback_approved"
    CHERRY_PICK_APPROVED = "cherry_pick_approved"
    ROLLBACK_REJECTED = "rollback_rejected"
    ROLLBACK_STOPPED = "rollback_stopped"
    ROLLBACK_INTERRUPTED = "rollback_interrupted"
    ROLLBACK_RESUMED = "rollback_resumed"
    ROLLBACK_ABORTED = "rollback_aborted"
    DATABASE_RESTORED = "database_restored"
    CREDENTIALS_ROTATED = "credentials_rotated"
    FIX_BRANCH_CREATED = "fix_branch_created"
    ROLLBACK_DONE = "rollback_done"
    CHERRY_PICK_DONE = "cherry_pick_done"
    # The second wave: ratings, paging and fix windows.
    SEVERITY_CHANGED = "severity_changed"
    SEVERITY_REFUSED = "severity_refused"
    BLOCKER_RATED = "blocker_rated"
    PAGED = "paged"
    PAGE_ACKNOWLEDGED = "page_acknowledged"
    PAGING_STOPPED = "paging_stopped"
    FIX_WINDOW_STARTED = "fix_window_started"
    FIX_WINDOW_EXTENDED = "fix_window_extended"
    FIX_WINDOW_ENDED = "fix_window_ended"
    FIXED_FORWARD = "fixed_forward"
    # The third wave: the post-mortem thread, the log, the freeze and the retry.
    POSTMORTEM_OPENED = "postmortem_opened"
    POSTMORTEM_UPDATED = "postmortem_updated"
    POSTMORTEM_REFUSED = "postmortem_refused"
    THREAD_REPLY = "thread_reply"
    THREAD_REPLY_EDITED = "thread_reply_edited"
    THREAD_REPLY_DELETED = "thread_reply_deleted"
    MESSAGE_PINNED = "message_pinned"
    REMINDER_SENT = "reminder_sent"
    STAKEHOLDERS_NOTIFIED = "stakeholders_notified"
    ROLLBACK_LOG_WRITTEN = "rollback_log_written"
    PHASE_FROZEN = "phase_frozen"
    FREEZE_REFUSED = "freeze_refused"
    RETRY_REQUESTED = "retry_requested"
    RETRY_TICKED = "retry_ticked"
    RETRY_APPROVED = "retry_approved"
    RETRY_REFUSED = "retry_refused"
    INCIDENT_CLOSED = "incident_closed"
    DRILL_DONE = "drill_done"
    BISECT_DONE = "bisect_done"
    WATCH_SWITCHED = "watch_switched"
    WATCH_INCIDENT = "watch_incident"
    WATCH_STILL_RED = "watch_still_red"
    WATCH_REMOTE_RED = "watch_remote_red"  # the remote's head, not pulled yet, failed in a clone
    REMOVAL_PLANNED = "removal_planned"
    REMOVAL_APPROVED = "removal_approved"
    REMOVAL_FILE = "removal_file"  # one file's outcome: removed and passing, or broke and restored
    REMOVAL_DONE = "removal_done"


class Surface(StrEnum):
    """Where an action came from."""

    SLACK = "slack"
    TERMINAL = "terminal"  # an operator's shell, for when Slack is down; actor "os:<user>"
    SCHEDULER = "scheduler"  # a timer of the bot's own
    BOT = "bot"  # the bot acting on its own account (planning, recovery at start-up)


class IncidentState(StrEnum):
    OPEN = "open"  # fix forward: the incident stays open until someone resolves it
    # A blocker waits for an orchestrator to rate it (the escalation path).
    AWAITING_RATING = "awaiting_rating"
    # A quick fix is under way; when its window ends unresolved, a rollback is proposed.
    FIXING = "fixing"
    AWAITING_APPROVAL = "awaiting_approval"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    # A rollback halted mid-way (a crash or a failed step) and waits for Resume or Abort.
    STOPPED = "stopped"
    # The orchestrator aborted a stopped rollback; the incident stays open for a new decision.
    ABORTED = "aborted"
    # Rolled back, its post-mortem filled in, and closed by an orchestrator.
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentState.REJECTED, IncidentState.RESOLVED, IncidentState.CLOSED)


class PlanState(StrEnum):
    """Where an approval-gated plan is; only PROPOSED can be approved or rejected."""

    PROPOSED = "proposed"
    RUNNING = "running"
    STOPPED = "stopped"
    DONE = "done"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    ABORTED = "aborted"

    @property
    def is_final(self) -> bool:
        """No transition leaves a final state, so a final plan can never run again."""
        return self in (
            PlanState.DONE,
            PlanState.REJECTED,
            PlanState.SUPERSEDED,
            PlanState.ABORTED,
        )


#: The ``source`` of the incident a high-risk removal is carried out under.
REMOVAL_SOURCE = "removal"


@dataclass(frozen=True)
class Incident:
    id: int
    scenario: str
    severity: str | None
    trigger: str
    requester: str
    channel: str
    state: IncidentState
    created_at: datetime
    updated_at: datetime
    message_ts: str | None
    # Added by m005; defaults keep records built before rollbacks existed valid.
    decision: dict[str, Any] = field(default_factory=dict)
    from_sha: str | None = None
    to_sha: str | None = None
    target_ref: str | None = None
    backup_branch: str | None = None
    healthy: bool | None = None
    # Added by m007: a blocker or a scenario, who set the current rating, and how it ended.
    source: str = "scenario"
    rated_by: str | None = None
    resolution: str | None = None  # "fixed_forward", … once resolved
    resolved_by: str | None = None
    lesson: str = ""

    @property
    def needs_decision(self) -> bool:
        """Someone must rate or approve: the bot pages until they do. A removal is planned
        work, not an outage: its card asks the orchestrators, and nobody is paged for it."""
        if self.is_removal:
            return False
        return self.state in (IncidentState.AWAITING_RATING, IncidentState.AWAITING_APPROVAL)

    @property
    def is_removal(self) -> bool:
        """The record of a high-risk removal (`/rollback remove`), not of something broken."""
        return self.source == REMOVAL_SOURCE


@dataclass(frozen=True)
class Notice:
    """A message about an incident sent to one person (a page, a request to rate a blocker)."""

    incident_id: int
    kind: str
    user: str
    channel: str
    ts: str
    at: datetime


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    at: datetime
    actor: str
    surface: Surface
    action: TimelineAction
    incident_id: int | None
    details: dict[str, Any]


@dataclass(frozen=True)
class Timer:
    name: str
    kind: str
    due_at: datetime
    interval_s: float | None
    payload: dict[str, Any]
    fired_count: int
    last_fired_at: datetime | None


@dataclass(frozen=True)
class Lock:
    name: str
    owner: str
    reason: str
    acquired_at: datetime


@dataclass(frozen=True)
class Plan:
    """What an orchestrator approves: the exact body shown on the card, identified by fingerprint.

    ``attempt`` is 0 until approval and grows by one on each resume, so a worker left over from
    an earlier attempt can never finish or stop the plan behind the current one's back.
    """

    id: int
    incident_id: int
    kind: str  # "rollback" | "cherry_pick"
    body: dict[str, Any]  # the plan as JSON, as the bot serialised it
    fingerprint: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    state: PlanState
    approved_by: str | None
    approved_at: datetime | None
    waived: bool  # the orchestrator waived the database step on approval
    forced: bool  # the orchestrator confirmed a non-checkpoint or non-ancestor target
    attempt: int
    channel: str | None
    message_ts: str | None  # the plan's card in Slack
    result: dict[str, Any]  # {} until the plan stops or finishes


@dataclass(frozen=True)
class JournalEntry:
    """One step of one attempt of a plan: what was there before and after, for resume and audit."""

    id: int
    plan_id: int
    attempt: int
    step: str
    status: str  # "started" | "done" | "failed" | "skipped"
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]
    message: str


@dataclass(frozen=True)
class CheckpointRecord:
    """A checkpoint as the bot made it: was the service healthy, who asked, who forced it."""

    tag: str
    commit: str
    created_at: datetime
    healthy: bool
    requested_by: str
    forced_by: str | None
    failing: tuple[str, ...]  # the checks that failed before it, when forced

    @property
    def forced(self) -> bool:
        return self.forced_by is not None


@dataclass(frozen=True)
class Postmortem:
    """An incident's post-mortem: its thread under the card, the summary reply, the fields."""

    incident_id: int
    channel: str
    thread_ts: str | None  # the incident card's ts; None until the thread could be opened
    summary_ts: str | None  # the first reply, edited in place as fields are filled
    fields: dict[str, str]
    impact: tuple[str, ...]  # the checks failing before the rollback
    opened_at: datetime
    updated_at: datetime
    updated_by: str | None
    notified_at: datetime | None  # when the stakeholders were told


@dataclass(frozen=True)
class Freeze:
    """A rollback froze the phase; only an approved retry of that incident lifts it."""

    id: int
    phase: str
    incident_id: int
    frozen_at: datetime
    frozen_by: str
    lifted_at: datetime | None
    lifted_by: str | None


@dataclass(frozen=True)
class RetryRequest:
    """The "Before Retry" checklist of one incident, its ticks and its approval."""

    id: int
    incident_id: int
    requested_by: str
    requested_at: datetime
    channel: str | None
    message_ts: str | None
    ticked: tuple[str, ...]
    approved_by: str | None
    approved_at: datetime | None


@dataclass(frozen=True)
class DrillRecord:
    """One practice rollback in an isolated clone, and how it went."""

    id: int
    scenario: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    duration_s: float
    commit_sha: str | None  # the live commit the drill started from
    verified_by: str  # "service" (the checklist on a scratch service) or "git"
    exercised: tuple[str, ...]  # the steps it ran
    problem: str
    actor: str
