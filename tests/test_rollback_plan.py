"""Rollback plans on real repositories: targets, what would be lost, refusals, and re-checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from git import Repo

from actions.errors import GitError, InputError, RefNameError
from actions.rollback_plan import plan_rollback, verify_plan
from tests.checkpointhelp import make_changes
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import (
    BRANCH,
    PhaseRepo,
    clone_origin,
    commit_as,
    git,
    git_at,
    git_try,
    push_from,
    repo_state,
)
from tests.rollbackhelp import BACKUP, NOW, plan

pytestmark = pytest.mark.usefixtures("no_global_git_config")
OTHER = "Other Dev <other@example.com>"


def grow_history(repo: PhaseRepo) -> dict[str, str]:
    """T+8h at "wire email module", then a migration and a commit tagged T+12h at HEAD."""
    shas = {"t4": git(repo.work, "rev-parse", "phase2-checkpoint-T+4h^{commit}")}
    shas["t8"] = repo.head()
    git(repo.work, "tag", "-a", "phase2-checkpoint-T+8h", "-m", "Phase 2 Checkpoint: Day 1")
    shas["migration"] = commit_as(
        repo, OTHER, "migrations/phase2_0002.sql", "ALTER TABLE deals ADD x int;\n", "add deals.x"
    )
    shas["head"] = repo.commit("server/deals.ts", "export const deals = []\n", "wire deals")
    git(repo.work, "tag", "-a", "phase2-checkpoint-T+12h", "-m", "Phase 2 Checkpoint: 12 hours")
    git(repo.work, "push", "-q", "origin", BRANCH)
    return shas


# -- targets and contents ------------------------------------------------------------------------


def test_plan_rollback_default_target_is_last_checkpoint_strictly_before_head(
    phase_repo: PhaseRepo,
) -> None:
    shas = grow_history(phase_repo)

    result = plan(phase_repo)

    # All tags were made within a second: T+12h is at HEAD (skipped), T+8h is nearer than T+4h.
    assert result.target_ref == "phase2-checkpoint-T+8h"
    assert result.target_sha == shas["t8"]
    assert result.head_sha == shas["head"]
    assert result.remote_head == phase_repo.remote_head() == shas["head"]
    assert result.target_is_checkpoint and result.target_is_ancestor
    assert [c.sha for c in result.discarded] == [shas["head"], shas["migration"]]
    assert [c.author for c in result.discarded] == [
        "Test Engineer <eng@example.com>",
        OTHER,
    ]
    assert [c.subject for c in result.discarded] == ["wire deals", "add deals.x"]
    assert result.discarded[0].committed_at.tzinfo is not None
    assert result.discarded_count == 2
    assert result.migrations_crossed == ("migrations/phase2_0002.sql",)
    assert result.backup_branch == BACKUP
    assert result.dirty_paths == ()
    assert len(result.fingerprint) == 64


def test_plan_rollback_default_target_skips_a_tag_at_head(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "tag", "-a", "phase2-checkpoint-T+8h", "-m", "at HEAD")

    result = plan(phase_repo)

    assert result.target_ref == "phase2-checkpoint-T+4h"
    assert result.discarded_count == 1


def test_plan_rollback_default_target_nearest_head_even_if_tagged_earlier(
    phase_repo: PhaseRepo,
) -> None:
    t8 = phase_repo.head()
    git_at(
        phase_repo.work, "2025-11-21T10:00:00Z", "tag", "-a", "phase2-checkpoint-T+8h", "-m", "x"
    )
    git(phase_repo.work, "tag", "-d", "phase2-checkpoint-T+4h")
    older = git(phase_repo.work, "rev-parse", "HEAD~1")
    late = ("tag", "-a", "phase2-checkpoint-T+4h", "-m", "tagged late", older)
    git_at(phase_repo.work, "2025-11-21T20:00:00Z", *late)
    phase_repo.commit("server/deals.ts", "export const deals = []\n", "wire deals")

    result = plan(phase_repo)

    # Creation order alone would pick T+4h; the checkpoint nearest HEAD loses the least work.
    assert (result.target_ref, result.target_sha) == ("phase2-checkpoint-T+8h", t8)


def test_plan_rollback_without_checkpoint_before_head_refuses(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "tag", "-d", "phase2-checkpoint-T+4h")
    git(phase_repo.work, "tag", "-a", "phase2-checkpoint-T+8h", "-m", "at HEAD")

    with pytest.raises(GitError, match="no phase2 checkpoint before HEAD") as caught:
        plan(phase_repo)

    assert "only ones are at HEAD" in caught.value.user_message


def test_plan_rollback_counts_beyond_the_listed_fifty(phase_repo: PhaseRepo) -> None:
    for n in range(53):
        phase_repo.commit("server/step.ts", f"export const step = {n}\n", f"step {n}")

    result = plan(phase_repo, "phase2-checkpoint-T+4h")

    assert result.discarded_count == 54
    assert len(result.discarded) == 50
    assert result.discarded[0].subject == "step 52"


def test_plan_rollback_dirty_paths_modified_and_untracked_not_ignored(
    phase_repo: PhaseRepo,
) -> None:
    make_changes(phase_repo)
    before = repo_state(phase_repo)

    result = plan(phase_repo)

    assert set(result.dirty_paths) == {
        " M server/email.ts",
        " D server/routes.ts",
        "?? notes/plan.md",
    }
    assert not any("debug.log" in line for line in result.dirty_paths)
    # Planning only reads: not even the index file is rewritten.
    assert repo_state(phase_repo) == before


def test_plan_rollback_fingerprint_changes_when_head_or_remote_moves(
    phase_repo: PhaseRepo,
) -> None:
    phase_repo.commit("server/unpushed.ts", "1\n", "not pushed yet")
    first = plan(phase_repo)
    again = plan(phase_repo)
    git(phase_repo.work, "push", "-q", "origin", BRANCH)
    remote_moved = plan(phase_repo)
    phase_repo.commit("server/local.ts", "2\n", "local work")
    head_moved = plan(phase_repo)

    assert again.fingerprint == first.fingerprint
    assert remote_moved.remote_head != first.remote_head
    assert len({first.fingerprint, remote_moved.fingerprint, head_moved.fingerprint}) == 3


def test_plan_rollback_refuses_when_the_remote_has_commits_head_lacks(
    phase_repo: PhaseRepo, tmp_path: Path
) -> None:
    other = clone_origin(phase_repo, tmp_path / "other")
    pushed = push_from(other, "server/other.ts", "1\n", "other engineer's work")

    with pytest.raises(GitError, match="has commits this working copy lacks") as refused:
        plan(phase_repo)

    assert pushed[:7] in refused.value.user_message
    assert "git pull --ff-only origin" in refused.value.user_message


# -- explicit targets ----------------------------------------------------------------------------


def test_plan_rollback_explicit_short_sha_resolves_to_the_commit(phase_repo: PhaseRepo) -> None:
    target = git(phase_repo.work, "rev-parse", "phase2-checkpoint-T+4h^{commit}")

    result = plan(phase_repo, target[:10])

    assert result.target_ref == target[:10]
    assert result.target_sha == target
    assert not result.target_is_checkpoint
    assert result.target_is_ancestor


@pytest.mark.parametrize("target", ["--upload-pack=touch {dir}/pwned", "-n", "--output={dir}/x"])
def test_plan_rollback_option_like_target_refused(
    phase_repo: PhaseRepo, tmp_path: Path, target: str
) -> None:
    before = repo_state(phase_repo)

    with pytest.raises(RefNameError, match="starts with '-'"):
        plan(phase_repo, target.format(dir=tmp_path))

    assert repo_state(phase_repo) == before
    assert not list(tmp_path.rglob("pwned")) and not (tmp_path / "x").exists()


def test_plan_rollback_unknown_target_is_named(phase_repo: PhaseRepo) -> None:
    with pytest.raises(GitError, match="Unknown rollback target 'phase2-checkpoint-T\\+99h'"):
        plan(phase_repo, "phase2-checkpoint-T+99h")


def test_plan_rollback_target_at_head_refused(phase_repo: PhaseRepo) -> None:
    with pytest.raises(GitError, match="already at HEAD"):
        plan(phase_repo, "HEAD")


def test_plan_rollback_non_ancestor_target_is_planned_as_such(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "switch", "-q", "-c", "side", "phase2-checkpoint-T+4h")
    side = phase_repo.commit("server/side.ts", "side\n", "side work")
    git(phase_repo.work, "switch", "-q", BRANCH)

    result = plan(phase_repo, "side")

    assert result.target_sha == side
    assert not result.target_is_ancestor and not result.target_is_checkpoint
    assert [c.subject for c in result.discarded] == ["wire email module"]


# -- refusals ------------------------------------------------------------------------------------


def test_plan_rollback_detached_head_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "switch", "-q", "--detach")

    with pytest.raises(GitError, match="HEAD is detached, not on feature/phase2"):
        plan(phase_repo)


def test_plan_rollback_other_branch_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "switch", "-q", "main")

    with pytest.raises(GitError, match="on 'main', not 'feature/phase2-module-integration'"):
        plan(phase_repo)


def test_plan_rollback_mid_merge_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "switch", "-q", "-c", "clash", "phase2-checkpoint-T+4h")
    phase_repo.commit("server/email.ts", "clash\n", "clashing email")
    git(phase_repo.work, "switch", "-q", BRANCH)
    assert git_try(phase_repo.work, "merge", "clash").returncode != 0

    with pytest.raises(GitError, match="merge is in progress") as caught:
        plan(phase_repo)

    assert "git merge --abort" in caught.value.user_message


def test_plan_rollback_conflicts_without_merge_marker_refused(phase_repo: PhaseRepo) -> None:
    # A conflicting `git stash pop` leaves unmerged files but no MERGE_HEAD.
    (phase_repo.work / "server" / "email.ts").write_text("stashed\n")
    git(phase_repo.work, "stash", "-q")
    phase_repo.commit("server/email.ts", "committed\n", "change email")
    assert git_try(phase_repo.work, "stash", "pop").returncode != 0

    with pytest.raises(GitError, match="1 file\\(s\\) have unresolved conflicts"):
        plan(phase_repo)


def test_plan_rollback_missing_remote_refused(phase_repo: PhaseRepo) -> None:
    with pytest.raises(GitError, match="No remote named 'upstream'"):
        plan(phase_repo, remote="upstream")


def test_plan_rollback_unreachable_remote_refused(phase_repo: PhaseRepo) -> None:
    git(phase_repo.work, "remote", "set-url", "origin", str(phase_repo.work.parent / "gone.git"))

    with pytest.raises(GitError, match="needs to know where origin is"):
        plan(phase_repo)


def test_plan_rollback_migrations_dir_outside_refused(phase_repo: PhaseRepo) -> None:
    with pytest.raises(InputError, match="plain path inside"):
        plan_rollback(
            repo=Repo(phase_repo.work),
            remote="origin",
            branch=BRANCH,
            phase="phase2",
            target=None,
            now=NOW,
            migrations_dir="../elsewhere",
        )


# -- verify_plan ---------------------------------------------------------------------------------


def test_verify_plan_unchanged_repo_is_none(phase_repo: PhaseRepo) -> None:
    assert verify_plan(repo=Repo(phase_repo.work), plan=plan(phase_repo)) is None


def test_verify_plan_detects_head_moved(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    moved = phase_repo.commit("server/late.ts", "late\n", "a late commit")

    reason = verify_plan(repo=Repo(phase_repo.work), plan=planned)

    assert reason == f"HEAD moved from {planned.head_sha[:7]} to {moved[:7]}"


def test_verify_plan_detects_origin_moved(phase_repo: PhaseRepo, tmp_path: Path) -> None:
    planned = plan(phase_repo)
    other = clone_origin(phase_repo, tmp_path / "other")
    pushed = push_from(other, "server/other.ts", "1\n", "behind the bot's back")

    reason = verify_plan(repo=Repo(phase_repo.work), plan=planned)

    assert reason == f"origin moved from {planned.remote_head[:7]} to {pushed[:7]}"  # type: ignore[index]


def test_verify_plan_detects_branch_switch(phase_repo: PhaseRepo) -> None:
    planned = plan(phase_repo)
    git(phase_repo.work, "switch", "-q", "--detach")

    reason = verify_plan(repo=Repo(phase_repo.work), plan=planned)

    assert reason is not None and "detached HEAD" in reason
