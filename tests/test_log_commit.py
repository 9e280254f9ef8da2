"""``postmortem.commit_log``: ROLLBACK_LOG.md alone committed on the phase branch and pushed,
never forced, on real repositories with a bare origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import GitError
from actions.git import open_repo
from actions.log_commit import LogCommit, commit_log_file
from tests.conftest import BRANCH
from tests.gitrepo import PhaseRepo, clone_origin, git, make_phase_repo, push_from, show_file

LOG = "ROLLBACK_LOG.md"


@pytest.fixture
def pushed(tmp_path: Path) -> PhaseRepo:
    repo = make_phase_repo(tmp_path / "repos")
    git(repo.work, "push", "-q", "origin", f"{BRANCH}:refs/heads/{BRANCH}")
    return repo


def _commit(repo: PhaseRepo) -> LogCommit:
    return commit_log_file(
        repo=open_repo(repo.work),
        remote="origin",
        branch=BRANCH,
        path=LOG,
        message="docs(phase2): update ROLLBACK_LOG.md",
    )


def test_only_the_log_is_committed_and_pushed_and_staged_work_stays_staged(
    pushed: PhaseRepo,
) -> None:
    before = pushed.head()
    (pushed.work / LOG).write_text("# Rollback Log\n\nentry one\n")
    (pushed.work / "server" / "email.ts").write_text("export const email = 2\n")
    git(pushed.work, "add", "--", "server/email.ts")  # someone's staged work in progress
    done = _commit(pushed)
    head = pushed.head()
    changed = git(pushed.work, "diff-tree", "--no-commit-id", "--name-only", "-r", head)
    status = git(pushed.work, "status", "--porcelain")
    assert done.commit == head and pushed.remote_head() == head
    assert git(pushed.work, "rev-parse", f"{head}^") == before
    assert changed == LOG
    assert show_file(pushed.origin, head, LOG) == "# Rollback Log\n\nentry one\n"
    assert status == "M  server/email.ts"  # still staged, not committed; the log is clean
    again = _commit(pushed)
    assert again.commit is None and pushed.head() == head


def test_a_moved_remote_refuses_the_log_and_the_branch_goes_back(
    pushed: PhaseRepo, tmp_path: Path
) -> None:
    other = clone_origin(pushed, tmp_path / "other")
    theirs = push_from(other, "server/deals.ts", "export const deals = []\n", "deals")
    before = pushed.head()
    (pushed.work / LOG).write_text("# Rollback Log\n")
    with pytest.raises(GitError) as refused:
        _commit(pushed)
    assert "would push more than the log, or be refused" in refused.value.user_message
    assert pushed.head() == before and pushed.remote_head() == theirs
    assert git(pushed.work, "status", "--porcelain") == f"?? {LOG}"


def test_refuses_when_not_on_the_phase_branch(pushed: PhaseRepo) -> None:
    git(pushed.work, "checkout", "-q", "main")
    (pushed.work / LOG).write_text("x\n")
    with pytest.raises(GitError, match="not on"):
        _commit(pushed)


def test_a_local_commit_not_yet_pushed_keeps_the_log_uncommitted(pushed: PhaseRepo) -> None:
    wip = pushed.commit("server/wip.ts", "export const wip = 1\n", "WIP: not for the remote yet")
    (pushed.work / LOG).write_text("# Rollback Log\n")
    with pytest.raises(GitError, match="would push more than the log"):
        _commit(pushed)
    assert pushed.head() == wip and pushed.remote_head() != wip


def test_a_held_index_lock_is_reported_not_hidden(pushed: PhaseRepo) -> None:
    (pushed.work / LOG).write_text("# Rollback Log\n")
    lock = pushed.work / ".git" / "index.lock"
    lock.write_text("")  # a person's git command, holding the index
    try:
        done = _commit(pushed)
    finally:
        lock.unlink()
    assert done.commit == pushed.remote_head()
    assert done.index_updated is False
    assert "git add -- ROLLBACK_LOG.md" in done.pushed
