"""The demo sandbox: real git repositories under tmp_path, no service started here."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.local.demo.sandbox import (
    PHASE1_BRANCH,
    PHASE_BRANCH,
    SERVICE_SCRIPT,
    TAG_T4,
    TAG_T8,
    Sandbox,
    SandboxError,
    build_sandbox,
    free_port,
)

NOW = datetime(2025, 11, 21, 19, 0, tzinfo=UTC)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return build_sandbox(tmp_path / "sandbox", service_port=free_port(), now=NOW)


def test_build_sandbox_checks_out_phase_branch_tracking_origin(sandbox: Sandbox) -> None:
    assert git(sandbox.repo, "symbolic-ref", "--short", "HEAD") == PHASE_BRANCH
    assert git(sandbox.repo, "rev-parse", "--abbrev-ref", "@{upstream}") == f"origin/{PHASE_BRANCH}"
    assert git(sandbox.repo, "rev-parse", "HEAD") == git(sandbox.repo, "rev-parse", "@{upstream}")


def test_build_sandbox_branches_follow_procedure_strategy(sandbox: Sandbox) -> None:
    repo = sandbox.repo
    assert git(repo, "merge-base", "--is-ancestor", "main", PHASE1_BRANCH) == ""
    assert git(repo, "merge-base", "--is-ancestor", PHASE1_BRANCH, PHASE_BRANCH) == ""
    assert git(repo, "rev-list", "--count", f"main..{PHASE1_BRANCH}") == "2"


def test_build_sandbox_tags_are_annotated_with_procedure_messages(sandbox: Sandbox) -> None:
    repo = sandbox.repo
    expected = {
        TAG_T4: ("Phase 2 Checkpoint: 4 hours", "T+4h checkpoint - Customer validation, email"),
        TAG_T8: ("Phase 2 Checkpoint: Day 1 Complete", "T+8h checkpoint - All backends wired"),
    }
    for tag, (tag_message, commit_words) in expected.items():
        assert git(repo, "cat-file", "-t", tag) == "tag"  # annotated, not lightweight
        assert git(repo, "tag", "-l", "--format=%(contents:subject)", tag) == tag_message
        subject = git(repo, "log", "-1", "--format=%s", f"{tag}^{{commit}}")
        assert subject.startswith("stabilize(phase2): ") and commit_words in subject


def test_build_sandbox_pushes_branches_and_tags_to_bare_origin(sandbox: Sandbox) -> None:
    assert git(sandbox.origin, "rev-parse", "--is-bare-repository") == "true"
    lines = git(sandbox.repo, "ls-remote", "origin").splitlines()
    remote = {ref: sha for sha, ref in (line.split("\t") for line in lines)}
    for ref in ("refs/heads/main", f"refs/heads/{PHASE1_BRANCH}", f"refs/heads/{PHASE_BRANCH}"):
        assert remote[ref] == git(sandbox.repo, "rev-parse", ref)
    for tag in (TAG_T4, TAG_T8):
        assert remote[f"refs/tags/{tag}"] == git(sandbox.repo, "rev-parse", f"refs/tags/{tag}")


def test_build_sandbox_leaves_working_tree_clean(sandbox: Sandbox) -> None:
    assert git(sandbox.repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert (sandbox.repo / "node_modules" / ".cache").is_dir()  # ignored, for clear_cache


def test_build_sandbox_history_removes_email_config_after_t8h(sandbox: Sandbox) -> None:
    repo = sandbox.repo
    git(repo, "cat-file", "-e", f"{TAG_T8}:server/email-config.ts")  # raises if missing
    assert not (repo / "server" / "email-config.ts").exists()
    removals = git(repo, "log", "--format=%s", "--diff-filter=D", f"{TAG_T8}..HEAD", "--",
                   "server/email-config.ts")  # fmt: skip
    assert removals == "stabilize(phase2): remove old email config"
    grep = git(repo, "log", "--oneline", "--all", "--grep=email", "--grep=remove")
    assert "remove old email config" in grep


def test_build_sandbox_history_adds_phase2_migration_after_t8h(sandbox: Sandbox) -> None:
    changed = git(sandbox.repo, "diff", "--name-only", f"{TAG_T8}..HEAD").splitlines()
    assert "migrations/phase2_0002_add_deal_stage.sql" in changed
    assert (sandbox.repo / "migrations" / "0001_init.sql").is_file()


def test_build_sandbox_spreads_commit_dates_and_authors_over_phase(sandbox: Sandbox) -> None:
    started = NOW - timedelta(hours=10)
    t4_date = git(sandbox.repo, "log", "-1", "--format=%cI", f"{TAG_T4}^{{commit}}")
    assert datetime.fromisoformat(t4_date) == started + timedelta(hours=4)
    phase_dates = git(sandbox.repo, "log", "--format=%aI", f"{PHASE1_BRANCH}..HEAD").splitlines()
    parsed = [datetime.fromisoformat(d) for d in phase_dates]
    assert all(started < d < NOW for d in parsed) and len(set(parsed)) == len(parsed)
    authors = set(git(sandbox.repo, "log", "--format=%an", "HEAD").splitlines())
    assert len(authors) >= 2


def test_build_sandbox_sets_local_git_identity(sandbox: Sandbox) -> None:
    assert git(sandbox.repo, "config", "--local", "user.email")
    env = {**os.environ, "HOME": str(sandbox.root), "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip
    done = subprocess.run(
        ["git", "commit", "--allow-empty", "-q", "-m", "identity probe"],
        cwd=sandbox.repo, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_build_sandbox_writes_config_per_spec_section5(sandbox: Sandbox) -> None:
    config = tomllib.loads(sandbox.config_path.read_text(encoding="utf-8"))
    assert config["project"]["name"] == "autolytiq" and config["project"]["phase"] == "phase2"
    assert config["project"]["started_at"] == "2025-11-21T09:00:00Z"
    assert config["git"] == {"path": str(sandbox.repo), "remote": "origin", "branch": PHASE_BRANCH}
    service = config["service"]
    assert service["base_url"] == f"http://127.0.0.1:{sandbox.service_port}"
    assert service["health_path"] == "/healthz" and service["log_file"] == "logs/server.log"
    assert "validate" not in service and service["clear_cache"] == ["node_modules/.cache"]
    argv = shlex.split(service["restart"])
    assert argv[:3] == [sys.executable, "-P", str(SERVICE_SCRIPT)] and "restart" in argv
    paths = [e["path"] for e in config["checks"]["endpoints"]]
    assert paths == ["/api/customers", "/api/email/messages", "/api/deals"]
    assert config["database"] == {"url_env": "DATABASE_URL"}
    assert config["slack"] == {"channel": "C0INCIDENTS", "orchestrators": ["U0ORCH"]}
    assert (
        config["store"]["path"] == str(sandbox.root / "rollback-bot.db") == str(sandbox.store_path)
    )


def test_build_sandbox_quotes_awkward_paths_in_config(tmp_path: Path) -> None:
    sb = build_sandbox(tmp_path / 'odd "dir" \\ with spaces', service_port=5999, now=NOW)
    config = tomllib.loads(sb.config_path.read_text(encoding="utf-8"))
    assert config["git"]["path"] == str(sb.repo)
    assert shlex.split(config["service"]["restart"])[-3:] == [str(sb.repo), "--port", "5999"]


def test_build_sandbox_is_fast_and_touches_nothing_outside_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    started = time.monotonic()
    sb = build_sandbox(tmp_path / "sb")
    assert time.monotonic() - started < 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "sb"]
    assert list(home.iterdir()) == []
    assert 0 < sb.service_port < 65536 and sb.base_url.endswith(f":{sb.service_port}")


def test_build_sandbox_refuses_non_empty_root(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(SandboxError, match="missing or empty"):
        build_sandbox(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
