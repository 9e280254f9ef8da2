"""The watch's look at the remote branch: a commit pushed from elsewhere is judged before anyone
pulls it into the working copy the service runs.

The live service runs the working copy, so the remote's new head is served from an isolated
clone by ``drills.scratch_command`` (as a drill or a bisect is), with the checklist as the
test; the repository lock is held only while the clone is taken. The verdict is kept against
the commit like any other the watch judges, so each remote head is judged once, and a red one
is told once. Nothing is reset: the working copy does not have the commit yet, and the one
who pushed it is the one to fix it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from actions.drill import check_out_clean, fetch_commit, remote_url, remove_scratch
from actions.errors import GitError, RollbackBotError
from actions.git import open_repo
from actions.gitrun import Deadline, run_git
from actions.rollback_git import remote_branch_head
from bot.deps import Deps
from bot.flows.drill import check_on_scratch, clone_under_lock
from store import Surface, TimelineAction

GIT_TIMEOUT_S = 60.0
WATCHER = "watch"


@dataclass(frozen=True)
class RemoteLook:
    head: str | None  # the remote branch's head (None: not read)
    ok: bool | None = None  # None: not judged (see ``skipped``)
    failing: tuple[str, ...] = ()
    subject: str = ""  # the commit's first line and author, for the message
    skipped: str = ""


def look_at_remote(deps: Deps, *, working_head: str) -> RemoteLook:
    """Judge the remote branch's head when it is new: not the working copy's, not an ancestor
    of it, and not judged before."""
    config = deps.settings.config
    live = open_repo(config.git.path)
    ref = f"refs/heads/{config.git.branch}"
    try:
        head = remote_branch_head(live, config.git.remote, ref, Deadline(GIT_TIMEOUT_S))
    except GitError as error:
        return RemoteLook(None, skipped=error.user_message)
    if head is None or head == working_head:
        return RemoteLook(head, skipped="the remote branch is where the working copy is")
    # The store first: it answers every look while the remote's head waits to be pulled.
    if head in deps.store.commit_verdicts([head]):
        return RemoteLook(head, skipped="the remote's head has been judged")
    contained = ["merge-base", "--is-ancestor", "--end-of-options", head, working_head]
    if run_git(live, contained, GIT_TIMEOUT_S).ok:
        return RemoteLook(head, skipped="the working copy has the remote's head already")
    command = config.drills.scratch_command
    if command is None:
        return RemoteLook(head, skipped="no drills.scratch_command to serve the remote's head")
    try:
        look = _judge(deps, command, head, ref)
    except RollbackBotError as error:
        return RemoteLook(head, skipped=error.user_message)
    if look.ok is None:
        return look
    deps.store.record_commit_check(head, ok=look.ok, failing=look.failing)
    if not look.ok:
        deps.store.append_event(
            actor=WATCHER,
            surface=Surface.SCHEDULER,
            action=TimelineAction.WATCH_REMOTE_RED,
            details={"head": head, "failing": list(look.failing), "subject": look.subject},
        )
    return look


def _judge(deps: Deps, command: str, head: str, ref: str) -> RemoteLook:
    config = deps.settings.config
    scratch = Path(tempfile.mkdtemp(prefix="rollback-bot-watch-"))
    try:
        repo = clone_under_lock(deps, scratch, f"{WATCHER}:remote")
        url = remote_url(source=config.git.path, remote=config.git.remote, timeout_s=GIT_TIMEOUT_S)
        if not fetch_commit(clone=repo.clone, url=url, ref=ref, sha=head, timeout_s=GIT_TIMEOUT_S):
            return RemoteLook(head, skipped="the remote moved on; the next look judges its head")
        if not check_out_clean(clone=repo.clone, sha=head, timeout_s=GIT_TIMEOUT_S):
            return RemoteLook(head, skipped="the remote's head cannot be checked out")
        shown = run_git(
            repo.clone_git,
            ["log", "-1", "--no-show-signature", "--format=%s (%an)", head, "--"],
            GIT_TIMEOUT_S,
        )
        run = check_on_scratch(deps, command, repo.clone, scratch)
    finally:
        remove_scratch(scratch)
    subject = shown.out.strip() if shown.ok else ""
    # A commit whose service does not start is bad.
    return RemoteLook(head, ok=run.ok, failing=run.failing, subject=subject)
