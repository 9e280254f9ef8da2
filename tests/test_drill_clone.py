"""The drill's git steps on throwaway repositories: the scratch clone (whole or sparse), the
break, the real rollback against the scratch remote, and the git-level verification, with the
live working copy and its origin read and never written."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from actions.drill import (
    BROKEN_TAG,
    FALLBACK_FILE,
    TEST_BRANCH,
    break_on_test_branch,
    clone_for_drill,
    remove_scratch,
    roll_back_test_branch,
    verify_at_git_level,
)
from actions.errors import GitError
from tests.gitrepo import BRANCH, PhaseRepo, git, git_try, make_phase_repo, repo_state

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _drill(repo: PhaseRepo, scratch: Path, *, whole_tree: bool) -> str:
    """The drill's git steps as /rollback drill takes them: the test branch checked out by the
    clone."""
    cloned = clone_for_drill(
        source=repo.work,
        branch=BRANCH,
        scratch=scratch,
        timeout_s=30,
        whole_tree=whole_tree,
        branch_off=TEST_BRANCH,
    )
    broke = break_on_test_branch(scratch=cloned, timeout_s=30)
    assert git(cloned.remote, "rev-parse", f"refs/heads/{TEST_BRANCH}") == broke
    assert git(cloned.clone, "rev-parse", BROKEN_TAG) == broke
    plan = roll_back_test_branch(scratch=cloned, now=NOW, phase="phase2", timeout_s=30)
    assert plan.target_sha == cloned.drilled and plan.head_sha == broke
    return verify_at_git_level(scratch=cloned, plan=plan, timeout_s=30)


@pytest.mark.parametrize("whole_tree", [True, False])
def test_drill_git_steps_leave_the_live_repository_and_origin_untouched(
    tmp_path: Path, whole_tree: bool
) -> None:
    repo = make_phase_repo(tmp_path / "live")
    (repo.work / "server" / "wip.ts").write_text("half done\n")
    (repo.work / "server" / "routes.ts").write_text("edited, not committed\n")
    before = repo_state(repo)
    said = _drill(repo, tmp_path / "scratch", whole_tree=whole_tree)
    assert repo_state(repo) == before
    assert ("sparse clone" in said) is not whole_tree
    assert "verified at git level" in said


def test_drill_clone_sparse_checks_out_only_the_broken_file(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path / "live")
    cloned = clone_for_drill(
        source=repo.work, branch=BRANCH, scratch=tmp_path / "s", timeout_s=30, whole_tree=False
    )
    break_on_test_branch(scratch=cloned, timeout_s=30)
    files = sorted(
        str(path.relative_to(cloned.clone))
        for path in cloned.clone.rglob("*")
        if path.is_file() and ".git" not in path.parts
    )
    assert files == ["server/routes.ts"]
    assert git(cloned.clone, "status", "--porcelain") == ""
    # The tree itself is whole: only the checkout is sparse.
    assert "server/email.ts" in git(cloned.clone, "ls-files")


def test_drill_clone_whole_tree_has_every_file_and_points_origin_at_the_scratch_remote(
    tmp_path: Path,
) -> None:
    repo = make_phase_repo(tmp_path / "live")
    cloned = clone_for_drill(
        source=repo.work, branch=BRANCH, scratch=tmp_path / "s", timeout_s=30, whole_tree=True
    )
    break_on_test_branch(scratch=cloned, timeout_s=30)
    assert (cloned.clone / "server" / "email.ts").is_file()
    assert git(cloned.clone, "remote") == "origin"
    assert git(cloned.clone, "remote", "get-url", "--all", "origin") == str(cloned.remote)
    alternates = (cloned.remote / "objects" / "info" / "alternates").read_text().strip()
    assert Path(alternates).is_relative_to(tmp_path / "s")


def test_drill_runs_no_hook_not_even_the_users_global_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_phase_repo(tmp_path / "live")
    hooks, ran = tmp_path / "hooks", tmp_path / "hooks-ran"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg", "pre-push", "pre-receive", "post-receive"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\necho {name} >> '{ran}'\n")
        hook.chmod(0o755)
    config = tmp_path / "global.gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    # The hooks are live: a plain push from the live repository runs them.
    probe = ["git", "push", "-q", str(repo.origin), "HEAD:refs/heads/hook-probe"]
    subprocess.run(probe, cwd=repo.work, check=True, timeout=30, capture_output=True)
    assert ran.read_text().split() == ["pre-push", "pre-receive", "post-receive"]
    ran.unlink()
    _drill(repo, tmp_path / "scratch", whole_tree=False)
    assert not ran.exists(), ran.read_text()


def test_drill_without_server_routes_breaks_a_file_of_its_own(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path / "live")
    git(repo.work, "rm", "-q", "--", "server/routes.ts")
    git(repo.work, "commit", "-q", "-m", "routes moved")
    for whole_tree in (True, False):
        scratch = tmp_path / f"scratch-{whole_tree}"
        cloned = clone_for_drill(
            source=repo.work, branch=BRANCH, scratch=scratch, timeout_s=30, whole_tree=whole_tree
        )
        break_on_test_branch(scratch=cloned, timeout_s=30)
        changed = git(cloned.clone, "show", "--name-only", "--format=", "HEAD")
        assert changed == FALLBACK_FILE
        plan = roll_back_test_branch(scratch=cloned, now=NOW, phase="phase2", timeout_s=30)
        assert "verified" in verify_at_git_level(scratch=cloned, plan=plan, timeout_s=30)
        assert not (cloned.clone / FALLBACK_FILE).exists()


def test_drill_clone_of_a_missing_branch_is_a_git_error(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path / "live")
    with pytest.raises(GitError, match="clone"):
        clone_for_drill(
            source=repo.work, branch="feature/nope", scratch=tmp_path / "s", timeout_s=30
        )


def test_drill_verification_names_a_remote_branch_that_did_not_move(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path / "live")
    cloned = clone_for_drill(source=repo.work, branch=BRANCH, scratch=tmp_path / "s", timeout_s=30)
    broke = break_on_test_branch(scratch=cloned, timeout_s=30)
    plan = roll_back_test_branch(scratch=cloned, now=NOW, phase="phase2", timeout_s=30)
    # Someone puts the break back on the scratch remote: the verification must say so.
    moved = git_try(cloned.remote, "update-ref", f"refs/heads/{TEST_BRANCH}", broke)
    assert moved.returncode == 0, moved.stderr
    with pytest.raises(GitError, match="the remote branch is"):
        verify_at_git_level(scratch=cloned, plan=plan, timeout_s=30)


def _global_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    config = tmp_path / "global.gitconfig"
    config.write_text(text)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))


def test_drill_clone_branches_off_without_upstream_even_when_git_always_tracks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checkout runs beside set-url, which writes the config: it must never write it too.
    # With autoSetupMerge=always, a test branch started from a branch would get tracking
    # config; it starts from the cloned commit, with --no-track.
    _global_config(tmp_path, monkeypatch, "[branch]\n\tautoSetupMerge = always\n")
    repo = make_phase_repo(tmp_path / "live")
    cloned = clone_for_drill(
        source=repo.work,
        branch=BRANCH,
        scratch=tmp_path / "s",
        timeout_s=30,
        whole_tree=False,
        branch_off=TEST_BRANCH,
    )
    assert cloned.drilled == repo.head()
    assert git(cloned.clone, "symbolic-ref", "HEAD") == f"refs/heads/{TEST_BRANCH}"
    assert git(cloned.clone, "rev-parse", "HEAD") == repo.head()
    upstream = git_try(cloned.clone, "config", "--get", f"branch.{TEST_BRANCH}.remote")
    assert upstream.returncode == 1, upstream.stdout
    assert git(cloned.clone, "remote", "get-url", "--all", "origin") == str(cloned.remote)
    assert (cloned.clone / "server" / "routes.ts").is_file()


def test_drill_break_is_the_bots_commit_whoever_runs_the_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _global_config(tmp_path, monkeypatch, "[user]\n\tname = Alice\n\temail = alice@example.com\n")
    for variable in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME"):
        monkeypatch.delenv(variable, raising=False)
    repo = make_phase_repo(tmp_path / "live")
    cloned = clone_for_drill(source=repo.work, branch=BRANCH, scratch=tmp_path / "s", timeout_s=30)
    broke = break_on_test_branch(scratch=cloned, timeout_s=30)
    made_by = git(cloned.clone, "show", "-s", "--format=%an <%ae> / %cn", broke)
    assert made_by == "rollback-bot <rollback-bot@localhost> / rollback-bot"


def test_remove_scratch_removes_everything_and_follows_no_symlink(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path / "live")
    scratch = tmp_path / "s"
    cloned = clone_for_drill(source=repo.work, branch=BRANCH, scratch=scratch, timeout_s=30)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n")
    (cloned.clone / "link-out").symlink_to(outside)
    (scratch / "service.log").write_text("a scratch service's output\n")
    remove_scratch(scratch)
    assert not scratch.exists()
    assert outside.read_text() == "keep me\n"
    assert repo.head() == cloned.drilled
    remove_scratch(scratch)  # already gone: nothing to do, and no error


def test_drill_break_is_unsigned_even_when_the_user_signs_every_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A gpg that always fails stands for one waiting on a passphrase nobody will type.
    _global_config(tmp_path, monkeypatch, "[commit]\n\tgpgSign = true\n[gpg]\n\tprogram = false\n")
    repo = make_phase_repo(tmp_path / "live")
    said = _drill(repo, tmp_path / "scratch", whole_tree=False)
    assert "verified at git level" in said
