"""The removal's plan and its one-file commit on a throwaway repository with a bare origin:
every path that cannot be removed is refused with its reason and nothing changes; globs and
folders name their tracked files; a removal run twice makes one commit."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from git import Repo
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.errors import GitError, InputError
from actions.removal import plan_removal, removal_fingerprint, remove_and_commit
from actions.removal_paths import MAX_PATHS
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import BRANCH, PhaseRepo, git, make_phase_repo, repo_state

pytestmark = pytest.mark.usefixtures("no_global_git_config")
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def phase(tmp_path: Path) -> PhaseRepo:
    repo = make_phase_repo(tmp_path / "repo")
    repo.commit("server/email/legacy-sender.ts", "x\n", "wire legacy sender")
    repo.commit("server/email/templates.ts", "y\n", "wire templates")
    git(repo.work, "push", "-q", "origin", BRANCH)
    return repo


def plan(repo: PhaseRepo, *asked: str):  # type: ignore[no-untyped-def]
    return plan_removal(
        repo=Repo(repo.work), remote="origin", branch=BRANCH, phase="phase2", asked=asked, now=NOW
    )


def refused(repo: PhaseRepo, *asked: str, error: type[Exception] = InputError) -> str:
    before = repo_state(repo)
    with pytest.raises(error) as raised:
        plan(repo, *asked)
    assert repo_state(repo) == before
    message = str(raised.value)
    assert "Nothing was removed" in message, message
    return message


def test_plan_names_each_tracked_file_once_in_the_order_asked(phase: PhaseRepo) -> None:
    made = plan(phase, "server/email", "server/customers.ts", "server/email/templates.ts")
    assert made.paths == (
        "server/email/legacy-sender.ts",
        "server/email/templates.ts",
        "server/customers.ts",
    )
    assert made.email_paths == made.paths[:2]
    assert made.head_sha == phase.head() and made.remote_head == phase.remote_head()
    assert made.fingerprint == removal_fingerprint(BRANCH, phase.head(), phase.head(), made.paths)


def test_plan_expands_a_glob_to_tracked_files_only(phase: PhaseRepo) -> None:
    # Ignored, so the tree is clean, and on disk: the glob still names tracked files only.
    (phase.work / "server" / "email" / "draft.ts").write_text("untracked\n")
    (phase.work / ".git" / "info" / "exclude").write_text("draft.ts\n")
    assert plan(phase, "server/email/*.ts").paths == (
        "server/email/legacy-sender.ts",
        "server/email/templates.ts",
    )


@pytest.mark.parametrize(
    ("asked", "said"),
    [
        ("../outside.ts", "must be a path inside the repository"),
        ("/etc/passwd", "must be a path inside the repository"),
        ("-rf", "must be a path inside the repository"),
        ("server/../../x", "must be a path inside the repository"),
        (".git/config", "not a file the repository tracks"),
        ("server/nothing.ts", "does not exist"),
        ("server/*.go", "matches no tracked file"),
    ],
)
def test_plan_refuses_a_path_it_cannot_remove(phase: PhaseRepo, asked: str, said: str) -> None:
    assert said in refused(phase, asked)


def test_plan_refuses_an_untracked_file(phase: PhaseRepo) -> None:
    (phase.work / "notes.txt").write_text("mine\n")
    message = refused(phase, "notes.txt")
    assert "not tracked" in message


def test_plan_refuses_a_tracked_symlink_that_leads_outside(
    phase: PhaseRepo, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not ours\n")
    os.symlink(secret, phase.work / "server" / "link.ts")
    git(phase.work, "add", "server/link.ts")
    git(phase.work, "commit", "-q", "-m", "a link")
    assert "leads outside the repository" in refused(phase, "server/link.ts")
    assert secret.read_text() == "not ours\n"


def test_plan_refuses_a_path_through_a_symlinked_folder(phase: PhaseRepo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "file.ts").write_text("x\n")
    os.symlink(outside, phase.work / "vendor")
    git(phase.work, "add", "vendor")
    git(phase.work, "commit", "-q", "-m", "vendor link")
    message = refused(phase, "vendor/file.ts")
    assert "not tracked" in message or "outside" in message
    assert (outside / "file.ts").is_file()


def test_plan_refuses_more_than_fifty_paths(phase: PhaseRepo) -> None:
    for index in range(MAX_PATHS + 1):
        (phase.work / "many").mkdir(exist_ok=True)
        (phase.work / "many" / f"f{index}.ts").write_text(f"{index}\n")
    git(phase.work, "add", "many")
    git(phase.work, "commit", "-q", "-m", "many files")
    assert "more than 50" in refused(phase, *(f"many/f{i}.ts" for i in range(MAX_PATHS + 1)))
    assert "51 tracked files, more than 50" in refused(phase, "many")


def test_plan_refuses_a_dirty_tree(phase: PhaseRepo) -> None:
    (phase.work / "server" / "customers.ts").write_text("changed\n")
    message = refused(phase, "server/email.ts", error=GitError)
    assert "uncommitted or untracked work" in message and "server/customers.ts" in message


def test_plan_refuses_when_the_remote_has_commits_head_lacks(phase: PhaseRepo) -> None:
    git(phase.work, "commit", "-q", "--allow-empty", "-m", "local only")
    git(phase.work, "push", "-q", "origin", BRANCH)
    git(phase.work, "reset", "-q", "--hard", "HEAD~1")
    assert "which HEAD does not contain" in refused(phase, "server/email.ts", error=GitError)


def test_remove_and_commit_makes_one_commit_of_that_file_even_when_run_twice(
    phase: PhaseRepo,
) -> None:
    parent = phase.head()
    (phase.work / "server" / "untracked-log.txt").write_text("service output\n")
    args = dict(
        repo=Repo(phase.work),
        branch=BRANCH,
        path="server/email/templates.ts",
        parent_sha=parent,
        message="stabilize(phase2): remove server/email/templates.ts",
    )
    first = remove_and_commit(**args)  # type: ignore[arg-type]
    again = remove_and_commit(**args)  # type: ignore[arg-type]
    assert first == again == phase.head()
    assert git(phase.work, "rev-parse", "HEAD~1") == parent
    changed = git(phase.work, "show", "--name-status", "--format=", "HEAD")
    assert changed == "D\tserver/email/templates.ts"
    assert (phase.work / "server" / "untracked-log.txt").is_file()


def test_remove_and_commit_refuses_when_head_moved_elsewhere(phase: PhaseRepo) -> None:
    parent = phase.head()
    phase.commit("server/other.ts", "z\n", "someone else's commit")
    with pytest.raises(GitError, match="HEAD moved"):
        remove_and_commit(
            repo=Repo(phase.work),
            branch=BRANCH,
            path="server/email.ts",
            parent_sha=parent,
            message="stabilize(phase2): remove server/email.ts",
        )
    assert (phase.work / "server" / "email.ts").is_file()


def test_remove_and_commit_refuses_other_staged_changes(phase: PhaseRepo) -> None:
    (phase.work / "server" / "customers.ts").write_text("staged\n")
    git(phase.work, "add", "server/customers.ts")
    with pytest.raises(GitError, match="Other changes are staged"):
        remove_and_commit(
            repo=Repo(phase.work),
            branch=BRANCH,
            path="server/email.ts",
            parent_sha=phase.head(),
            message="stabilize(phase2): remove server/email.ts",
        )
    assert (phase.work / "server" / "email.ts").is_file()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text("ab/", min_size=1, max_size=6), min_size=1, max_size=4),
    st.sampled_from(["main", BRANCH]),
)
def test_removal_fingerprint_changes_with_any_input(paths: list[str], branch: str) -> None:
    head, remote = "a" * 40, "b" * 40
    base = removal_fingerprint(branch, head, remote, paths)
    assert removal_fingerprint(branch, head, remote, paths) == base
    assert removal_fingerprint(branch, "c" * 40, remote, paths) != base
    assert removal_fingerprint(branch, head, None, paths) != base
    assert removal_fingerprint(branch, head, remote, [*paths, "x"]) != base
    assert removal_fingerprint(branch, head, remote, [*paths[::-1], "\x00"]) != base
