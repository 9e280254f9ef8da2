from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.deps import Deps
from bot.local.demo.sandbox import Sandbox, build_sandbox, start_service, stop_service
from bot.settings import Secret, Settings, SlackSettings
from store import SqliteStore
from tests.gitrepo import BRANCH, PhaseRepo, make_phase_repo
from tests.servehelp import free_port

# One real PostgreSQL for the whole session, started on first use (tests/pgserver.py).
from tests.pgserver import pg_server_fixture as pg_server_fixture  # isort: skip

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-emulator-token"


def config_text(repo: Path, store: Path, **overrides: str) -> str:
    values = {
        "phase": "phase2",
        "started_at": "2025-11-21T09:00:00Z",
        "restart": "true",
        "base_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return f"""
[project]
name = "autolytiq"
phase = "{values["phase"]}"
started_at = "{values["started_at"]}"

[git]
path = "{repo}"
remote = "origin"
branch = "{BRANCH}"

[service]
restart = "{values["restart"]}"
base_url = "{values["base_url"]}"
health_path = "/healthz"
ready_timeout_s = 5
log_file = "logs/server.log"
clear_cache = ["node_modules/.cache"]

[[checks.endpoints]]
name = "customers"
path = "/api/customers"

[database]
url_env = "DATABASE_URL"

[slack]
channel = "C0INCIDENTS"
orchestrators = ["U0ORCH"]

[store]
path = "{store}"
"""


@pytest.fixture
def phase_repo(tmp_path: Path) -> PhaseRepo:
    return make_phase_repo(tmp_path / "repos")


@pytest.fixture
def config_path(tmp_path: Path, phase_repo: PhaseRepo) -> Path:
    path = tmp_path / "rollback-bot.toml"
    path.write_text(config_text(phase_repo.work, tmp_path / "rollback-bot.db"))
    return path


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """The demo sandbox with its service running: a real repository with a phase history, its
    bare origin, the demo service and a config."""
    sb = build_sandbox(tmp_path / "sandbox", service_port=free_port())
    start_service(sb)
    try:
        yield sb
    finally:
        stop_service(sb)


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "fresh.db")
    yield store
    store.close()


def make_settings(config: Config, api_url: str | None = None) -> Settings:
    slack = SlackSettings(
        bot_token=Secret(BOT_TOKEN),
        signing_secret=Secret(SIGNING_SECRET),
        app_token=None,
        api_url=api_url,
    )
    return Settings(config=config, slack=slack, database_url=None)


@pytest.fixture
def deps(config: Config) -> Iterator[Deps]:
    store = SqliteStore(config.store.path)
    yield Deps(settings=make_settings(config), store=store)
    store.close()
