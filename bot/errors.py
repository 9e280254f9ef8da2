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

from slack_bolt import BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.error import BoltUnhandledRequestError

from actions.errors import InputError, RollbackBotError
from bot.views.errors import build_error_view

log = logging.getLogger("rollback_bot.errors")


OLD_BUTTON = "This button is from an older card; nothing was done. Use the newest card."


def handle_bolt_error(
    error: Exception,
    body: dict[str, Any],
    respond: Respond | None = None,
    response: BoltResponse | None = None,
) -> None:
    """Bolt's error handler: a request no listener handles, or a listener's failure.

    Bolt would answer an unhandled request 404: Slack then retries events and warns the person
    who clicked. An unhandled event is acknowledged and ignored; a button from an older card
    (whose action this version no longer has) is answered privately; nothing is done.
    """
    if not isinstance(error, BoltUnhandledRequestError):
        handle_listener_error(error, body, respond)
        return
    if response is not None:
        response.status, response.body = 200, ""
    if body.get("type") == "block_actions" and respond is not None and body.get("response_url"):
        log.info("a click on an action this version does not have: told it is from an older card")
        try:
            respond(text=OLD_BUTTON, response_type="ephemeral", replace_original=False)
        except Exception as failure:  # the clicker is unreachable; this line is what remains
            log.warning("could not answer an old button (%s)", type(failure).__name__)
        return
    log.info("acknowledged a %s no listener handles", _what(body))


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
        return str(body["command"])[:40]
    event = body.get("event")
    kind = event.get("type") if isinstance(event, dict) else None
    return str(body.get("type") or kind or "request")[:40]


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
