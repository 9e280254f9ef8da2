"""The app factory: one Bolt ``App`` with every listener, middleware and the error handler.

Kept thin on purpose: what the bot does lives in flows and actions; this file only wires the
listeners (:mod:`bot.listeners`) to them.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot import listeners
from bot.deps import Deps
from bot.errors import handle_bolt_error
from bot.jobs import build_jobs, ensure_timers
from bot.middleware import install_middleware
from bot.scheduler import Scheduler
from bot.slack.retries import retry_handlers
from bot.slack.runs import announce_interrupted


def create_web_client(deps: Deps) -> WebClient:
    slack = deps.settings.slack
    client = WebClient(
        token=slack.bot_token.reveal(),
        base_url=slack.api_url or WebClient.BASE_URL,
        timeout=int(max(1, deps.settings.config.slack.api_timeout_s)),
        logger=logging.getLogger("rollback_bot.web_api"),
    )
    client.retry_handlers.extend(retry_handlers())
    return client


def _drop_token_skipped_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that the client
    # we pass wins; it is the same token, so the warning only alarms whoever reads the log.
    return "`token` will be unused" not in record.getMessage()


def create_app(
    deps: Deps, *, client: WebClient | None = None, token_verification: bool = True
) -> App:
    bolt_logger = logging.getLogger("rollback_bot.bolt")
    bolt_logger.addFilter(_drop_token_skipped_warning)
    app = App(
        client=client or create_web_client(deps),
        signing_secret=deps.settings.slack.signing_secret.reveal(),
        # Listeners ack on the request thread and hand their work to bot.afterack; Bolt's own
        # mode runs ack() on its listener pool, where it waited behind earlier slow work.
        process_before_response=True,
        # bot.frontdoor checks every HTTP request's signature on its raw bytes before Bolt
        # sees it, then hands Bolt the body it read; Socket Mode needs no signature.
        request_verification_enabled=False,
        # What no listener handles reaches bot.errors.handle_bolt_error instead of a 404.
        raise_error_for_unhandled_request=True,
        token_verification_enabled=token_verification,
        logger=bolt_logger,
    )
    install_middleware(app, deps)
    listeners.register(app)
    app.error(handle_bolt_error)
    return app


def start_scheduler(deps: Deps, app: App) -> Scheduler:
    """Make sure the configured timers exist, offer Resume / Abort for any rollback a previous
    process left half done, then start firing timers."""
    ensure_timers(deps)
    announce_interrupted(deps, app.client)
    scheduler = Scheduler(deps, build_jobs(app.client))
    scheduler.start()
    return scheduler
