"""The one error handler: project errors become a clear ephemeral message, others are logged.

Bolt answers Slack with 200 even when a listener fails after ``ack()`` and logs lazy-listener
failures without a traceback, so this handler is where failures become visible: to the user as
a message that says what happened, and to the operator as a full, redacted log record.

Listeners are wrapped with :func:`reporting_errors` rather than relying on ``app.error`` alone:
in Bolt 1.30's thread runner, a listener that acks and then raises before the request thread's
10 ms poll sees the ack has its ack overwritten with None, and Slack gets a 404.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt.context.respond import Respond

from actions.errors import InputError, RollbackBotError
from bot.views.errors import build_error_view

log = logging.getLogger("rollback_bot.errors")


def handle_listener_error(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    if isinstance(error, RollbackBotError):
        forms = error.valid_forms if isinstance(error, InputError) else ()
        message = build_error_view(error.user_message, forms)
        log.info("refused %s: %s", _what(body), error.user_message)
    else:
        reference = uuid.uuid4().hex[:8]
        log.exception(
            "unexpected failure in %s (reference %s)", _what(body), reference, exc_info=error
        )
        message = build_error_view(
            f"rollback-bot hit an unexpected error (reference `{reference}`). "
            "The details are in the bot's log; check `/rollback status` before retrying."
        )
    if respond is not None and body.get("response_url"):
        try:
            respond(**message, response_type="ephemeral", replace_original=False)
        except Exception:  # the user is unreachable; the log above is what remains
            log.exception("could not deliver the error message")


def _what(body: dict[str, Any]) -> str:
    if body.get("command"):
        return str(body["command"])
    return str(body.get("type") or (body.get("event") or {}).get("type") or "request")


def reporting_errors(listener: Callable[..., None]) -> Callable[..., None]:
    """Run a listener so that any exception reaches :func:`handle_listener_error`, not Bolt."""

    @functools.wraps(listener)  # Bolt reads the wrapped function's argument names
    def run(**kwargs: Any) -> None:
        try:
            listener(**kwargs)
        except Exception as error:
            body = kwargs.get("body") or kwargs.get("command") or {}
            handle_listener_error(error, body, kwargs.get("respond"))

    return run
