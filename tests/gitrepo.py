"""Throwaway repositories for tests: a working copy on a phase branch and its bare origin."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

BRANCH = "feature/phase2-module-integration"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Engineer",
    "GIT_AUTHOR_EMAIL": "eng@example.com",
    "GIT_COMMITTER_NAME": "Test Engineer",
    "GIT_COMMITTER_EMAIL": "eng@example.com",
}


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_GLOBAL": os.devnull}
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


@dataclass(frozen=True)
class PhaseRepo:
    work: Path
    origin: Path

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")

    def remote_head(self) -> str:
        return git(self.origin, "rev-parse", f"refs/heads/{BRANCH}")

    def commit(self, name: str, content: str, message: str) -> str:
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        git(self.work, "add", "--", name)
        git(self.work, "commit", "-q", "-m", message)
        return self.head()


def make_phase_repo(root: Path) -> PhaseRepo:
    """main with one commit, the phase branch with a T+4h checkpoint tag and one more commit."""
    root.mkdir(parents=True, exist_ok=True)
    origin = root / "origin.git"
    work = root / "work"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main", str(work))
    git(work, "remote", "add", "origin", str(origin))
    repo = PhaseRepo(work=work, origin=origin)
    repo.commit("server/routes.ts", "export {}\n", "initial skeleton")
    git(work, "checkout", "-q", "-b", BRANCH)
    repo.commit("server/customers.ts", "export const customers = []\n", "wire customers")
    git(work, "tag", "-a", "phase2-checkpoint-T+4h", "-m", "Phase 2 Checkpoint: 4 hours")
    repo.commit("server/email.ts", "export const email = 1\n", "wire email module")
    git(work, "push", "-q", "origin", "main", BRANCH, "--tags")
    git(work, "branch", "-q", f"--set-upstream-to=origin/{BRANCH}")
    return repo


# -- added for the checkpoint tests ----------------------------------------------------------


@dataclass(frozen=True)
class RepoState:
    """Everything a refused checkpoint must leave exactly as it was."""

    head: str  # "ref: refs/heads/..." or a detached commit id
    refs: str  # every ref of the working copy (branches, tags, remote-tracking)
    index: bytes
    files: dict[str, bytes]  # the working tree, .git left out
    origin_refs: str


def repo_state(repo: PhaseRepo) -> RepoState:
    """Read without writing: no `git status` here, since it may refresh the index file."""
    files = {
        str(path.relative_to(repo.work)): path.read_bytes()
        for path in sorted(repo.work.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(repo.work).parts
    }
    return RepoState(
        head=(repo.work / ".git" / "HEAD").read_text().strip(),
        refs=git(repo.work, "for-each-ref", "--format=%(refname) %(objectname)"),
        index=(repo.work / ".git" / "index").read_bytes(),
        files=files,
        origin_refs=git(repo.origin, "for-each-ref", "--format=%(refname) %(objectname)"),
    )


def git_at(cwd: Path, date: str, *args: str) -> str:
    """git with author and committer (and so tagger) dates fixed, e.g. to order tags."""
    env = {
        **os.environ,
        **IDENTITY,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def clone_origin(repo: PhaseRepo, dest: Path) -> Path:
    """A second engineer's working copy of the phase branch."""
    git(dest.parent, "clone", "-q", "--branch", BRANCH, str(repo.origin), str(dest))
    return dest


def install_hook(git_dir: Path, name: str, script: str) -> Path:
    """An executable hook (e.g. ``pre-receive`` in the bare origin)."""
    path = git_dir / "hooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def git_try(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git that is expected to fail sometimes (a conflicting merge); the caller checks."""
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=30
    )


# -- added for the rollback tests ------------------------------------------------------------


def show_file(cwd: Path, rev: str, path: str) -> str | None:
    """A file's content in a commit (works in a bare repository too); None when it is absent."""
    result = git_try(cwd, "show", f"{rev}:{path}")
    return result.stdout if result.returncode == 0 else None


def push_from(clone: Path, name: str, content: str, message: str) -> str:
    """Commit one file in another working copy and push its branch: the remote moves."""
    path = clone / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(clone, "add", "--", name)
    git(clone, "commit", "-q", "-m", message)
    git(clone, "push", "-q", "origin", f"HEAD:refs/heads/{BRANCH}")
    return git(clone, "rev-parse", "HEAD")


def commit_as(repo: PhaseRepo, author: str, name: str, content: str, message: str) -> str:
    """A commit authored by someone else ("Name <email>"), committed by the test identity."""
    path = repo.work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    git(repo.work, "add", "--", name)
    git(repo.work, "commit", "-q", f"--author={author}", "-m", message)
    return repo.head()
