"""Scheduled jobs: what the scheduler runs when a timer falls due, and the timers they need.

Continuous validation runs the checklist every ``checks.interval_min`` minutes while the phase
is active and posts only when the verdict changes, so the channel hears "it broke" and "it is
back", not a report every half hour.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient

from actions.errors import GitError
from actions.git import list_checkpoint_tags, open_repo
from bot.checklist_views import build_verdict_change_view
from bot.deps import Deps
from bot.flows.validation import run_validation
from bot.scheduler import Job
from store import Timer

log = logging.getLogger("rollback_bot.jobs")

VALIDATION_TIMER = "continuous-validation"
VALIDATION_KIND = "validation"
VERDICT_KEY = "validation.verdict"


def build_jobs(client: WebClient) -> dict[str, Job]:
    def continuous_validation(deps: Deps, timer: Timer) -> None:
        run_continuous_validation(deps, client)

    return {VALIDATION_KIND: continuous_validation}


def ensure_timers(deps: Deps) -> None:
    """Create (or retune) the recurring timers the config asks for; keep their due times."""
    interval_s = deps.settings.config.checks.interval_min * 60
    if interval_s <= 0:
        deps.store.cancel_timer(VALIDATION_TIMER)
        return
    existing = deps.store.get_timer(VALIDATION_TIMER)
    if existing is not None and existing.interval_s == interval_s:
        return
    deps.store.schedule_timer(
        VALIDATION_TIMER,
        kind=VALIDATION_KIND,
        due_at=deps.clock() + timedelta(seconds=interval_s),
        interval_s=interval_s,
        replace=existing is not None,
    )


def verdict_changed(previous: str | None, verdict: str) -> bool:
    # The first run of a healthy service is not news; the first failing one is.
    return previous != verdict and not (previous is None and verdict == "pass")


def run_continuous_validation(deps: Deps, client: WebClient) -> None:
    if not phase_is_active(deps):
        log.info("continuous validation skipped: the phase is not active")
        return
    report = run_validation(deps, actor="scheduler", surface="scheduler")
    verdict = "pass" if report.ok else "fail"
    previous = deps.store.read_value(VERDICT_KEY)
    deps.store.write_value(VERDICT_KEY, verdict)
    if not verdict_changed(previous, verdict):
        return
    message = build_verdict_change_view(
        report.checklist.results,
        now_ok=report.ok,
        duration_s=report.checklist.duration_s,
        diagnostics=report.diagnostics,
    )
    client.chat_postMessage(channel=deps.settings.config.slack.channel, **message)


def phase_is_active(deps: Deps) -> bool:
    """Started, and not yet closed by a ``<phase>-complete-*`` tag."""
    project = deps.settings.config.project
    if deps.clock() < project.started_at:
        return False
    try:
        tags = list_checkpoint_tags(
            repo=open_repo(deps.settings.config.git.path), phase=project.phase
        )
    except GitError:
        return True  # a repo problem is exactly when validation should keep running
    return not any(tag.name.startswith(f"{project.phase}-complete-") for tag in tags)
