"""The app factory: one Bolt ``App`` with every listener, middleware and the error handler.

Kept thin on purpose: what the bot does lives in flows and actions; this file only wires the
surfaces (commands, home) to them.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.commands import register_commands
from bot.deps import Deps
from bot.errors import handle_listener_error
from bot.home import register_home
from bot.middleware import install_middleware

#: Listener threads. Slow work (git, restarts, checks) runs here after the ack, so this bounds
#: how many such jobs run at once, not how fast Slack is acknowledged.
LISTENER_THREADS = 16
WEB_API_TIMEOUT_S = 15


def create_web_client(deps: Deps) -> WebClient:
    slack = deps.settings.slack
    client = WebClient(
        token=slack.bot_token.reveal(),
        base_url=slack.api_url or WebClient.BASE_URL,
        timeout=WEB_API_TIMEOUT_S,
        logger=logging.getLogger("rollback_bot.web_api"),
    )
    # Posting to a busy channel hits the ~1 message/s limit; wait as Slack asks, then retry.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def create_app(
    deps: Deps, *, client: WebClient | None = None, token_verification: bool = True
) -> App:
    app = App(
        client=client or create_web_client(deps),
        signing_secret=deps.settings.slack.signing_secret.reveal(),
        process_before_response=False,
        token_verification_enabled=token_verification,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener"),
        logger=logging.getLogger("rollback_bot.bolt"),
    )
    install_middleware(app, deps)
    register_commands(app)
    register_home(app)
    app.error(handle_listener_error)
    return app
