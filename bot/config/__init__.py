"""The ``rollback-bot.toml`` contract (SPEC section 5), parsed into frozen dataclasses.

The dataclasses are in :mod:`bot.config.model`; one module per larger section parses it
(:mod:`bot.config.checks`), and this one reads the file and the small sections.

Loading validates everything up front, so a bad file stops start-up with one line that names
the key and what is expected, instead of failing at 3 a.m. in the middle of a rollback. The file
never holds secrets: the database URL is named by ``database.url_env`` and read from the
environment by :mod:`bot.settings`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from actions.errors import ConfigError
from actions.refs import is_valid_branch_name
from bot.config.checks import parse_checks
from bot.config.database import ENV_NAME_RE, parse_database
from bot.config.drills import parse_drills
from bot.config.escalation import parse_escalation
from bot.config.model import (
    CheckpointsConfig,
    ChecksConfig,
    Config,
    DatabaseConfig,
    DrillsConfig,
    EndpointCheck,
    FlowCheck,
    GitConfig,
    PostmortemConfig,
    ProjectConfig,
    ServiceConfig,
    SlackConfig,
    StoreConfig,
)
from bot.config.policy import parse_policy
from bot.config.postmortem import parse_postmortem
from bot.config.principals import principals
from bot.config.section import Section, seconds
from bot.config.watch import parse_watch

__all__ = [
    "CheckpointsConfig",
    "ChecksConfig",
    "Config",
    "DatabaseConfig",
    "DrillsConfig",
    "EndpointCheck",
    "FlowCheck",
    "GitConfig",
    "PostmortemConfig",
    "ProjectConfig",
    "ServiceConfig",
    "SlackConfig",
    "StoreConfig",
    "load_config",
    "parse_config",
]

_PHASE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_REMOTE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def load_config(path: Path) -> Config:
    """Read and validate the config file; raise :class:`ConfigError` with one clear line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    return parse_config(data, base_dir=path.resolve().parent, source=path.resolve())


def parse_config(data: Mapping[str, Any], *, base_dir: Path, source: Path) -> Config:
    """Validate already-parsed TOML; relative paths are taken from ``base_dir``."""
    top = Section(data, "")
    git = _parse_git(top.table("git"), base_dir)
    store = _parse_store(top.table("store"), base_dir)
    config = Config(
        source=source,
        project=_parse_project(top.table("project")),
        git=git,
        service=_parse_service(top.table("service"), git.path),
        checks=parse_checks(top),
        checkpoints=_parse_checkpoints(top),
        database=parse_database(top, store_dir=store.path.parent),
        slack=_parse_slack(top.table("slack")),
        store=store,
        policy=parse_policy(top),
        escalation=parse_escalation(top),
        postmortem=parse_postmortem(top),
        drills=parse_drills(top),
        watch=parse_watch(top),
    )
    top.finish()
    return config


def _parse_project(section: Section) -> ProjectConfig:
    name = section.text("name")
    phase = section.text("phase", "a phase name such as 'phase2'")
    if not _PHASE_RE.match(phase):
        raise ConfigError(
            f"{section.key('phase')}: expected lower-case letters, digits, '.', '_' or '-' "
            f"(it becomes part of tag names), got {phase!r}"
        )
    raw_start = section.text("started_at", "an RFC 3339 time such as 2025-11-21T09:00:00Z")
    try:
        started_at = datetime.fromisoformat(raw_start.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{section.key('started_at')}: expected an RFC 3339 time such as "
            f"2025-11-21T09:00:00Z, got {raw_start!r}"
        ) from None
    if started_at.tzinfo is None:
        raise ConfigError(f"{section.key('started_at')}: expected a time zone (e.g. a final Z)")
    section.finish()
    return ProjectConfig(name=name, phase=phase, started_at=started_at.astimezone(UTC))


def _parse_git(section: Section, base_dir: Path) -> GitConfig:
    raw_path = section.text("path", "the path of the working copy the service runs from")
    path = (base_dir / raw_path).resolve()
    if not path.is_dir():
        raise ConfigError(f"{section.key('path')}: {raw_path!r} does not exist or is not a folder")
    if not (path / ".git").exists():
        raise ConfigError(f"{section.key('path')}: {raw_path!r} is not a git repository")
    remote = section.text("remote", "a git remote name such as 'origin'")
    if not _REMOTE_RE.match(remote):
        raise ConfigError(f"{section.key('remote')}: {remote!r} is not a valid remote name")
    branch = section.text("branch", "the phase's feature branch")
    if not is_valid_branch_name(branch):
        raise ConfigError(f"{section.key('branch')}: {branch!r} is not a valid branch name")
    clean_untracked = section.boolean("clean_untracked", True)
    section.finish()
    return GitConfig(path=path, remote=remote, branch=branch, clean_untracked=clean_untracked)


def _parse_service(section: Section, repo: Path) -> ServiceConfig:
    restart = section.text("restart", "the shell command that restarts the service")
    base_url = section.text("base_url", "the service's base URL such as http://localhost:5000")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{section.key('base_url')}: expected an http(s) URL, got {base_url!r}")
    health_path = section.optional_text("health_path") or "/"
    if not health_path.startswith("/"):
        raise ConfigError(f"{section.key('health_path')}: expected a path starting with '/'")
    ready_timeout_s = section.number("ready_timeout_s", 30.0, "a number of seconds")
    if not 0 < ready_timeout_s <= 3600:
        raise ConfigError(f"{section.key('ready_timeout_s')}: expected 0 < seconds <= 3600")
    log_file = section.optional_text("log_file", "a path relative to git.path")
    clear_cache = section.text_list(
        "clear_cache", "a list of paths relative to git.path", required=False
    )
    cache_paths = tuple(
        _require_inside(repo, entry, section.key("clear_cache")) for entry in clear_cache
    )
    validate = section.optional_text("validate", "a shell command")
    restart_timeout_s = seconds(section, "restart_timeout_s", 120.0)
    validate_timeout_s = seconds(section, "validate_timeout_s", 300.0)
    pass_env = tuple(
        section.text_list("pass_env", "a list of environment variable names", required=False)
    )
    for name in pass_env:
        if not ENV_NAME_RE.match(name):
            raise ConfigError(f"{section.key('pass_env')}: {name!r} is not a variable name")
    section.finish()
    return ServiceConfig(
        restart=restart,
        base_url=base_url.rstrip("/"),
        health_path=health_path,
        ready_timeout_s=ready_timeout_s,
        log_file=_require_inside(repo, log_file, section.key("log_file")) if log_file else None,
        validate=validate,
        clear_cache=cache_paths,
        restart_timeout_s=restart_timeout_s,
        validate_timeout_s=validate_timeout_s,
        pass_env=pass_env,
    )


def _require_inside(repo: Path, relative: str, key: str) -> Path:
    # Cache clearing removes these paths: anything outside the working copy is refused here.
    candidate = (repo / relative).resolve()
    if candidate == repo or not candidate.is_relative_to(repo):
        raise ConfigError(f"{key}: {relative!r} must be a path inside git.path")
    return candidate


def _parse_checkpoints(top: Section) -> CheckpointsConfig:
    if not top.has("checkpoints"):
        return CheckpointsConfig()
    section = top.table("checkpoints")
    hours = section.number("reminder_interval_h", 4.0, "a number of hours (0 turns it off)")
    if not 0 <= hours <= 168:
        raise ConfigError(f"{section.key('reminder_interval_h')}: expected 0 to 168 hours")
    section.finish()
    return CheckpointsConfig(reminder_interval_h=hours)


def _parse_slack(section: Section) -> SlackConfig:
    channel = section.text("channel", "a channel ID such as C0INCIDENTS")
    if not _CHANNEL_RE.match(channel):
        raise ConfigError(f"{section.key('channel')}: expected a channel ID such as C0INCIDENTS")
    orchestrators = principals(section, "orchestrators", required=True)
    requester_can_approve = section.boolean("requester_can_approve", False)
    expiry = section.number("approval_expiry_min", 30.0, "a number of minutes")
    if not 1 <= expiry <= 24 * 60:
        raise ConfigError(f"{section.key('approval_expiry_min')}: expected 1 to 1440 minutes")
    api_timeout_s = seconds(section, "api_timeout_s", 15.0)
    if api_timeout_s < 1 or api_timeout_s > 120:
        raise ConfigError(f"{section.key('api_timeout_s')}: expected 1 to 120 seconds")
    section.finish()
    return SlackConfig(
        channel=channel,
        orchestrators=orchestrators,
        requester_can_approve=requester_can_approve,
        approval_expiry_min=expiry,
        api_timeout_s=api_timeout_s,
    )


def _parse_store(section: Section, base_dir: Path) -> StoreConfig:
    raw = section.text("path", "the SQLite file's path")
    path = (base_dir / raw).resolve()
    if not path.parent.is_dir():
        raise ConfigError(f"{section.key('path')}: folder {str(path.parent)!r} does not exist")
    section.finish()
    return StoreConfig(path=path)
