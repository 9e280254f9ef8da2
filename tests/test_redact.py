from __future__ import annotations

import io
import logging

from actions.redact import REDACTED, redact
from bot.logs import RedactingFilter


def test_redact_removes_tokens_and_url_passwords() -> None:
    text = "bot xoxb-123-456-abc app xapp-1-A1-xyz user xoxp-9 db postgresql://app:s3cr%40t@10.0.0.1:5432/db"
    cleaned = redact(text, secrets=("extra-secret",))
    for secret in ("xoxb-123-456-abc", "xapp-1-A1-xyz", "xoxp-9", "s3cr%40t"):
        assert secret not in cleaned
    assert "postgresql://app:" + REDACTED + "@10.0.0.1:5432/db" in cleaned


def test_redacting_filter_covers_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(("signing-secret-xyz",)))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("connect failed for postgres://u:hunter2@h/db")
        except RuntimeError:
            logger.exception("token %s secret %s", "xoxb-1-2", "signing-secret-xyz")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert (
        "hunter2" not in output and "xoxb-1-2" not in output and "signing-secret-xyz" not in output
    )
    assert "RuntimeError" in output
