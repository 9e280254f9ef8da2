"""``/rollback drill <scenario>``: the procedure's practice run, in an isolated clone, recorded.

The repository lock is held only while the clone is taken: after that the drill touches
nothing live. Every step's outcome goes to ``progress`` as it finishes, the result (with its
duration, what it exercised and the commit it drilled) goes to the store, and the scratch
folder is removed whatever happens. The confidence table is computed from these records.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx

from actions.checks.checklist import ChecklistResult
from actions.checks.service import wait_until_healthy
from actions.drill import (
    TEST_BRANCH,
    ScratchRepo,
    break_on_test_branch,
    clone_for_drill,
    remove_scratch,
    roll_back_test_branch,
    verify_at_git_level,
)
from actions.errors import GitError, InputError, RollbackBotError
from actions.rollback_plan import RollbackPlan
from actions.scratch_service import ScratchService, free_port, scratch_argv
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.checkpoint import busy_with, repo_lock_name
from bot.flows.validation import run_scratch_checklist
from store import DrillRecord, TimelineAction

T = TypeVar("T")
STEP_TIMEOUT_S = 120.0
CLONE = "clone"
STEPS = (
    (CLONE, "Clone into a scratch folder, with a scratch remote"),
    ("break", "Create the test branch and commit the intentional break"),
    ("rollback", "Roll it back: backup pushed, reset, leased push"),
    ("verify", "Verify"),
    ("cleanup", "Clean up"),
)
TITLES = dict(STEPS)


@dataclass
class DrillProgress:
    """What a drill has done so far, for the message that shows it."""

    scenario: str
    done: list[tuple[str, bool, str]] = field(default_factory=list)  # (step, ok, detail)
    record: DrillRecord | None = None


def run_drill(deps: Deps, request: grammar.Drill, asker: Asker) -> DrillProgress:
    progress = DrillProgress(request.scenario)
    started, began = deps.clock(), time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="rollback-bot-drill-"))
    verified_by, drilled, problem = "git", None, ""
    try:
        repo = _step(
            progress,
            asker,
            CLONE,
            lambda: clone_under_lock(deps, scratch, f"drill:{asker.actor}", branch_off=TEST_BRANCH),
        )
        drilled = repo.drilled
        _step(
            progress,
            asker,
            "break",
            lambda: (
                f"tagged test-broken at "
                f"{break_on_test_branch(scratch=repo, timeout_s=STEP_TIMEOUT_S)[:7]}"
            ),
        )
        plan = _step(
            progress,
            asker,
            "rollback",
            lambda: roll_back_test_branch(
                scratch=repo,
                now=deps.clock(),
                phase=deps.settings.config.project.phase,
                timeout_s=STEP_TIMEOUT_S,
            ),
        )
        verified_by = "service" if deps.settings.config.drills.scratch_command else "git"
        _step(progress, asker, "verify", lambda: _verify(deps, repo, plan, scratch))
    except RollbackBotError as error:
        problem = error.user_message
    finally:
        remove_scratch(scratch)
        progress.done.append(("cleanup", True, "the scratch folder is removed"))
        asker.progress(progress)
    ok = not problem and all(ok for _, ok, _ in progress.done)
    progress.record = deps.store.record_drill(
        scenario=request.scenario,
        started_at=started,
        ok=ok,
        duration_s=round(time.monotonic() - began, 3),
        commit_sha=drilled,
        verified_by=verified_by,
        exercised=[name for name, _, _ in progress.done],
        problem=problem,
        actor=asker.actor,
    )
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.DRILL_DONE,
        details={"drill": progress.record.id, "scenario": request.scenario, "ok": ok},
    )
    return progress


def _step(progress: DrillProgress, asker: Asker, name: str, run: Callable[[], T]) -> T:
    try:
        result = run()
    except RollbackBotError as error:
        progress.done.append((name, False, error.user_message))
        asker.progress(progress)
        raise
    detail = result if isinstance(result, str) else ""
    progress.done.append((name, True, detail))
    asker.progress(progress)
    return result


def clone_under_lock(
    deps: Deps, scratch: Path, owner: str, *, branch_off: str | None = None
) -> ScratchRepo:
    """The isolated clone, the repository lock held only while it is taken."""
    config = deps.settings.config
    lock = repo_lock_name(deps)
    what = owner.split(":", 1)[0]
    if not deps.store.acquire_lock(lock, owner=owner, reason=f"{what}: cloning the repository"):
        raise GitError(f"The repository is busy ({busy_with(deps, lock)}); try again after it.")
    try:
        return clone_for_drill(
            source=config.git.path,
            branch=config.git.branch,
            scratch=scratch,
            timeout_s=STEP_TIMEOUT_S,
            # Only a scratch service needs the whole tree: a git-level check reads the break.
            whole_tree=config.drills.scratch_command is not None,
            branch_off=branch_off,
        )
    finally:
        deps.store.release_lock(lock, owner=owner)


def _verify(deps: Deps, repo: ScratchRepo, plan: RollbackPlan, scratch: Path) -> str:
    said = verify_at_git_level(scratch=repo, plan=plan, timeout_s=STEP_TIMEOUT_S)
    command = deps.settings.config.drills.scratch_command
    if command is None:
        return f"{said}; no drills.scratch_command, so the service was not started"
    return _checklist_on_scratch(deps, command, repo.clone, scratch)


@dataclass(frozen=True)
class ScratchRun:
    """The checklist on a scratch service, or why the service never answered."""

    base_url: str
    checklist: ChecklistResult | None  # None: the service did not start
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.checklist is not None and self.checklist.ok

    @property
    def failing(self) -> tuple[str, ...]:
        """The checks that failed; a service that never started fails "server starts"."""
        if self.checklist is None:
            return ("server starts",)
        return tuple(result.name for result in self.checklist.failing)


def check_on_scratch(deps: Deps, command: str, clone: Path, scratch: Path) -> ScratchRun:
    """Serve ``clone`` with ``drills.scratch_command``, run the checklist, stop it."""
    config = deps.settings.config
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = scratch_argv(command, path=clone, port=port)
    env = {"PATH": deps.settings.tool_path, "PORT": str(port), "HOME": str(scratch)}
    with ScratchService(argv=argv, cwd=clone, env=env, log_path=scratch / "service.log") as service:
        with httpx.Client(timeout=config.checks.timeout_s) as http:
            health = wait_until_healthy(
                client=http,
                url=base + config.service.health_path,
                timeout_s=config.service.ready_timeout_s,
            )
        if not health.ok:
            tail = " / ".join(service.log_tail(3))
            return ScratchRun(
                base, None, f"the scratch service did not start ({health.reason}). {tail}"
            )
        return ScratchRun(base, run_scratch_checklist(deps, base_url=base, cwd=clone))


def _checklist_on_scratch(deps: Deps, command: str, clone: Path, scratch: Path) -> str:
    run = check_on_scratch(deps, command, clone, scratch)
    checklist, base = run.checklist, run.base_url
    if checklist is None:
        raise InputError(f"{run.problem[:1].upper()}{run.problem[1:]}")
    if not checklist.ok:
        failing = ", ".join(result.name for result in checklist.failing)
        raise InputError(f"The checklist failed on the scratch service: {failing}.")
    return f"the checklist passed on a scratch service at {base} ({len(checklist.results)} checks)"


# -- the confidence table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Confidence:
    scenario: str
    level: str  # HIGH, MEDIUM or LOW
    tested: bool
    documentation: str
    drill: DrillRecord | None


#: Where the README tells each scenario (tests check these sections exist).
DOCUMENTATION = {
    "minor": "README: Severity, blockers, paging and fix windows",
    "critical": "README: Rollbacks",
    "email": "README: Rollbacks (the email scenario's target)",
    "performance": "README: Severity, blockers, paging and fix windows",
    "database": "README: The database step (Scenario 5)",
    "security": "README: Rollbacks",
}


def confidence_table(deps: Deps, *, now: datetime | None = None) -> tuple[Confidence, ...]:
    """From the drills on record: a passing drill younger than ``drills.fresh_for_days`` is
    HIGH and tested; an old or failing one MEDIUM; none, LOW and untested."""
    fresh = timedelta(days=deps.settings.config.drills.fresh_for_days)
    when = now or deps.clock()
    latest = deps.store.latest_drills()
    rows = []
    for scenario in grammar.SCENARIOS:
        drill = latest.get(scenario)
        if drill is None:
            level, tested = "LOW", False
        elif drill.ok and when - drill.finished_at <= fresh:
            level, tested = "HIGH", True
        else:
            level, tested = "MEDIUM", True
        rows.append(Confidence(scenario, level, tested, DOCUMENTATION[scenario], drill))
    return tuple(rows)
