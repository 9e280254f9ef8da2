"""After the reset, the untracked files the backup holds leave the working copy, and only those."""

from __future__ import annotations

import os

import pytest
from git import Repo

from actions.errors import RefNameError
from actions.rollback_clean import remove_untracked_kept_in
from actions.rollback_steps import snapshot_uncommitted
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import PhaseRepo, git

pytestmark = pytest.mark.usefixtures("no_global_git_config")


def _snapshot(phase_repo: PhaseRepo) -> str:
    work = Repo(phase_repo.work)
    snapshot = snapshot_uncommitted(repo=work, head_sha=phase_repo.head())
    assert snapshot is not None
    return snapshot


def test_untracked_files_in_the_backup_are_removed_and_the_rest_kept(
    phase_repo: PhaseRepo,
) -> None:
    work = phase_repo.work
    (work / ".gitignore").write_text("*.log\n")
    git(work, "add", ".gitignore")
    git(work, "commit", "-q", "-m", "ignore logs")
    (work / "notes" / "deep").mkdir(parents=True)
    (work / "notes" / "deep" / "plan.md").write_text("next: customers\n")
    (work / "server" / "wip.ts").write_text("export const halfDone = true\n")
    (work / "later.ts").write_text("before the snapshot\n")
    (work / "debug.log").write_text("ignored, never touched\n")
    backup = _snapshot(phase_repo)
    (work / "later.ts").write_text("changed after the snapshot: not what the backup holds\n")
    (work / "fresh.ts").write_text("made after the snapshot\n")
    os.symlink("server/wip.ts", work / "link.ts")

    cleaned = remove_untracked_kept_in(repo=Repo(work), backup_sha=backup)

    assert sorted(cleaned.removed) == ["notes/deep/plan.md", "server/wip.ts"]
    assert cleaned.kept == ("fresh.ts", "later.ts", "link.ts")
    assert not (work / "notes").exists()  # emptied folders go too
    assert (work / "debug.log").read_text() == "ignored, never touched\n"
    assert (work / "fresh.ts").exists() and (work / "later.ts").exists()
    assert git(work, "show", f"{backup}:server/wip.ts") == "export const halfDone = true"
    again = remove_untracked_kept_in(repo=Repo(work), backup_sha=backup)
    assert again.removed == () and again.kept == cleaned.kept


def test_nothing_untracked_is_nothing_to_do(phase_repo: PhaseRepo) -> None:
    cleaned = remove_untracked_kept_in(repo=Repo(phase_repo.work), backup_sha=phase_repo.head())
    assert (cleaned.removed, cleaned.kept) == ((), ())


def test_a_backup_that_is_not_a_commit_id_is_refused(phase_repo: PhaseRepo) -> None:
    (phase_repo.work / "wip.ts").write_text("x\n")
    with pytest.raises(RefNameError):
        remove_untracked_kept_in(repo=Repo(phase_repo.work), backup_sha="HEAD --all")
    assert (phase_repo.work / "wip.ts").exists()
