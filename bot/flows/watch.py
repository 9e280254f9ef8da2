"""The watch: a bad commit caught within a minute, not within the 30-minute validation cycle.

Every ``watch.interval_s`` it looks at HEAD. A commit it has not judged yet gets the checklist
(after a restart, so the service runs that commit); a red one gets it again each interval. The
verdict is kept against the commit, so the store knows the last good one. After
``failures_before_incident`` red runs in a row it opens an incident, "validation failing since
<commit>", whose plan goes back to the newest green commit (its checkpoint tag when it has one)
through the usual approval: nothing is reset without it. While any incident is open it adds to
that one instead, and it pauses while the repository lock is held (a rollback, a removal, a
drill's clone). ``/rollback watch on|off`` (orchestrators) switches it, recorded. Each look
also judges the remote branch's head when it is new (:mod:`bot.flows.watch_remote`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace

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
from bot.flows.watch_remote import RemoteLook, look_at_remote
from store import IncidentState, Surface, TimelineAction

ENABLED_KEY = "watch.enabled"
REDS_KEY = "watch.reds"
SERVED_KEY = "watch.served"  # the commit the watch last restarted the live service on
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
    remote: RemoteLook | None = None  # the look at the remote branch's head, when one was taken


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


#: One look at a time: a look (a restart and a checklist) can outlast the interval.
_LOOKING = threading.Lock()
#: Incidents the watch adds to: still waiting for a decision or a fix, not already rolled back.
JOINABLE = (
    IncidentState.OPEN,
    IncidentState.AWAITING_RATING,
    IncidentState.FIXING,
    IncidentState.AWAITING_APPROVAL,
    IncidentState.ROLLING_BACK,
    IncidentState.STOPPED,
)


def run_watch_once(deps: Deps) -> WatchRun:
    if not _LOOKING.acquire(blocking=False):
        return WatchRun(None, skipped="the previous look is still running")
    try:
        run = _look(deps)
        if run.head is None:  # off, not started yet, paused, or nothing to look at
            return run
        return replace(run, remote=look_at_remote(deps, working_head=run.head))
    finally:
        _LOOKING.release()


def _look(deps: Deps) -> WatchRun:
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
    # Whether the live service has run this commit under the watch: a verdict may come from a
    # scratch clone (the remote's head, judged before it was pulled), not from this service.
    served = deps.store.read_value(SERVED_KEY) == head
    if known is True and served:
        deps.store.write_value(REDS_KEY, "{}")  # back on a green commit: the count starts over
        return WatchRun(head, skipped="HEAD is green and has not moved")
    report = run_validation(deps, actor=WATCHER, surface=Surface.SCHEDULER, restart=not served)
    failing = tuple(result.name for result in report.checklist.failing)
    after, _ = read_head(repo=open_repo(config.git.path))
    if after != head or deps.store.get_lock(lock) is not None:
        # HEAD moved (or a rollback began) while the checklist ran: it judged no one commit.
        return WatchRun(head, skipped="HEAD moved during the checklist; the next look judges it")
    deps.store.record_commit_check(head, ok=report.ok, failing=failing)
    deps.store.write_value(SERVED_KEY, head)
    if report.ok:
        deps.store.write_value(REDS_KEY, "{}")
        return WatchRun(head, ok=True)
    reds = _count_red(deps, head)
    run = WatchRun(head, ok=False, failing=failing, reds=int(str(reds["count"])))
    if run.reds < config.watch.failures_before_incident:
        return run
    return _escalate(deps, run, reds)


def _count_red(deps: Deps, head: str) -> dict[str, object]:
    try:
        reds = json.loads(deps.store.read_value(REDS_KEY) or "{}")
    except ValueError:
        reds = {}
    if not isinstance(reds, dict):
        reds = {}
    reds["since"] = str(reds.get("since") or head)
    reds["count"] = int(str(reds.get("count") or 0)) + 1
    deps.store.write_value(REDS_KEY, json.dumps(reds))
    return reds


def _escalate(deps: Deps, run: WatchRun, reds: dict[str, object]) -> WatchRun:
    since = str(reds["since"])
    failing = ", ".join(run.failing) or "the checklist"
    # A removal under way pauses the watch (it holds the lock); one still waiting for its
    # approval is planned work, not the incident of a red commit.
    recent = deps.store.recent_incidents(states=JOINABLE, limit=10)
    open_now = [incident for incident in recent if not incident.is_removal][:1]
    if reds.get("incident") is not None and not open_now and reds.get("reported") == run.head:
        # This commit has had its incident (rejected, resolved or rolled back since): it is not
        # reported again until a green commit or another bad one comes.
        return WatchRun(run.head, False, run.failing, run.reds, skipped="already reported")
    seen = {"head": run.head, "failing": list(run.failing)}
    if open_now:
        incident = open_now[0]
        # The timeline gets what changed (another red commit, other failing checks), not a
        # line every interval while nothing does.
        if reds.get("added") != {**seen, "incident": incident.id}:
            deps.store.append_event(
                actor=WATCHER,
                surface=Surface.SCHEDULER,
                action=TimelineAction.WATCH_STILL_RED,
                incident_id=incident.id,
                details={**seen, "since": since, "red_runs": run.reds},
            )
            # A commit told to an incident is not reported again once that one closes.
            added = {
                **reds,
                "incident": incident.id,
                "reported": run.head,
                "added": {**seen, "incident": incident.id},
            }
            deps.store.write_value(REDS_KEY, json.dumps(added))
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
    # The red count goes on: the next red run adds to this incident while it waits, and a
    # green one starts the count again.
    reported = {
        **reds,
        "incident": proposal.incident.id,
        "reported": run.head,
        "added": {**seen, "incident": proposal.incident.id},
    }
    deps.store.write_value(REDS_KEY, json.dumps(reported))
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
