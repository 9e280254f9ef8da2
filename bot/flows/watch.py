"""The watch: a bad commit caught within a minute, not within the 30-minute validation cycle.

Every ``watch.interval_s`` it looks at HEAD. A commit it has not judged yet gets the checklist
(after a restart, so the service runs that commit); a red one gets it again each interval. The
verdict is kept against the commit, so the store knows the last good one. After
``failures_before_incident`` red runs in a row it opens an incident, "validation failing since
<commit>", whose plan goes back to the newest green commit (its checkpoint tag when it has one)
through the usual approval: nothing is reset without it. While any incident is open it adds to
that one instead, and it pauses while the repository lock is held (a rollback, a removal, a
drill's clone). ``/rollback watch on|off`` (orchestrators) switches it, recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from actions.errors import InputError, RollbackBotError
from actions.git import list_checkpoint_tags, open_repo
from actions.gitrun import run_git
from actions.rollback_git import read_head
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.checkpoint import busy_with, repo_lock_name
from bot.flows.rollback import Proposal, request_target
from bot.flows.validation import run_validation
from store import IncidentState, Surface, TimelineAction

ENABLED_KEY = "watch.enabled"
REDS_KEY = "watch.reds"
WATCHER = "watch"
#: How far back the newest green commit is looked for.
HISTORY_SEARCHED = 200
GIT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WatchRun:
    head: str | None
    ok: bool | None = None  # None: nothing was checked (see ``skipped``)
    failing: tuple[str, ...] = ()
    reds: int = 0
    proposal: Proposal | None = None  # the incident it opened
    joined: int | None = None  # the open incident it added to
    skipped: str = ""


def watch_enabled(deps: Deps) -> bool:
    """``/rollback watch on|off`` when someone said it; the config's ``watch.enabled`` else."""
    said = deps.store.read_value(ENABLED_KEY)
    return deps.settings.config.watch.enabled if said is None else said == "on"


def switch_watch(deps: Deps, request: grammar.Watch, asker: Asker) -> bool:
    """``/rollback watch on|off``: orchestrators only; the new state."""
    if not asker.orchestrator():
        raise InputError("Only an orchestrator can switch the watch. Nothing was changed.")
    deps.store.write_value(ENABLED_KEY, "on" if request.on else "off")
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.WATCH_SWITCHED,
        details={"on": request.on},
    )
    return request.on


def run_watch_once(deps: Deps) -> WatchRun:
    config = deps.settings.config
    if not watch_enabled(deps):
        return WatchRun(None, skipped="the watch is off")
    if deps.clock() < config.project.started_at:
        return WatchRun(None, skipped="the phase has not started")
    lock = repo_lock_name(deps)
    if deps.store.get_lock(lock) is not None:
        return WatchRun(None, skipped=f"paused while {busy_with(deps, lock)}")
    head, _ = read_head(repo=open_repo(config.git.path))
    if head is None:
        return WatchRun(None, skipped="the repository has no commit")
    known = deps.store.commit_verdicts([head]).get(head)
    if known is True:
        return WatchRun(head, skipped="HEAD is green and has not moved")
    report = run_validation(deps, actor=WATCHER, surface=Surface.SCHEDULER, restart=known is None)
    failing = tuple(result.name for result in report.checklist.failing)
    deps.store.record_commit_check(head, ok=report.ok, failing=failing)
    if report.ok:
        deps.store.write_value(REDS_KEY, "{}")
        return WatchRun(head, ok=True)
    since, reds = _count_red(deps, head)
    run = WatchRun(head, ok=False, failing=failing, reds=reds)
    if reds < config.watch.failures_before_incident:
        return run
    return _escalate(deps, run, since)


def _count_red(deps: Deps, head: str) -> tuple[str, int]:
    try:
        reds = json.loads(deps.store.read_value(REDS_KEY) or "{}")
    except ValueError:
        reds = {}
    since = str(reds.get("since") or head)
    count = int(reds.get("count") or 0) + 1
    deps.store.write_value(REDS_KEY, json.dumps({"since": since, "count": count}))
    return since, count


def _escalate(deps: Deps, run: WatchRun, since: str) -> WatchRun:
    failing = ", ".join(run.failing) or "the checklist"
    open_now = deps.store.recent_incidents(
        states=[state for state in IncidentState if state.is_open], limit=1
    )
    if open_now:
        incident = open_now[0]
        deps.store.append_event(
            actor=WATCHER,
            surface=Surface.SCHEDULER,
            action=TimelineAction.WATCH_STILL_RED,
            incident_id=incident.id,
            details={"head": run.head, "since": since, "failing": list(run.failing)},
        )
        return WatchRun(run.head, False, run.failing, run.reds, joined=incident.id)
    asker = Asker(WATCHER, Surface.SCHEDULER)
    trigger = f"validation failing since {since[:7]}: {failing}"
    try:
        target = last_green_target(deps)
        proposal = request_target(deps, grammar.RollbackTo(target), asker, trigger=trigger)
    except RollbackBotError as error:
        return WatchRun(run.head, False, run.failing, run.reds, skipped=error.user_message)
    deps.store.append_event(
        actor=WATCHER,
        surface=Surface.SCHEDULER,
        action=TimelineAction.WATCH_INCIDENT,
        incident_id=proposal.incident.id,
        details={"since": since, "failing": list(run.failing), "target": target},
    )
    # The red count goes on: the next red run adds to this incident while it is open, and a
    # green one starts the count again.
    return WatchRun(run.head, False, run.failing, run.reds, proposal=proposal)


def last_green_target(deps: Deps) -> str:
    """The newest commit below HEAD the watch saw green, as its checkpoint tag when it has
    one; without any, the newest checkpoint (the procedure's default target)."""
    config = deps.settings.config
    repo = open_repo(config.git.path)
    listed = run_git(
        repo, ["rev-list", f"--max-count={HISTORY_SEARCHED}", "HEAD", "--"], GIT_TIMEOUT_S
    )
    shas = listed.out.split() if listed.ok else []
    verdicts = deps.store.commit_verdicts(shas)
    tags = list_checkpoint_tags(repo=repo, phase=config.project.phase)
    tag_of = {tag.commit: tag.name for tag in tags}
    for sha in shas:
        if verdicts.get(sha) is True:
            return tag_of.get(sha, sha)
    if tags:
        return tags[0].name
    raise InputError("No commit has passed the checklist yet, and no checkpoint exists.")
