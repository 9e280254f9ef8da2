"""Starting ``rollback-bot serve``: the open-files limit, Slack's first answers turned into
config errors a person can act on, and a clean stop on SIGTERM."""

from __future__ import annotations

import logging
import resource
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from actions.errors import ConfigError
from bot.deps import Deps
from bot.settings import Secret

if TYPE_CHECKING:
    from slack_bolt import App

log = logging.getLogger("rollback_bot.cli")


def raise_open_files_limit(wanted: int) -> None:
    """Lift the soft open-files limit to ``wanted``, never past the hard limit.

    Many hosts start services with a soft limit of 1024 under a far higher hard one; without
    this, the HTTP server's connection limit shrinks to fit, and with it what a slowloris
    client needs to lock Slack out.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as error:
        log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, error)


def create_app_or_explain(factory: Callable[[Deps], App], deps: Deps) -> App:
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        return factory(deps)
    except (BoltError, SlackApiError) as error:
        raise ConfigError(
            f"Slack refused SLACK_BOT_TOKEN ({slack_error_code(error)}); check the token"
        ) from None
    except SlackClientError as error:
        raise ConfigError(f"cannot reach the Slack Web API: {type(error).__name__}") from None


def serve_socket_mode_or_explain(
    serve: Callable[..., None], app: App, app_token: Secret, stop: threading.Event
) -> None:
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        serve(app, app_token, stop=stop)
    except SlackApiError as error:
        raise ConfigError(
            f"Slack refused SLACK_APP_TOKEN for Socket Mode ({slack_error_code(error)}); "
            "check that it is an app-level token with connections:write"
        ) from None
    except SlackClientError as error:
        raise ConfigError(f"cannot open a Socket Mode connection: {type(error).__name__}") from None


def slack_error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None:
        return str(response.get("error", "refused"))
    text = str(error)
    return "invalid_auth" if "invalid_auth" in text else "refused"


def stop_on_sigterm(close: Callable[[], object], *, exit_now: bool = True) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signum)
        close()
        if exit_now:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
