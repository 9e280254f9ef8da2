"""What the checkpoint tests share: names for a label, one call, a deterministic identity."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from git import Repo

from actions.checkpoint import (
    CheckpointNames,
    CheckpointResult,
    checkpoint_names,
    create_checkpoint,
)
from tests.gitrepo import BRANCH, PhaseRepo

START = datetime(2025, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def no_global_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's ~/.gitconfig must not decide which identity the bot commits with.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def names_for(hours: int, message: str = "", kind: str = "checkpoint") -> CheckpointNames:
    return checkpoint_names(
        phase="phase2",
        kind=kind,  # type: ignore[arg-type]
        hours=hours,
        message=message,
        started_at=START,
        now=START + timedelta(hours=hours),
    )


def create(repo: PhaseRepo, names: CheckpointNames, **kwargs: str) -> CheckpointResult:
    return create_checkpoint(
        repo=Repo(repo.work),
        remote=kwargs.get("remote", "origin"),
        branch=kwargs.get("branch", BRANCH),
        names=names,
        timeout_s=30.0,
    )


def make_changes(repo: PhaseRepo) -> None:
    """A tracked edit, a deletion, an untracked file and an ignored one."""
    repo.commit(".gitignore", "*.log\n", "ignore logs")
    (repo.work / "server" / "email.ts").write_text("export const email = 2\n")
    (repo.work / "server" / "routes.ts").unlink()
    (repo.work / "notes").mkdir()
    (repo.work / "notes" / "plan.md").write_text("next: customers\n")
    (repo.work / "debug.log").write_text("noise\n")
