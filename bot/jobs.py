"""Scheduled jobs: what the scheduler runs when a timer falls due, and the timers they need.

Continuous validation runs the checklist every ``checks.interval_min`` minutes while the phase
is active and posts only when the verdict changes, so the channel hears "it broke" and "it is
back", not a report every half hour.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk import WebClient

from actions.errors import GitError
from actions.git import list_checkpoint_tags, open_repo
from bot.deps import Deps
from bot.flows.checkpoint import CheckpointRequest, checkpoint_list, remember_request
from bot.flows.escalation import PAGE_KIND, page_due
from bot.flows.fix_window import end_window
from bot.flows.validation import run_validation
from bot.flows.watch import run_watch_once
from bot.flows.windows import WINDOW_KIND
from bot.scheduler import Job
from bot.slack.home import refresh_homes
from bot.slack.incidents import follow_up, proposal_now, send_page, show_incident
from bot.slack.messages import LiveMessage
from bot.slack.postmortem import REMINDER_KIND as POSTMORTEM_REMINDER_KIND
from bot.slack.postmortem import run_reminder
from bot.views.blocks import plain_to_mrkdwn
from bot.views.checkpoint import build_checkpoint_due_view
from bot.views.validation import build_verdict_change_view
from bot.views.watch import build_remote_red_view
from store import Surface, Timer
from store.timers import next_slot

log = logging.getLogger("rollback_bot.jobs")

VALIDATION_TIMER = "continuous-validation"
VALIDATION_KIND = "validation"
VERDICT_KEY = "validation.verdict"
REMINDER_TIMER = "checkpoint-reminder"
REMINDER_KIND = "checkpoint_reminder"
HOME_TIMER = "home-refresh"
HOME_KIND = "home_refresh"
#: How soon the App Home follows a change, for those who looked at it in the last day.
HOME_REFRESH_S = 10.0
WATCH_TIMER = "watch"
WATCH_KIND = "watch"


def build_jobs(client: WebClient) -> dict[str, Job]:
    def continuous_validation(deps: Deps, timer: Timer) -> None:
        run_continuous_validation(deps, client)

    def checkpoint_reminder(deps: Deps, timer: Timer) -> None:
        run_checkpoint_reminder(deps, client)

    def page(deps: Deps, timer: Timer) -> None:
        run_page(deps, client, timer)

    def fix_window_end(deps: Deps, timer: Timer) -> None:
        run_fix_window_end(deps, client, timer)

    def postmortem_reminder(deps: Deps, timer: Timer) -> None:
        run_reminder(deps, client, timer)

    def home_refresh(deps: Deps, timer: Timer) -> None:
        refresh_homes(deps, client)

    def watch(deps: Deps, timer: Timer) -> None:
        run_watch(deps, client)

    return {
        VALIDATION_KIND: continuous_validation,
        REMINDER_KIND: checkpoint_reminder,
        PAGE_KIND: page,
        WINDOW_KIND: fix_window_end,
        POSTMORTEM_REMINDER_KIND: postmortem_reminder,
        HOME_KIND: home_refresh,
        WATCH_KIND: watch,
    }


def run_watch(deps: Deps, client: WebClient) -> None:
    """One look of the watch; an incident it opens is posted and paged like any other."""
    run = run_watch_once(deps)
    if run.skipped:
        log.info("watch: %s", run.skipped)
    if run.proposal is not None:
        show_incident(deps, client, run.proposal)
        follow_up(deps, client, run.proposal.incident.id)
    if run.remote is not None and run.remote.skipped:
        log.debug("watch, the remote's head: %s", run.remote.skipped)
    if run.remote is not None and run.remote.ok is False:
        config = deps.settings.config
        view = build_remote_red_view(run.remote, remote=config.git.remote, branch=config.git.branch)
        LiveMessage(client, config.slack.channel).start(view)


def run_page(deps: Deps, client: WebClient, timer: Timer) -> None:
    """The next page of an incident nobody has decided on yet."""
    page = page_due(deps, timer)
    incident = deps.store.get_incident(page.incident_id) if page is not None else None
    if page is not None and incident is not None:
        send_page(deps, client, incident, page)


def run_fix_window_end(deps: Deps, client: WebClient, timer: Timer) -> None:
    """A fix window ran out: its card becomes the rollback proposal, and paging starts."""
    ended = end_window(deps, timer)
    if ended is None:
        return
    live = show_incident(deps, client, ended.proposal or proposal_now(deps, ended.incident))
    if ended.problem and live.ts is not None:
        problem = plain_to_mrkdwn(
            f"The fix window ended, but no rollback plan could be made: {ended.problem}"
        )
        client.chat_postMessage(channel=live.channel, thread_ts=live.ts, text=problem)
    follow_up(deps, client, ended.incident.id)


def ensure_timers(deps: Deps) -> None:
    """Create (or retune) the recurring timers the config asks for; keep their due times."""
    config = deps.settings.config
    now = deps.clock()
    validation_s = config.checks.interval_min * 60
    _ensure(
        deps, VALIDATION_TIMER, VALIDATION_KIND, validation_s, now + timedelta(seconds=validation_s)
    )
    _ensure(deps, HOME_TIMER, HOME_KIND, HOME_REFRESH_S, now + timedelta(seconds=HOME_REFRESH_S))
    watch_s = config.watch.interval_s
    _ensure(deps, WATCH_TIMER, WATCH_KIND, watch_s, now + timedelta(seconds=watch_s))
    # Reminders keep the phase's cadence (T+4h, T+8h, …), whenever the bot was started.
    reminder_s = config.checkpoints.reminder_interval_h * 3600
    if reminder_s > 0:
        first = next_slot(config.project.started_at, reminder_s, now)
        _ensure(deps, REMINDER_TIMER, REMINDER_KIND, reminder_s, first)
    else:
        deps.store.cancel_timer(REMINDER_TIMER)


def _ensure(deps: Deps, name: str, kind: str, interval_s: float, first_due: datetime) -> None:
    if interval_s <= 0:
        deps.store.cancel_timer(name)
        return
    existing = deps.store.get_timer(name)
    if existing is not None and existing.interval_s == interval_s:
        return
    deps.store.schedule_timer(
        name, kind=kind, due_at=first_due, interval_s=interval_s, replace=existing is not None
    )


def run_checkpoint_reminder(deps: Deps, client: WebClient) -> None:
    """'Checkpoint T+8h is due', with a button, unless that checkpoint already exists."""
    config = deps.settings.config
    if not phase_is_active(deps):
        return
    elapsed_h = (deps.clock() - config.project.started_at).total_seconds() / 3600
    hours = max(1, round(elapsed_h))
    request = CheckpointRequest(kind="checkpoint", hours=hours, message="")
    label = f"T+{hours}h"
    tag = f"{config.project.phase}-checkpoint-{label}"
    existing = checkpoint_list(deps).infos
    if any(info.tag == tag for info in existing):
        log.info("checkpoint %s already exists; no reminder", tag)
        return
    due = build_checkpoint_due_view(label, remember_request(deps, request))
    client.chat_postMessage(channel=config.slack.channel, **due)


def verdict_changed(previous: str | None, verdict: str) -> bool:
    # The first run of a healthy service is not news; the first failing one is.
    return previous != verdict and not (previous is None and verdict == "pass")


def run_continuous_validation(deps: Deps, client: WebClient) -> None:
    if not phase_is_active(deps):
        log.info("continuous validation skipped: the phase is not active")
        return
    report = run_validation(deps, actor="scheduler", surface=Surface.SCHEDULER)
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
