"""resolve_ref: a branch's commit read from its loose file, or asked of git when it is not one."""

from __future__ import annotations

from pathlib import Path

import git as gitpython
import pytest

from actions.errors import GitError
from actions.rollback_git import resolve_ref
from tests.gitrepo import BRANCH, git, make_phase_repo

REF = f"refs/heads/{BRANCH}"


def test_resolve_ref_reads_a_loose_branch(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path)
    assert (repo.work / ".git" / REF).is_file()
    assert resolve_ref(gitpython.Repo(repo.work), REF, 30) == repo.head()


def test_resolve_ref_asks_git_for_a_packed_branch(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path)
    git(repo.work, "pack-refs", "--all", "--prune")
    assert not (repo.work / ".git" / REF).exists()
    assert resolve_ref(gitpython.Repo(repo.work), REF, 30) == repo.head()


def test_resolve_ref_of_a_symbolic_ref_gives_the_commit_not_the_text(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path)
    git(repo.work, "symbolic-ref", "refs/heads/alias", REF)
    assert resolve_ref(gitpython.Repo(repo.work), "refs/heads/alias", 30) == repo.head()


def test_resolve_ref_of_a_missing_branch_is_a_git_error(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path)
    with pytest.raises(GitError, match="found no feature/nope"):
        resolve_ref(gitpython.Repo(repo.work), "refs/heads/feature/nope", 30)


def test_resolve_ref_never_reads_a_path_that_leaves_the_refs(tmp_path: Path) -> None:
    repo = make_phase_repo(tmp_path)
    # A file outside refs/ that holds an object id, as a loose ref would.
    (repo.work / ".git" / "planted").write_text(repo.head() + "\n")
    with pytest.raises(GitError):
        resolve_ref(gitpython.Repo(repo.work), "refs/heads/../../planted", 30)
