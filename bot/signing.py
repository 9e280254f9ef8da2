"""Slack request signing (v0), both directions.

The bot verifies every HTTP request with :func:`verify`; the local console, the tests and the
benchmarks sign what they send with :func:`sign`, exactly as Slack does. Verification runs on the
raw body, before anything parses it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

#: Slack's replay window, in seconds, applied in both directions (a far-future stamp fails too).
MAX_CLOCK_SKEW_S = 300

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def sign(*, signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the ``X-Slack-Signature`` value Slack would send for this body and timestamp."""
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def verify(*, signing_secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
    """Check a request's signature and freshness; never raises on malformed headers.

    ``headers`` must have lower-case keys.
    """
    raw_timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not raw_timestamp or not signature:
        return Verdict(False, "missing signature headers")
    # slack_sdk's own verifier calls int() unguarded; a junk header must fail, not raise.
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        return Verdict(False, "malformed timestamp")
    if abs(now - int(raw_timestamp)) > MAX_CLOCK_SKEW_S:
        return Verdict(False, "stale or future timestamp")
    expected = sign(signing_secret=signing_secret, timestamp=raw_timestamp, body=body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return Verdict(False, "bad signature")
    return Verdict(True)
