"""The ``rollback-bot.toml`` contract as frozen dataclasses: what the rest of the bot reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from actions.checks.result import FlowStep
from actions.policy import DEFAULT_POLICY, Policy


@dataclass(frozen=True)
class ProjectConfig:
    name: str
    phase: str
    started_at: datetime


@dataclass(frozen=True)
class GitConfig:
    path: Path
    remote: str
    branch: str
    #: After a reset, remove the untracked files that are not ignored, once the backup branch
    #: verifiably holds them, so the service runs exactly the target.
    clean_untracked: bool = True


@dataclass(frozen=True)
class ServiceConfig:
    restart: str
    base_url: str
    health_path: str
    ready_timeout_s: float
    log_file: Path | None
    validate: str | None
    clear_cache: tuple[Path, ...]
    restart_timeout_s: float = 120.0
    validate_timeout_s: float = 300.0
    #: Environment variables the service and the commands keep although they hold a secret
    #: (say the database URL a validate script needs); every other secret is taken out.
    pass_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointCheck:
    name: str
    path: str
    method: str = "GET"


@dataclass(frozen=True)
class FlowCheck:
    """A scripted user flow: steps sharing one cookie jar (login, view inbox, …)."""

    name: str
    steps: tuple[FlowStep, ...]


@dataclass(frozen=True)
class ChecksConfig:
    endpoints: tuple[EndpointCheck, ...] = ()
    frontend: tuple[EndpointCheck, ...] = ()
    flows: tuple[FlowCheck, ...] = ()
    #: Scenario 3, step 2: after the email scenario's rollback, these run too (send a test
    #: email with the session cookie, list messages, open the inbox).
    email_flows: tuple[FlowCheck, ...] = ()
    #: Per-request bound; a hanging endpoint is cut here.
    timeout_s: float = 10.0
    #: The procedure's "APIs responding > 2s" is a failure.
    slow_after_s: float = 2.0
    #: Bound on the whole checklist, whatever hangs.
    checklist_timeout_s: float = 120.0
    #: Continuous validation cadence during the phase; 0 turns it off.
    interval_min: float = 30.0


@dataclass(frozen=True)
class DatabaseConfig:
    url_env: str | None
    probe_sql: str = "SELECT 1"
    migrations_table: str = "drizzle.__drizzle_migrations"
    migrations_dir: str = "migrations"
    slow_query_ms: float = 100.0
    timeout_s: float = 5.0
    #: ``<migration>.down.sql`` per migration, or the procedure's ``phase2-rollback.sql``;
    #: relative to git.path.
    rollback_dir: str = "migrations/rollback"
    #: Instead of the down SQL: a shell command with ``{migration}`` filled in (not transactional).
    rollback_command: str | None = None
    #: Where ``pg_dump -Fc`` writes before the database step; None until the store is known.
    backup_dir: Path | None = None


@dataclass(frozen=True)
class CheckpointsConfig:
    #: Reminder cadence from the phase start ("a checkpoint every 4 hours"); 0 turns it off.
    reminder_interval_h: float = 4.0


@dataclass(frozen=True)
class SlackConfig:
    channel: str
    orchestrators: tuple[str, ...]
    #: The procedure's four-eyes rule: whoever asked for a rollback does not approve it.
    requester_can_approve: bool = False
    #: An approval card older than this is refused; the plan it showed may no longer hold.
    approval_expiry_min: float = 30.0
    #: How long a Web API call may take before it counts as timed out.
    api_timeout_s: float = 15.0


@dataclass(frozen=True)
class EscalationDelays:
    """Minutes between pages while nobody acts, by the incident's level; 0 pages once."""

    critical: float = 5.0
    high: float = 15.0
    medium: float = 60.0
    low: float = 0.0

    def for_level(self, level: str) -> float:
        delays = {"critical": self.critical, "high": self.high, "medium": self.medium}
        return delays.get(level, self.low)


@dataclass(frozen=True)
class EscalationConfig:
    """Level 1 is the orchestrators, level 2 the fallback, walked ``repeat`` times."""

    fallback: tuple[str, ...] = ()
    repeat: int = 2
    delay_min: EscalationDelays = field(default_factory=EscalationDelays)


@dataclass(frozen=True)
class PostmortemConfig:
    """After a rollback: the log file (inside git.path), its commit, the notice, reminders."""

    log_path: str = "ROLLBACK_LOG.md"
    commit_log: bool = False
    stakeholder_channel: str | None = None
    remind_after_h: tuple[float, ...] = (1.0, 24.0)


@dataclass(frozen=True)
class DrillsConfig:
    """Practice rollbacks: how long a passing drill counts, and the scratch service's command
    (``{path}``: the clone, ``{port}``: where it must listen); None verifies at git level."""

    fresh_for_days: float = 7.0
    scratch_command: str | None = None


@dataclass(frozen=True)
class WatchConfig:
    """The watch: a look at HEAD every ``interval_s``; this many red runs open an incident."""

    interval_s: float = 60.0
    failures_before_incident: int = 2
    enabled: bool = True  # until /rollback watch on|off says otherwise


@dataclass(frozen=True)
class StoreConfig:
    path: Path


@dataclass(frozen=True)
class Config:
    source: Path
    project: ProjectConfig
    git: GitConfig
    service: ServiceConfig
    checks: ChecksConfig
    checkpoints: CheckpointsConfig
    database: DatabaseConfig
    slack: SlackConfig
    store: StoreConfig
    policy: Policy = DEFAULT_POLICY
    escalation: EscalationConfig = field(default_factory=EscalationConfig)
    postmortem: PostmortemConfig = field(default_factory=PostmortemConfig)
    drills: DrillsConfig = field(default_factory=DrillsConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
