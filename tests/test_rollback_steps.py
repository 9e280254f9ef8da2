"""The rollback's local steps on a real working copy and its bare origin.

What is checked is what git really did: the origin's refs and trees, the working copy's files
and `git status`, and that every step run twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from git import Repo

from actions.errors import GitError, InputError, RefNameError
from actions.rollback_steps import (
    create_backup_branch,
    push_backup_branch,
    push_with_lease,
    reset_to_target,
    snapshot_uncommitted,
)
from tests.checkpointhelp import make_changes
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import BRANCH, PhaseRepo, git, repo_state, show_file
from tests.rollbackhelp import backup_and_reset, lease, plan, reset_as_planned

pytestmark = pytest.mark.usefixtures("no_global_git_config")


# -- the whole sequence --------------------------------------------------------------------------


def test_rollback_sequence_dirty_repo_lands_on_origin_with_backup(phase_repo: PhaseRepo) -> None:
    make_changes(phase_repo)  # edit email.ts, delete routes.ts, untracked notes/, ignored log
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)
    before = repo_state(phase_repo)

    tip = snapshot_uncommitted(repo=work, head_sha=planned.head_sha)
    assert tip is not None
    create_backup_branch(repo=work, name=planned.backup_branch, sha=tip)
    push_backup_branch(repo=work, remote="origin", name=planned.backup_branch, sha=tip)
    untouched = repo_state(phase_repo)
    reset_as_planned(work, planned)
    summary = lease(phase_repo, planned)

    origin, backup = phase_repo.origin, f"refs/heads/{planned.backup_branch}"
    assert git(origin, "rev-parse", f"refs/heads/{BRANCH}") == planned.target_sha
    assert git(origin, "rev-parse", backup) == tip
    assert git(origin, "rev-parse", f"{backup}^1") == planned.head_sha
    assert show_file(origin, backup, "server/email.ts") == "export const email = 2\n"
    assert show_file(origin, backup, "notes/plan.md") == "next: customers\n"
    assert show_file(origin, backup, "server/routes.ts") is None  # the deletion is kept too
    assert show_file(origin, backup, "debug.log") is None  # ignored files stay out
    assert summary == f"origin now has {BRANCH} at {planned.target_sha[:7]} too"
    # Until the reset, the index and the working tree were exactly as found.
    assert (untouched.index, untouched.files, untouched.head) == (
        before.index,
        before.files,
        before.head,
    )
    # reset --hard keeps untracked files; .gitignore is gone at the target, so debug.log shows.
    status = git(phase_repo.work, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == ["?? debug.log", "?? notes/plan.md"]
    assert (phase_repo.work / "server" / "routes.ts").read_text() == "export {}\n"
    assert not (phase_repo.work / "server" / "email.ts").exists()
    assert phase_repo.head() == planned.target_sha


def test_rollback_sequence_clean_repo_backs_up_head_itself(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)

    tip = backup_and_reset(phase_repo, planned)
    lease(phase_repo, planned)

    assert tip == planned.head_sha
    assert phase_repo.remote_head() == planned.target_sha
    assert git(phase_repo.origin, "rev-parse", planned.backup_branch) == planned.head_sha


def test_rollback_steps_each_run_twice_change_nothing_the_second_time(
    phase_repo: PhaseRepo,
) -> None:
    make_changes(phase_repo)
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)

    first = snapshot_uncommitted(repo=work, head_sha=planned.head_sha)
    assert first is not None
    name, target = planned.backup_branch, planned.target_sha
    steps: list[Callable[[], object]] = [
        lambda: snapshot_uncommitted(repo=work, head_sha=planned.head_sha),
        lambda: create_backup_branch(repo=work, name=name, sha=first),
        lambda: push_backup_branch(repo=work, remote="origin", name=name, sha=first),
        lambda: reset_to_target(
            repo=work,
            branch=BRANCH,
            expected_head=planned.head_sha,
            target_sha=target,
            backup_branch=name,
        ),
        lambda: lease(phase_repo, planned),
    ]
    answers = []
    for step in steps:
        answers.append(step())
        state = repo_state(phase_repo)
        reflog = git(phase_repo.work, "reflog", "--format=%H %gs", BRANCH)
        answers.append(step())
        assert repo_state(phase_repo) == state
        assert git(phase_repo.work, "reflog", "--format=%H %gs", BRANCH) == reflog

    assert answers[0] == answers[1] == first  # the same work gives the same snapshot commit
    assert "already had" in str(answers[-1])  # the repeated push found its work done
    assert phase_repo.remote_head() == target


# -- refusals that keep everything ---------------------------------------------------------------


def test_reset_to_target_without_backup_branch_refuses(phase_repo: PhaseRepo) -> None:
    make_changes(phase_repo)
    planned = plan(phase_repo)
    before = repo_state(phase_repo)

    with pytest.raises(GitError, match="no backup branch phase2-broken-20251121-143000"):
        reset_as_planned(Repo(phase_repo.work), planned)

    assert repo_state(phase_repo) == before


def test_reset_to_target_backup_without_head_refuses(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)
    create_backup_branch(repo=work, name=planned.backup_branch, sha=planned.target_sha)

    with pytest.raises(GitError, match="does not contain"):
        reset_as_planned(work, planned)

    assert phase_repo.head() == planned.head_sha


def test_reset_to_target_work_changed_after_snapshot_refuses(phase_repo: PhaseRepo) -> None:
    make_changes(phase_repo)
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)
    tip = snapshot_uncommitted(repo=work, head_sha=planned.head_sha)
    assert tip is not None
    create_backup_branch(repo=work, name=planned.backup_branch, sha=tip)
    (phase_repo.work / "server" / "email.ts").write_text("edited after the snapshot\n")

    with pytest.raises(GitError, match="changes that are not on phase2-broken"):
        reset_as_planned(work, planned)

    assert (phase_repo.work / "server" / "email.ts").read_text() == "edited after the snapshot\n"
    assert phase_repo.head() == planned.head_sha


def test_reset_to_target_head_moved_refuses(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)
    create_backup_branch(repo=work, name=planned.backup_branch, sha=planned.head_sha)
    moved = phase_repo.commit("server/late.ts", "late\n", "late commit")

    with pytest.raises(GitError, match="HEAD moved from"):
        reset_as_planned(work, planned)

    assert phase_repo.head() == moved


def test_reset_to_target_detached_head_refuses(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)
    create_backup_branch(repo=work, name=planned.backup_branch, sha=planned.head_sha)
    git(phase_repo.work, "switch", "-q", "--detach")

    with pytest.raises(GitError, match="HEAD is detached"):
        reset_as_planned(work, planned)

    assert phase_repo.head() == planned.head_sha


def test_reset_to_target_backup_named_like_the_branch_refused(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)

    with pytest.raises(InputError, match="cannot be"):
        reset_to_target(
            repo=Repo(phase_repo.work),
            branch=BRANCH,
            expected_head=planned.head_sha,
            target_sha=planned.target_sha,
            backup_branch=BRANCH,
        )


def test_snapshot_uncommitted_keeps_staged_content_as_second_parent(
    phase_repo: PhaseRepo,
) -> None:
    email = phase_repo.work / "server" / "email.ts"
    email.write_text("staged version\n")
    git(phase_repo.work, "add", "--", "server/email.ts")
    email.write_text("working-tree version\n")
    planned = plan(phase_repo)
    index_before = (phase_repo.work / ".git" / "index").read_bytes()

    tip = backup_and_reset(phase_repo, planned)  # the reset accepts: the index is saved too

    backup = f"refs/heads/{planned.backup_branch}"
    assert git(phase_repo.origin, "rev-parse", f"{backup}^1") == planned.head_sha
    assert show_file(phase_repo.origin, backup, "server/email.ts") == "working-tree version\n"
    assert show_file(phase_repo.origin, f"{backup}^2", "server/email.ts") == "staged version\n"
    assert git(phase_repo.origin, "rev-parse", f"{backup}^2^") == planned.head_sha
    assert tip == git(phase_repo.origin, "rev-parse", backup)
    assert index_before != (phase_repo.work / ".git" / "index").read_bytes()  # reset, not before


def test_reset_to_target_content_staged_after_snapshot_refuses(phase_repo: PhaseRepo) -> None:
    email = phase_repo.work / "server" / "email.ts"
    email.write_text("edit\n")
    planned = plan(phase_repo)
    work = Repo(phase_repo.work)
    tip = snapshot_uncommitted(repo=work, head_sha=planned.head_sha)
    assert tip is not None
    create_backup_branch(repo=work, name=planned.backup_branch, sha=tip)
    email.write_text("staged later\n")
    git(phase_repo.work, "add", "--", "server/email.ts")
    email.write_text("edit\n")  # the working tree matches the snapshot again; the index not

    with pytest.raises(GitError, match="changes that are not on"):
        reset_as_planned(work, planned)

    assert git(phase_repo.work, "show", ":server/email.ts") == "staged later"
    assert phase_repo.head() == planned.head_sha


def test_snapshot_uncommitted_clean_tree_is_none(phase_repo: PhaseRepo) -> None:
    assert snapshot_uncommitted(repo=Repo(phase_repo.work), head_sha=phase_repo.head()) is None


def test_snapshot_uncommitted_head_moved_refuses(phase_repo: PhaseRepo) -> None:
    old = phase_repo.head()
    phase_repo.commit("server/late.ts", "late\n", "late commit")

    with pytest.raises(GitError, match=r"not at .* as planned"):
        snapshot_uncommitted(repo=Repo(phase_repo.work), head_sha=old)


@pytest.mark.parametrize("sha", ["-n", "HEAD", "abc1234", "--upload-pack=x"])
def test_steps_non_full_commit_ids_refused(phase_repo: PhaseRepo, sha: str) -> None:
    work = Repo(phase_repo.work)
    with pytest.raises(RefNameError):
        create_backup_branch(repo=work, name="phase2-broken-x", sha=sha)
    with pytest.raises(RefNameError):
        push_with_lease(
            repo=work, remote="origin", branch=BRANCH, target_sha=sha, expected_remote_sha=None
        )


def test_create_backup_branch_existing_at_other_sha_refuses(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    git(phase_repo.work, "branch", planned.backup_branch, planned.target_sha)

    with pytest.raises(GitError, match="already exists here"):
        create_backup_branch(
            repo=Repo(phase_repo.work), name=planned.backup_branch, sha=planned.head_sha
        )

    assert git(phase_repo.work, "rev-parse", planned.backup_branch) == planned.target_sha
