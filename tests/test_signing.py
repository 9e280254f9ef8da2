from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from bot.signing import sign, verify

# slack_sdk's published test vector (tests/slack_sdk/signature/test_signature_verifier.py).
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TIMESTAMP = 1531420618
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def _headers(timestamp: object, signature: str) -> dict[str, str]:
    return {"x-slack-request-timestamp": str(timestamp), "x-slack-signature": signature}


def test_verify_accepts_slack_test_vector() -> None:
    assert (
        sign(signing_secret=VECTOR_SECRET, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
        == VECTOR_SIGNATURE
    )
    verdict = verify(
        signing_secret=VECTOR_SECRET,
        headers=_headers(VECTOR_TIMESTAMP, VECTOR_SIGNATURE),
        body=VECTOR_BODY,
        now=VECTOR_TIMESTAMP + 10,
    )
    assert verdict.ok


def test_verify_refuses_tampered_body_stale_future_and_junk() -> None:
    def check(body: bytes, timestamp: str, signature: str, now: float) -> str:
        return verify(
            signing_secret=VECTOR_SECRET, headers=_headers(timestamp, signature), body=body, now=now
        ).reason

    ts = str(VECTOR_TIMESTAMP)
    assert check(VECTOR_BODY + b"x", ts, VECTOR_SIGNATURE, VECTOR_TIMESTAMP) == "bad signature"
    assert (
        check(VECTOR_BODY, ts, VECTOR_SIGNATURE, VECTOR_TIMESTAMP + 301)
        == "stale or future timestamp"
    )
    assert (
        check(VECTOR_BODY, ts, VECTOR_SIGNATURE, VECTOR_TIMESTAMP - 301)
        == "stale or future timestamp"
    )
    assert check(VECTOR_BODY, ts, VECTOR_SIGNATURE, VECTOR_TIMESTAMP + 300) == ""
    assert check(VECTOR_BODY, "1e9", VECTOR_SIGNATURE, VECTOR_TIMESTAMP) == "malformed timestamp"
    assert check(VECTOR_BODY, "-5", VECTOR_SIGNATURE, VECTOR_TIMESTAMP) == "malformed timestamp"
    assert check(VECTOR_BODY, "", VECTOR_SIGNATURE, VECTOR_TIMESTAMP) == "missing signature headers"
    assert check(VECTOR_BODY, ts, "", VECTOR_TIMESTAMP) == "missing signature headers"


@given(st.binary(max_size=200), st.text(max_size=40), st.text(max_size=80))
def test_verify_never_raises_and_refuses_forgeries(
    body: bytes, timestamp: str, signature: str
) -> None:
    verdict = verify(signing_secret="s", headers=_headers(timestamp, signature), body=body, now=1e9)
    assert not verdict.ok
