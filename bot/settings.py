"""Settings: the config file plus the secrets from the environment, loaded once.

This is the only place that reads the environment. Everything below ``bot/`` receives values
from here as arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from actions.errors import ConfigError
from actions.pgtools import tool_search_path
from actions.redact import secret_parts
from bot.config import Config, load_config

#: The children's PATH when the bot's own environment has none.
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: its repr and str hide it."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


@dataclass(frozen=True)
class SlackSettings:
    bot_token: Secret
    signing_secret: Secret
    app_token: Secret | None
    api_url: str | None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


@dataclass(frozen=True)
class Settings:
    config: Config
    slack: SlackSettings
    database_url: Secret | None
    #: Crash tests only: the bot SIGKILLs itself right after journaling this rollback step.
    kill_after_step: str | None = None
    #: PATH for the children the bot starts with an environment of its own making (pg_dump,
    #: pg_restore, database.rollback_command), which get nothing else of the bot's.
    #: Also where pg_dump and pg_restore are looked for (PostgreSQL's versioned folders last).
    tool_path: str = DEFAULT_PATH

    def secret_values(self) -> tuple[str, ...]:
        """Every secret's value, for the log redaction filter."""
        values = [self.slack.bot_token, self.slack.signing_secret]
        values += [s for s in (self.slack.app_token, self.database_url) if s is not None]
        revealed = [secret.reveal() for secret in values]
        if self.database_url is not None:  # a command may print the password on its own
            revealed += secret_parts(self.database_url.reveal())
        # Longest first, so a whole URL is replaced before a part of it could be.
        return tuple(sorted(dict.fromkeys(revealed), key=len, reverse=True))


def read_slack_settings(environ: Mapping[str, str]) -> SlackSettings:
    bot_token = _required(environ, "SLACK_BOT_TOKEN", "the bot token (xoxb-…)")
    signing_secret = _required(environ, "SLACK_SIGNING_SECRET", "the app's signing secret")
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN: expected a bot token starting with 'xoxb-'")
    app_token = environ.get("SLACK_APP_TOKEN", "").strip() or None
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN: expected an app-level token starting with 'xapp-'")
    api_url = environ.get("SLACK_API_URL", "").strip() or None
    if api_url is not None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                "SLACK_API_URL: expected an http(s) URL such as http://127.0.0.1:8080/api/"
            )
        api_url = api_url if api_url.endswith("/") else api_url + "/"
    return SlackSettings(
        bot_token=Secret(bot_token),
        signing_secret=Secret(signing_secret),
        app_token=Secret(app_token) if app_token else None,
        api_url=api_url,
    )


def load_settings(config_path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Load the config file and the environment's secrets; raise ConfigError naming the problem."""
    env = os.environ if environ is None else environ
    config = load_config(config_path)
    return settings_from(config, read_slack_settings(env), env)


def settings_from(config: Config, slack: SlackSettings, environ: Mapping[str, str]) -> Settings:
    database_url = None
    if config.database.url_env:
        value = environ.get(config.database.url_env, "").strip()
        database_url = Secret(value) if value else None
    return Settings(
        config=config,
        slack=slack,
        database_url=database_url,
        kill_after_step=environ.get("ROLLBACK_BOT_KILL_AFTER_STEP", "").strip() or None,
        tool_path=tool_search_path(environ.get("PATH") or DEFAULT_PATH),
    )


def secret_variable_names(environ: Mapping[str, str], config: Config) -> list[str]:
    """The variables that hold the bot's secrets: every ``SLACK_*`` and ``database.url_env``,
    except those ``service.pass_env`` names."""
    secret = [name for name in environ if name.startswith("SLACK_")]
    if config.database.url_env and config.database.url_env in environ:
        secret.append(config.database.url_env)
    return [name for name in secret if name not in config.service.pass_env]


def scrub_environment(environ: MutableMapping[str, str], config: Config) -> list[str]:
    """Take the bot's secrets out of the process environment once settings hold them.

    Every child of the bot inherits this environment: the restarted service, the validate
    command, git and the repository's own hooks. None of them may hold the keys to sign Slack
    requests or approve rollbacks. Returns the names taken out.
    """
    names = secret_variable_names(environ, config)
    for name in names:
        del environ[name]
    return names


def _required(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set: expected {what} in the environment")
    return value
