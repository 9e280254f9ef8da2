"""The ``rollback-bot.toml`` contract (SPEC section 5), parsed into frozen dataclasses.

Loading validates everything up front, so a bad file stops start-up with one line that names
the key and what is expected, instead of failing at 3 a.m. in the middle of a rollback. The file
never holds secrets: the database URL is named by ``database.url_env`` and read from the
environment by :mod:`bot.settings`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from actions.errors import ConfigError
from actions.refs import is_valid_branch_name

_PHASE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_REMOTE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# User IDs start with U or W (enterprise); user group IDs with S.
_PRINCIPAL_RE = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ProjectConfig:
    name: str
    phase: str
    started_at: datetime


@dataclass(frozen=True)
class GitConfig:
    path: Path
    remote: str
    branch: str


@dataclass(frozen=True)
class ServiceConfig:
    restart: str
    base_url: str
    health_path: str
    ready_timeout_s: float
    log_file: Path | None
    validate: str | None
    clear_cache: tuple[Path, ...]


@dataclass(frozen=True)
class EndpointCheck:
    name: str
    path: str


@dataclass(frozen=True)
class ChecksConfig:
    endpoints: tuple[EndpointCheck, ...]


@dataclass(frozen=True)
class DatabaseConfig:
    url_env: str | None


@dataclass(frozen=True)
class SlackConfig:
    channel: str
    orchestrators: tuple[str, ...]


@dataclass(frozen=True)
class StoreConfig:
    path: Path


@dataclass(frozen=True)
class Config:
    source: Path
    project: ProjectConfig
    git: GitConfig
    service: ServiceConfig
    checks: ChecksConfig
    database: DatabaseConfig
    slack: SlackConfig
    store: StoreConfig


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def _kind(value: object) -> str:
    for python_type, name in reversed(_TYPE_NAMES.items()):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


class _Section:
    """Typed reads from one TOML table that remember which keys were used.

    ``finish()`` refuses keys nobody read, which is how typos such as ``ready_timout_s`` are
    caught at start-up rather than silently ignored.
    """

    def __init__(self, data: Mapping[str, Any], name: str) -> None:
        self._data = data
        self._name = name
        self._seen: set[str] = set()

    def key(self, key: str) -> str:
        return f"{self._name}.{key}"

    def _get(self, key: str, expected: type, what: str, *, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if required:
                raise ConfigError(f"{self.key(key)} is missing: expected {what}")
            return None
        value = self._data[key]
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(f"{self.key(key)}: expected {what}, got {_kind(value)}")
        return value

    def text(self, key: str, what: str = "a string") -> str:
        value: str = self._get(key, str, what, required=True)
        if not value.strip():
            raise ConfigError(f"{self.key(key)}: expected {what}, got an empty string")
        return value

    def optional_text(self, key: str, what: str = "a string") -> str | None:
        value: str | None = self._get(key, str, what, required=False)
        return value if value and value.strip() else None

    def number(self, key: str, default: float, what: str) -> float:
        value = self._get(key, float, what, required=False)
        return default if value is None else float(value)

    def text_list(self, key: str, what: str, *, required: bool) -> tuple[str, ...]:
        value = self._get(key, list, what, required=required)
        if value is None:
            return ()
        if not all(isinstance(item, str) and item.strip() for item in value):
            raise ConfigError(f"{self.key(key)}: expected {what}")
        return tuple(value)

    def has(self, key: str) -> bool:
        return key in self._data

    def table(self, key: str) -> _Section:
        value = self._get(key, dict, "a table", required=True)
        return _Section(value, self.key(key) if self._name else key)

    def table_list(self, key: str) -> list[_Section]:
        value = self._get(key, list, "a list of tables", required=False) or []
        sections = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(f"{self.key(key)}[{index}]: expected a table, got {_kind(item)}")
            sections.append(_Section(item, f"{self.key(key)}[{index}]"))
        return sections

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            where = self._name or "the top level"
            raise ConfigError(f"{where}: unknown key '{unknown[0]}' (check the spelling)")


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
    top = _Section(data, "")
    git = _parse_git(top.table("git"), base_dir)
    config = Config(
        source=source,
        project=_parse_project(top.table("project")),
        git=git,
        service=_parse_service(top.table("service"), git.path),
        checks=_parse_checks(top),
        database=_parse_database(top),
        slack=_parse_slack(top.table("slack")),
        store=_parse_store(top.table("store"), base_dir),
    )
    top.finish()
    return config


def _parse_project(section: _Section) -> ProjectConfig:
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


def _parse_git(section: _Section, base_dir: Path) -> GitConfig:
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
    section.finish()
    return GitConfig(path=path, remote=remote, branch=branch)


def _parse_service(section: _Section, repo: Path) -> ServiceConfig:
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
    section.finish()
    return ServiceConfig(
        restart=restart,
        base_url=base_url.rstrip("/"),
        health_path=health_path,
        ready_timeout_s=ready_timeout_s,
        log_file=_require_inside(repo, log_file, section.key("log_file")) if log_file else None,
        validate=validate,
        clear_cache=cache_paths,
    )


def _require_inside(repo: Path, relative: str, key: str) -> Path:
    # Cache clearing removes these paths: anything outside the working copy is refused here.
    candidate = (repo / relative).resolve()
    if candidate == repo or not candidate.is_relative_to(repo):
        raise ConfigError(f"{key}: {relative!r} must be a path inside git.path")
    return candidate


def _parse_checks(top: _Section) -> ChecksConfig:
    if not top.has("checks"):
        return ChecksConfig(endpoints=())
    section = top.table("checks")
    endpoints = []
    for item in section.table_list("endpoints"):
        name = item.text("name")
        path = item.text("path", "a path starting with '/'")
        if not path.startswith("/"):
            raise ConfigError(
                f"{item.key('path')}: expected a path starting with '/', got {path!r}"
            )
        item.finish()
        endpoints.append(EndpointCheck(name=name, path=path))
    section.finish()
    return ChecksConfig(endpoints=tuple(endpoints))


def _parse_database(top: _Section) -> DatabaseConfig:
    if not top.has("database"):
        return DatabaseConfig(url_env=None)
    section = top.table("database")
    url_env = section.optional_text("url_env", "the name of an environment variable")
    if url_env is not None and not _ENV_NAME_RE.match(url_env):
        raise ConfigError(
            f"{section.key('url_env')}: expected an environment variable name such as "
            "DATABASE_URL (the URL itself never goes in this file)"
        )
    section.finish()
    return DatabaseConfig(url_env=url_env)


def _parse_slack(section: _Section) -> SlackConfig:
    channel = section.text("channel", "a channel ID such as C0INCIDENTS")
    if not _CHANNEL_RE.match(channel):
        raise ConfigError(f"{section.key('channel')}: expected a channel ID such as C0INCIDENTS")
    orchestrators = section.text_list(
        "orchestrators", 'a list of user or user group IDs such as ["U0ORCH"]', required=True
    )
    bad = [item for item in orchestrators if not _PRINCIPAL_RE.match(item)]
    if not orchestrators or bad:
        raise ConfigError(
            f"{section.key('orchestrators')}: expected user IDs (U…/W…) or user group IDs (S…), "
            f"got {bad[0] if bad else 'an empty list'!r}"
        )
    section.finish()
    return SlackConfig(channel=channel, orchestrators=orchestrators)


def _parse_store(section: _Section, base_dir: Path) -> StoreConfig:
    raw = section.text("path", "the SQLite file's path")
    path = (base_dir / raw).resolve()
    if not path.parent.is_dir():
        raise ConfigError(f"{section.key('path')}: folder {str(path.parent)!r} does not exist")
    section.finish()
    return StoreConfig(path=path)
