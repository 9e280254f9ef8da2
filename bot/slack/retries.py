"""When the bot's Web API client tries a call again, and when it must not.

- A rate limit (429) is waited out as Slack asks, up to three times.
- One 500 or 503 from Slack is tried once more: Slack's own advice for its passing failures.
- A call that timed out is tried once more only when doing it twice changes nothing (an edit, a
  publish, a read). A ``chat.postMessage`` that timed out may have posted: trying it again could
  post the card twice, so its timeout is reported for what it is instead.
"""

from __future__ import annotations

from urllib.error import URLError

from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

#: Web API methods that do the same thing however often they are called.
IDEMPOTENT = frozenset(
    {
        "auth.test",
        "chat.update",
        "conversations.open",
        "conversations.info",
        "usergroups.users.list",
        "views.publish",
        "users.info",
    }
)


def timed_out(error: Exception | None) -> bool:
    if isinstance(error, TimeoutError):
        return True
    return isinstance(error, URLError) and isinstance(error.reason, TimeoutError)


class IdempotentTimeoutRetryHandler(RetryHandler):
    """Try an idempotent call once more after it timed out."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rstrip("/").rsplit("/", 1)[-1]
        return response is None and timed_out(error) and method in IDEMPOTENT


def retry_handlers() -> list[RetryHandler]:
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=1),
        IdempotentTimeoutRetryHandler(max_retry_count=1),
    ]
