"""``/rollback status`` and ``rollback-bot status``: where branch, remote and incidents stand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from actions.errors import GitError
from actions.git import RepoStatus, open_repo, read_repo_status
from bot.deps import Deps
from store import Incident, Lock

STATUS_GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class StatusReport:
    project: str
    phase: str
    phase_started_at: datetime
    now: datetime
    repo: RepoStatus | None
    repo_problem: str | None
    open_incidents: tuple[Incident, ...]
    locks: tuple[Lock, ...] = ()


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
    return StatusReport(
        project=config.project.name,
        phase=config.project.phase,
        phase_started_at=config.project.started_at,
        now=deps.clock(),
        repo=repo_status,
        repo_problem=problem,
        open_incidents=tuple(deps.store.list_incidents()),
        locks=tuple(deps.store.list_locks()),
    )
