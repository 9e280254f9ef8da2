"""``/rollback bisect <incident>``: name the first bad commit among those the rollback removed.

The procedure says "investigate in the broken branch". This does it for the team, in an
isolated clone (the repository lock is held only while it is taken): each commit bisected is
checked out there and served by ``drills.scratch_command``, and the checklist is the test. A
commit whose service does not start is bad; one that cannot even be checked out is skipped.
The report names the culprit with its author, diff stat and failing checks, and the good
commits before it, which ``/rollback cherry-pick`` brings back under an orchestrator's approval.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import git

from actions.bisect import BisectResult, Verdict, bisect
from actions.drill import check_out_clean, remove_scratch
from actions.errors import InputError
from actions.gitrun import run_git
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.drill import check_on_scratch, clone_under_lock
from store import Incident, TimelineAction

MAX_COMMITS = 1024
GIT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BisectReport:
    incident: Incident
    result: BisectResult
    commits: tuple[str, ...]  # what was bisected, oldest first
    good_before: tuple[str, ...]  # the commits before the culprit: safe to bring back
    culprit_author: str = ""
    culprit_stat: str = ""
    culprit_failing: tuple[str, ...] = ()


def run_bisect(deps: Deps, request: grammar.Bisect, asker: Asker) -> BisectReport:
    incident = deps.store.get_incident(request.incident)
    if incident is None:
        raise InputError(f"There is no incident #{request.incident}.")
    if incident.from_sha is None or incident.to_sha is None:
        raise InputError(f"Incident #{incident.id} was never rolled back: nothing to bisect.")
    command = deps.settings.config.drills.scratch_command
    if command is None:
        raise InputError(
            "Bisecting serves each commit in a clone: set drills.scratch_command first."
        )
    commits = _removed_commits(deps, incident)
    scratch = Path(tempfile.mkdtemp(prefix="rollback-bot-bisect-"))
    failing: dict[str, tuple[str, ...]] = {}
    try:
        repo = clone_under_lock(deps, scratch, f"bisect:{asker.actor}")
        clone = repo.clone_git

        def judge(sha: str) -> Verdict:
            if not check_out_clean(clone=repo.clone, sha=sha, timeout_s=GIT_TIMEOUT_S):
                return Verdict.SKIP
            run = check_on_scratch(deps, command, repo.clone, scratch)
            failing[sha] = run.failing  # a commit whose service does not start is bad
            return Verdict.GOOD if run.ok else Verdict.BAD

        result = bisect(commits, judge)
        report = _report(incident, commits, result, clone, failing)
    finally:
        remove_scratch(scratch)
    deps.store.append_event(
        actor=asker.actor,
        surface=asker.surface,
        action=TimelineAction.BISECT_DONE,
        incident_id=incident.id,
        details={
            "first_bad": result.first_bad,
            "runs": result.runs,
            "commits": len(commits),
            "judged": [[sha, verdict.value] for sha, verdict in result.judged],
        },
    )
    return report


def _removed_commits(deps: Deps, incident: Incident) -> tuple[str, ...]:
    live = git.Repo(deps.settings.config.git.path)
    span = f"{incident.to_sha}..{incident.from_sha}"
    counted = run_git(live, ["rev-list", "--count", "--first-parent", span, "--"], GIT_TIMEOUT_S)
    if counted.ok and counted.out.isdecimal() and int(counted.out) > MAX_COMMITS:
        # --max-count keeps the newest: the oldest would be dropped and wrongly assumed good.
        raise InputError(
            f"Incident #{incident.id}'s rollback removed {counted.out} commits; the bisect takes "
            f"at most {MAX_COMMITS}. Bisect by hand from the backup branch."
        )
    listed = run_git(
        live,
        ["rev-list", "--reverse", "--first-parent", f"--max-count={MAX_COMMITS}",
         f"{incident.to_sha}..{incident.from_sha}", "--"],
        GIT_TIMEOUT_S,
    )  # fmt: skip
    if not listed.ok or not listed.out.split():
        raise InputError(f"Incident #{incident.id}'s rollback removed no commits to bisect.")
    return tuple(listed.out.split())


def _report(
    incident: Incident,
    commits: tuple[str, ...],
    result: BisectResult,
    clone: git.Repo,
    failing: dict[str, tuple[str, ...]],
) -> BisectReport:
    culprit = result.first_bad
    if culprit is None:
        return BisectReport(incident, result, commits, ())
    shown = run_git(clone, ["show", "--stat", "--format=%an <%ae>", culprit, "--"], GIT_TIMEOUT_S)
    author, _, stat = shown.out.partition("\n")
    good = commits[: commits.index(culprit)]
    return BisectReport(
        incident,
        result,
        commits,
        good,
        culprit_author=author.strip(),
        culprit_stat=stat.strip()[-1500:],
        culprit_failing=failing.get(culprit, ()),
    )
