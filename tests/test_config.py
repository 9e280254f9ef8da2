from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import ConfigError
from bot.config import load_config
from bot.settings import Secret, load_settings, read_slack_settings
from tests.conftest import config_text
from tests.gitrepo import BRANCH, PhaseRepo


def test_load_config_reads_every_section(config_path: Path, phase_repo: PhaseRepo) -> None:
    config = load_config(config_path)
    assert config.project.phase == "phase2"
    assert config.project.started_at.isoformat() == "2025-11-21T09:00:00+00:00"
    assert config.git.path == phase_repo.work.resolve()
    assert config.git.branch == BRANCH
    assert config.service.ready_timeout_s == 5.0
    assert config.service.log_file == phase_repo.work.resolve() / "logs/server.log"
    assert config.service.clear_cache == (phase_repo.work.resolve() / "node_modules/.cache",)
    assert [e.name for e in config.checks.endpoints] == ["customers"]
    assert config.database.url_env == "DATABASE_URL"
    assert config.slack.orchestrators == ("U0ORCH",)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t.replace('remote = "origin"\n', ""), "git.remote is missing"),
        (
            lambda t: t.replace("ready_timeout_s = 5", 'ready_timeout_s = "5"'),
            "service.ready_timeout_s: expected a number of seconds, got a string",
        ),
        (
            lambda t: t.replace("ready_timeout_s = 5", "ready_timout_s = 5"),
            "unknown key 'ready_timout_s'",
        ),
        (
            lambda t: t.replace('channel = "C0INCIDENTS"', 'channel = "#incidents"'),
            "slack.channel: expected a channel ID",
        ),
        (lambda t: t.replace('["U0ORCH"]', '["alice"]'), "slack.orchestrators"),
        (lambda t: t.replace('["U0ORCH"]', "[]"), "an empty list"),
        (
            lambda t: t.replace('"2025-11-21T09:00:00Z"', '"yesterday"'),
            "project.started_at: expected an RFC 3339 time",
        ),
        (lambda t: t.replace('"2025-11-21T09:00:00Z"', '"2025-11-21T09:00:00"'), "time zone"),
        (lambda t: t.replace('phase = "phase2"', 'phase = "Phase 2"'), "project.phase"),
        (
            lambda t: t.replace(f'branch = "{BRANCH}"', 'branch = "--upload-pack=evil"'),
            "git.branch: '--upload-pack=evil' is not a valid branch name",
        ),
        (
            lambda t: t.replace('"logs/server.log"', '"../../etc/passwd"'),
            "service.log_file: '../../etc/passwd' must be a path inside git.path",
        ),
        (lambda t: t.replace('["node_modules/.cache"]', '["."]'), "service.clear_cache"),
        (
            lambda t: t.replace('url_env = "DATABASE_URL"', 'url_env = "postgres://u:p@h/db"'),
            "database.url_env: expected an environment variable name",
        ),
        (
            lambda t: t.replace('base_url = "http://127.0.0.1:9"', 'base_url = "localhost:5000"'),
            "service.base_url: expected an http(s) URL",
        ),
        (lambda t: t + "\n[extra]\nx = 1\n", "the top level: unknown key 'extra'"),
        (lambda t: t.replace("[slack]", "[slak]"), "slack is missing"),
        (
            lambda t: t.replace("[project]", "project = 3\n[projectx]"),
            "project: expected a table, got an integer",
        ),
    ],
)
def test_load_config_bad_value_names_key(
    tmp_path: Path, phase_repo: PhaseRepo, mutate, expected: str
) -> None:  # type: ignore[no-untyped-def]
    text = mutate(config_text(phase_repo.work, tmp_path / "x.db"))
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    assert expected in caught.value.user_message
    assert "\n" not in caught.value.user_message


def test_load_config_missing_repo_path_is_named(tmp_path: Path) -> None:
    text = config_text(tmp_path / "nowhere", tmp_path / "x.db")
    with pytest.raises(ConfigError, match=r"git\.path: .*does not exist"):
        load_config(_write(tmp_path, text))


def test_load_config_folder_that_is_not_a_repo_is_named(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ConfigError, match=r"git\.path: .*is not a git repository"):
        load_config(_write(tmp_path, config_text(plain, tmp_path / "x.db")))


def test_load_config_missing_file_and_bad_toml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[project\nname="))


def test_read_slack_settings_requires_tokens_by_name() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        read_slack_settings({"SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        read_slack_settings({"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="starting with 'xoxb-'"):
        read_slack_settings({"SLACK_BOT_TOKEN": "abc", "SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        read_slack_settings(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "x"}
        )


def test_load_settings_keeps_secrets_out_of_repr(config_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-very-secret",
        "SLACK_SIGNING_SECRET": "shh-signing",
        "SLACK_APP_TOKEN": "xapp-1-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api",
        "DATABASE_URL": "postgres://app:hunter2@127.0.0.1/db",
    }
    settings = load_settings(config_path, env)
    shown = repr(settings) + str(settings)
    for secret in env.values():
        if secret.startswith("http"):
            continue
        assert secret not in shown
    assert "hunter2" not in shown
    assert settings.slack.api_url == "http://127.0.0.1:9/api/"
    assert settings.slack.socket_mode
    assert settings.database_url == Secret("postgres://app:hunter2@127.0.0.1/db")


CHECKS = """
[checks]
timeout_s = 3
slow_after_s = 1.5
interval_min = 0

[[checks.frontend]]
name = "home page"
path = "/"

[[checks.flows]]
name = "login and view inbox"
steps = [
  { method = "post", path = "/login", json = { user = "demo" } },
  { path = "/inbox", expect_status = 200, expect_text = "Inbox" },
]

[[checks.endpoints]]
"""


def test_load_config_reads_checks_flows_and_database(tmp_path: Path, phase_repo: PhaseRepo) -> None:
    text = config_text(phase_repo.work, tmp_path / "x.db").replace("[[checks.endpoints]]", CHECKS)
    text = text.replace(
        'url_env = "DATABASE_URL"',
        'url_env = "DATABASE_URL"\nmigrations_table = "public.migrations"\nslow_query_ms = 250',
    )
    config = load_config(_write(tmp_path, text))
    assert (config.checks.timeout_s, config.checks.slow_after_s, config.checks.interval_min) == (
        3.0,
        1.5,
        0.0,
    )
    assert [f.path for f in config.checks.frontend] == ["/"]
    (flow,) = config.checks.flows
    assert flow.steps[0].method == "POST" and flow.steps[0].json == {"user": "demo"}
    assert flow.steps[1].method == "GET" and flow.steps[1].expect_text == "Inbox"
    assert config.database.migrations_table == "public.migrations"
    assert config.database.slow_query_ms == 250.0


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "[[checks.endpoints]]",
            "[checks]\ntimeout_s = 0\n[[checks.endpoints]]",
            "checks.timeout_s: expected 0 < seconds",
        ),
        (
            "[[checks.endpoints]]",
            "[checks]\ninterval_min = -5\n[[checks.endpoints]]",
            "checks.interval_min",
        ),
        (
            'path = "/api/customers"',
            'path = "/api/customers"\nmethod = "BREW"',
            "checks.endpoints[0].method: expected one of GET",
        ),
        (
            "[[checks.endpoints]]",
            '[[checks.flows]]\nname = "f"\nsteps = []\n[[checks.endpoints]]',
            "checks.flows[0].steps: expected at least one step",
        ),
        (
            "[[checks.endpoints]]",
            '[[checks.flows]]\nname = "f"\nsteps = [{ path = "/x", expect_status = 999 }]\n[[checks.endpoints]]',
            "expected an HTTP status",
        ),
        (
            'url_env = "DATABASE_URL"',
            'url_env = "DATABASE_URL"\nmigrations_table = "x; DROP TABLE y"',
            "database.migrations_table: expected [schema.]table",
        ),
        (
            'url_env = "DATABASE_URL"',
            'url_env = "DATABASE_URL"\nmigrations_dir = "../elsewhere"',
            "database.migrations_dir: must be a folder inside git.path",
        ),
    ],
)
def test_load_config_bad_check_settings_are_named(
    tmp_path: Path, phase_repo: PhaseRepo, replace: str, by: str, expected: str
) -> None:
    text = config_text(phase_repo.work, tmp_path / "x.db").replace(replace, by, 1)
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    assert expected in caught.value.user_message
