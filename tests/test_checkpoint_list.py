"""list_checkpoints: newest first, which ones the remote has, and a remote that is down."""

from __future__ import annotations

from datetime import UTC, datetime

from git import Repo

from actions.checkpoint import list_checkpoints, list_checkpoints_with_remote_status
from tests.gitrepo import PhaseRepo, git, git_at


def test_list_checkpoints_newest_first_with_remote_status(phase_repo: PhaseRepo) -> None:
    work = phase_repo.work
    git_at(work, "2030-11-21T17:00:00Z", "tag", "-a", "phase2-checkpoint-T+8h", "-m", "Day 1")
    git_at(work, "2030-11-21T18:00:00Z", "tag", "-a", "checkpoint-20251121-180000", "-m", "Pre")
    git(work, "push", "-q", "origin", "--tags")
    git_at(work, "2030-11-22T01:00:00Z", "tag", "-a", "phase2-checkpoint-T+16h", "-m", "Day 2")
    git_at(work, "2030-11-22T02:00:00Z", "tag", "-a", "v1.0.0", "-m", "unrelated")
    git_at(work, "2030-11-22T03:00:00Z", "tag", "-a", "phase1-checkpoint-T+4h", "-m", "other")

    checkpoints, problem = list_checkpoints_with_remote_status(
        repo=Repo(work), remote="origin", phase="phase2"
    )

    assert problem is None
    assert [c.tag for c in checkpoints] == [
        "phase2-checkpoint-T+16h",
        "checkpoint-20251121-180000",
        "phase2-checkpoint-T+8h",
        "phase2-checkpoint-T+4h",
    ]
    assert [c.on_remote for c in checkpoints] == [False, True, True, True]
    assert checkpoints[0].message == "Day 2"
    assert checkpoints[0].commit == phase_repo.head()
    assert checkpoints[0].created_at == datetime(2030, 11, 22, 1, 0, tzinfo=UTC)


def test_list_checkpoints_tag_differing_on_remote_is_not_on_remote(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "tag", "-d", "phase2-checkpoint-T+4h")
    git(phase_repo.work, "tag", "-a", "phase2-checkpoint-T+4h", "-m", "moved", "HEAD")

    checkpoints = list_checkpoints(repo=Repo(phase_repo.work), remote="origin", phase="phase2")

    assert [(c.tag, c.on_remote) for c in checkpoints] == [("phase2-checkpoint-T+4h", False)]


def test_list_checkpoints_unreachable_remote_reports_problem(phase_repo: PhaseRepo) -> None:
    url = f"file://{phase_repo.work.parent}/gone.git"
    git(phase_repo.work, "remote", "set-url", "origin", url)
    repo = Repo(phase_repo.work)

    checkpoints, problem = list_checkpoints_with_remote_status(
        repo=repo, remote="origin", phase="phase2", timeout_s=20
    )

    assert problem is not None
    assert problem.startswith("Could not ask origin for its tags")
    assert [c.tag for c in checkpoints] == ["phase2-checkpoint-T+4h"]
    assert not checkpoints[0].on_remote
    assert list_checkpoints(repo=repo, remote="origin", phase="phase2") == checkpoints


def test_list_checkpoints_credentials_redacted(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "remote", "set-url", "origin", "http://ops:s3cret-pw@127.0.0.1:9/x.git")

    _, problem = list_checkpoints_with_remote_status(
        repo=Repo(phase_repo.work), remote="origin", phase="phase2", timeout_s=20
    )

    assert problem is not None
    assert "s3cret-pw" not in problem
