"""``/rollback status`` and ``rollback-bot status``: where branch, remote and incidents stand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from actions.errors import GitError
from actions.git import RepoStatus, open_repo, read_repo_status
from bot.deps import Deps
from bot.flows.drill import Confidence, confidence_table
from bot.flows.retry import frozen_because
from store import CheckpointRecord, Incident, IncidentState, Lock, PlanState

STATUS_GIT_TIMEOUT_S = 10.0
#: Open incidents a report lists; the rest are counted. Views show fewer still.
OPEN_SHOWN = 50


@dataclass(frozen=True)
class StatusReport:
    project: str
    phase: str
    phase_started_at: datetime
    now: datetime
    repo: RepoStatus | None
    repo_problem: str | None
    #: The newest open incidents (at most OPEN_SHOWN), oldest first.
    open_incidents: tuple[Incident, ...]
    locks: tuple[Lock, ...] = ()
    #: Who approved each open incident's rollback, by incident id (none until one is approved).
    approvers: Mapping[int, str] = field(default_factory=dict)
    #: What the bot knows of the checkpoints shown (which were forced), by tag.
    checkpoints: Mapping[str, CheckpointRecord] = field(default_factory=dict)
    #: The newest incidents fixed forward, with the lesson each one left (newest first).
    lessons: tuple[Incident, ...] = ()
    #: Why the phase is frozen (which rollbacks, how to lift it); None while it is not.
    frozen: str | None = None
    #: How many incidents are open in all (more than are listed, on a long migration).
    open_total: int | None = None
    #: The confidence table, from the drills on record; empty when not computed.
    confidence: tuple[Confidence, ...] = ()

    @property
    def open_count(self) -> int:
        return len(self.open_incidents) if self.open_total is None else self.open_total


def collect_status(deps: Deps) -> StatusReport:
    """Gather the report; a broken repository is reported, not raised, so status always answers."""
    config = deps.settings.config
    repo_status: RepoStatus | None = None
    problem: str | None = None
    try:
        repo_status = read_repo_status(
            repo=open_repo(config.git.path),
            remote=config.git.remote,
            branch=config.git.branch,
            phase=config.project.phase,
            timeout_s=STATUS_GIT_TIMEOUT_S,
        )
    except GitError as error:
        problem = error.user_message
    open_states = [state for state in IncidentState if state.is_open]
    newest = deps.store.recent_incidents(states=open_states, limit=OPEN_SHOWN)
    incidents = tuple(reversed(newest))
    tags = [tag.name for tag in repo_status.checkpoints] if repo_status else []
    return StatusReport(
        project=config.project.name,
        phase=config.project.phase,
        phase_started_at=config.project.started_at,
        now=deps.clock(),
        repo=repo_status,
        repo_problem=problem,
        open_incidents=incidents,
        locks=tuple(deps.store.list_locks()),
        approvers=_approvers(deps, incidents),
        checkpoints=deps.store.checkpoint_records(tags),
        lessons=_lessons(deps),
        frozen=frozen_because(deps),
        open_total=deps.store.count_incidents(states=open_states),
        confidence=confidence_table(deps),
    )


LESSONS_SHOWN = 5


def _lessons(deps: Deps) -> tuple[Incident, ...]:
    resolved = deps.store.recent_incidents(states=[IncidentState.RESOLVED], limit=50)
    return tuple(incident for incident in resolved if incident.lesson)[:LESSONS_SHOWN]


def _approvers(deps: Deps, incidents: tuple[Incident, ...]) -> dict[int, str]:
    found = {}
    for incident in incidents:
        approved = [
            plan.approved_by
            for plan in deps.store.plans_of(incident.id)
            if plan.approved_by and plan.state is not PlanState.REJECTED
        ]
        if approved:
            found[incident.id] = approved[-1]
    return found
