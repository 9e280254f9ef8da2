"""Checkpoints against hostile messages, arbitrary text, and two creators at once."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.checkpoint import CheckpointResult
from actions.errors import GitError
from tests.checkpointhelp import create, names_for
from tests.checkpointhelp import no_global_git_config as no_global_git_config
from tests.gitrepo import PhaseRepo, git

pytestmark = pytest.mark.usefixtures("no_global_git_config")
ROOT = Path(__file__).resolve().parent.parent


# -- malicious input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["--upload-pack=touch {dir}/pwned", "$(touch {dir}/pwned)", "`touch {dir}/pwned`", "-n"],
)
def test_create_checkpoint_hostile_message_is_literal(
    phase_repo: PhaseRepo, tmp_path: Path, template: str
) -> None:
    message = template.format(dir=tmp_path)
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 6\n")
    names = names_for(8, message)
    before = names_for(9, message, kind="before")

    result = create(phase_repo, names)
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 7\n")
    second = create(phase_repo, before)

    assert git(phase_repo.work, "log", "-1", "--format=%B", result.commit) == (
        f"stabilize(phase2): T+8h checkpoint - {message}"
    )
    assert (
        git(phase_repo.work, "log", "-1", "--format=%B", second.commit)
        == second.names.commit_message
    )
    assert second.names.commit_message.endswith(f"checkpoint before {message}")
    assert git(phase_repo.origin, "cat-file", "-t", f"refs/tags/{names.tag}") == "tag"
    assert not list(tmp_path.rglob("pwned"))


def test_create_checkpoint_message_bytes_survive_exactly(phase_repo: PhaseRepo) -> None:
    message = "  # not a comment; ünïcødé ✓ 'quotes' \"double\" \\ back  "
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 7\n")
    names = names_for(24, message, kind="complete")

    result = create(phase_repo, names)

    stripped = message.strip()
    assert git(phase_repo.work, "log", "-1", "--format=%B", result.commit) == (
        f"stabilize(phase2): T+24h - {stripped}"
    )
    assert git(phase_repo.origin, "for-each-ref", "--format=%(contents)", "refs/tags/").endswith(
        f"Phase 2 Complete: {stripped}"
    )


_LABELS = itertools.count(100)
_PLAIN_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
        blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    max_size=200,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(message=_PLAIN_TEXT, kind=st.sampled_from(["checkpoint", "complete"]))
def test_create_checkpoint_property_messages_reach_git_exactly(
    phase_repo: PhaseRepo, message: str, kind: str
) -> None:
    hours = next(_LABELS)  # one repository for all examples: every example a new label
    (phase_repo.work / "server" / "email.ts").write_text(f"export const email = {hours}\n")
    names = names_for(hours, message, kind=kind)

    result = create(phase_repo, names)

    assert result.committed
    body = git(phase_repo.origin, "log", "-1", "--format=%B", result.commit)
    assert body.split("\n")[0] == names.commit_message
    assert body == names.commit_message
    contents = git(
        phase_repo.origin, "for-each-ref", "--format=%(contents)", f"refs/tags/{names.tag}"
    )
    assert contents == names.tag_message


# -- concurrency ---------------------------------------------------------------------------------


def test_create_checkpoint_two_threads_one_wins(phase_repo: PhaseRepo) -> None:
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 8\n")
    names = names_for(8, "racing")
    barrier = threading.Barrier(2, timeout=10)
    results: list[CheckpointResult] = []
    errors: list[GitError] = []

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(create(phase_repo, names))
        except GitError as error:
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert len(results) == 1
    assert len(errors) == 1
    assert "already exists" in errors[0].user_message or "right now" in errors[0].user_message
    winner = results[0]
    assert git(phase_repo.origin, "tag", "--list", "phase2-checkpoint-T+8h*") == names.tag
    assert git(phase_repo.origin, "rev-parse", f"refs/tags/{names.tag}^{{commit}}") == winner.commit
    assert phase_repo.head() == winner.commit
    assert git(phase_repo.work, "rev-list", "--count", f"{winner.previous_head}..HEAD") == "1"


_RACER = """
import sys, git
from datetime import datetime, timedelta, UTC
from pathlib import Path
from actions.checkpoint import checkpoint_names, create_checkpoint
from actions.errors import GitError
from git import Repo
start = datetime(2025, 11, 21, 9, 0, tzinfo=UTC)
names = checkpoint_names(phase="phase2", kind="checkpoint", hours=8, message="racing",
                         started_at=start, now=start)
go = Path(sys.argv[2])
for _ in range(400):  # bounded wait for the starting signal
    if go.exists():
        break
    __import__("time").sleep(0.01)
try:
    create_checkpoint(repo=Repo(sys.argv[1]), remote="origin",
                      branch="feature/phase2-module-integration", names=names, timeout_s=30)
except GitError as error:
    print(error.user_message)
    sys.exit(3)
"""


def test_create_checkpoint_two_processes_one_wins(phase_repo: PhaseRepo, tmp_path: Path) -> None:
    (phase_repo.work / "server" / "email.ts").write_text("export const email = 9\n")
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(phase_repo.work), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    outcomes = [racer.communicate(timeout=60) for racer in racers]
    codes = sorted(racer.returncode for racer in racers)

    assert codes == [0, 3], outcomes
    assert git(phase_repo.origin, "tag", "--list", "phase2-checkpoint-T+8h") == (
        "phase2-checkpoint-T+8h"
    )
    assert phase_repo.remote_head() == phase_repo.head()
    assert git(phase_repo.work, "status", "--porcelain") == ""
