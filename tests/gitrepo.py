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
