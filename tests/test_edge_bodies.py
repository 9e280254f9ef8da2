"""The front door under signed junk: no 5xx, no "unexpected error", nothing changed.

Every request here is signed exactly as Slack signs it and goes through the real waitress
server, the front door and the Bolt app (LocalSlack). For each, the answer, the repository, the
origin and the store are compared before and after.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.local.emulator import Message, interaction_body
from bot.local.loopback import LocalSlack
from bot.views.blocks import unescape
from store import IncidentState
from tests.gitrepo import git

ENGINEER = "U0ENG"
ORCHESTRATOR = "U0ORCH"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture
def local(config: Config) -> Iterator[LocalSlack]:
    with LocalSlack(config, environ={}, scheduler=False) as running:
        yield running


def _refs(path: Path) -> str:
    return git(path, "for-each-ref", "--format=%(refname) %(objectname)")


def _world(local: LocalSlack) -> tuple[str, str, list[Any], list[Any]]:
    """The repository's refs, the origin's, the incidents and the timeline, to compare."""
    config = local.config
    origin = Path(git(config.git.path, "remote", "get-url", "origin"))
    local.deps.work.wait_idle(10)
    return (
        _refs(config.git.path),
        _refs(origin),
        local.store.list_incidents(states=list(IncidentState)),
        [(e.action, e.actor) for e in local.store.timeline(limit=500)],
    )


def _replies(local: LocalSlack, user: str = ENGINEER) -> list[Message]:
    return [m for m in local.emulator.messages() if m.ephemeral_to == user]


def _signed(local: LocalSlack, body: bytes, content_type: str) -> int:
    headers = {**local.sender.signed_headers(body), "Content-Type": content_type}
    return local.sender.send_raw(body, headers).status


def _payload(**fields: Any) -> bytes:
    return interaction_body(fields)


# -- 12. "payload" in a command is a command -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "user", "channel_name"),
    [
        ("remove server/payload-limits.ts", ENGINEER, None),
        ("help", ENGINEER, "payload-team"),
        ("help", "UPAYLOADBOT", None),
    ],
    ids=["in-the-text", "in-the-channel-name", "in-the-user-name"],
)
def test_command_mentioning_payload_is_answered_as_a_command(
    local: LocalSlack, text: str, user: str, channel_name: str | None
) -> None:
    before = _world(local)
    sent = local.sender.slash_command("/rollback", text, user_id=user, channel_name=channel_name)
    assert sent.status == 200
    assert b"payload" in sent.sent_body  # the word really is in the form Slack sent
    assert local.emulator.wait_for(lambda e: bool(_replies(local, user)), timeout=10)
    (reply,) = _replies(local, user)
    expected = "Nothing was removed" if "remove" in text else "rollback-bot"
    assert expected in reply.text
    after = _world(local)
    assert after[:3] == before[:3]
    assert [action for action, _ in after[3]] == ["slash_command"]


# -- 13. signed but malformed bodies -------------------------------------------------------------

MALFORMED: list[tuple[str, bytes, str]] = [
    ("payload-not-json", b"payload=%7Bnot+json", FORM),
    ("payload-a-list", b"payload=%5B1%2C2%5D", FORM),
    ("payload-null", b"payload=null", FORM),
    ("payload-a-string", b"payload=%22hello%22", FORM),
    ("json-invalid", b'{"type": "event_callback", ', JSON),
    ("json-deeply-nested", b"[" * 100_000 + b"]" * 100_000, JSON),
    ("json-an-array", b'[{"type": "event_callback"}]', JSON),
    ("form-sent-as-json", b"command=%2Frollback&text=help&user_id=U0ENG", JSON),
    ("no-content-type", b'{"type": "event_callback"}', ""),
    ("form-repeats-a-field", b"command=%2Frollback&command=%2Fcheckpoint&user_id=U0ENG", FORM),
    ("command-without-user", b"command=%2Frollback&text=help", FORM),
    ("actions-empty", _payload(type="block_actions", user={"id": "U0ENG"}, actions=[]), FORM),
    ("click-without-user", _payload(type="block_actions", actions=[{"action_id": "x"}]), FORM),
    ("event-a-string", b'{"type": "event_callback", "event": "app_home_opened"}', JSON),
    ("body-a-json-string", b'"app_home_opened"', JSON),
]


@pytest.mark.parametrize(
    ("body", "content_type"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_signed_malformed_body_gets_400_with_one_log_line_and_changes_nothing(
    local: LocalSlack, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = _world(local)
    with caplog.at_level(logging.INFO, logger="rollback_bot"):
        status = _signed(local, body, content_type)
    assert status == 400
    refusals = [r for r in caplog.records if r.name == "rollback_bot.frontdoor"]
    assert len(refusals) == 1 and "Slack would not send" in refusals[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere
    assert _world(local) == before
    assert local.emulator.messages() == []
    assert local.sender.slash_command("/rollback", "help", user_id=ENGINEER).status == 200


def test_app_home_opened_without_a_user_is_acknowledged_and_ignored(
    local: LocalSlack, caplog: pytest.LogCaptureFixture
) -> None:
    before = _world(local)
    with caplog.at_level(logging.INFO, logger="rollback_bot"):
        sent = local.sender.event({"type": "app_home_opened", "tab": "home"})
        local.deps.work.wait_idle(10)
    assert sent.status == 200
    assert [c for c in local.emulator.calls() if c.method == "views.publish"] == []
    assert any("without a user" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.exc_info]
    assert _world(local) == before


# -- 14. junk values in a signed click -----------------------------------------------------------


def _posted_card(local: LocalSlack, action_id: str, value: str) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": "Press"},
        "value": value,
    }
    posted = local.app.client.chat_postMessage(
        channel="C0INCIDENTS",
        text="a card",
        blocks=[{"type": "actions", "block_id": "card", "elements": [button]}],
    )
    message = local.emulator.message("C0INCIDENTS", str(posted["ts"]))
    assert message is not None
    return {"button": button, "message": local.emulator.message_payload(message)}


@pytest.mark.parametrize(
    ("action_id", "value", "said"),
    [
        ("rollback_approve", json.dumps({"plan": 2**63, "fp": "abc"}), "does not match a rollback"),
        ("rollback_resume", json.dumps({"plan": -1, "attempt": 1}), "does not match a rollback"),
        ("rollback_abort", json.dumps({"plan": True, "attempt": 1}), "does not match a rollback"),
        ("checkpoint_create", json.dumps({"request": "0" * 16}), "does not describe a checkpoint"),
        (
            "checkpoint_create",
            json.dumps({"kind": "checkpoint", "hours": True}),
            "does not describe",
        ),
        ("checkpoint_create", "not json", "not one rollback-bot made"),
    ],
    ids=["plan-2-to-63", "plan-negative", "plan-a-bool", "unknown-request", "hours-a-bool", "junk"],
)
def test_click_with_a_junk_value_is_refused_privately_and_changes_nothing(
    local: LocalSlack, action_id: str, value: str, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    card = _posted_card(local, action_id, value)
    before = _world(local)
    with caplog.at_level(logging.INFO, logger="rollback_bot"):
        sent = local.sender.block_action(
            user_id=ORCHESTRATOR, action=card["button"], message=card["message"]
        )
        local.deps.work.wait_idle(20)
    assert sent.status == 200
    (reply,) = _replies(local, ORCHESTRATOR)
    assert said in unescape(reply.text) and "unexpected error" not in reply.text
    assert not [r for r in caplog.records if r.exc_info]
    after = _world(local)
    assert after[:3] == before[:3]  # no tag like phase2-checkpoint-T+Trueh, no incident
    assert [action for action, _ in after[3][len(before[3]) :]] == ["button"]


# -- 15. what this version does not handle -------------------------------------------------------


def test_unhandled_event_is_acknowledged_with_200(local: LocalSlack) -> None:
    before = _world(local)
    sent = local.sender.event({"type": "reaction_added", "user": ENGINEER, "reaction": "eyes"})
    assert sent.status == 200
    assert _world(local) == before
    assert local.emulator.messages() == []


def test_button_from_an_older_card_is_answered_privately_and_does_nothing(
    local: LocalSlack,
) -> None:
    card = _posted_card(local, "rollback_approve_v0", json.dumps({"plan": 1}))
    before = _world(local)
    sent = local.sender.block_action(
        user_id=ORCHESTRATOR, action=card["button"], message=card["message"]
    )
    assert sent.status == 200
    assert local.emulator.wait_for(lambda e: bool(_replies(local, ORCHESTRATOR)), timeout=10)
    (reply,) = _replies(local, ORCHESTRATOR)
    assert "from an older card; nothing was done" in reply.text
    assert _world(local)[:3] == before[:3]


# -- 16. lenient parsing, and what the audit keeps ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "scenario minor -1 it is broken",
        "scenario minor 1e3 it is broken",
        "scenario minor 5.0 it is broken",
        "scenario critical 9 it is broken",
        "scenario critical 0 it is broken",
        "scenario minor api\x00down",
        "scenario minor api\x07down",
        "scenario minor api \u202edown",
    ],
    ids=["minus-one", "1e3", "5.0", "nine", "zero", "nul", "bel", "bidi-override"],
)
def test_mistyped_severity_or_hidden_characters_are_refused_and_open_nothing(
    local: LocalSlack, text: str
) -> None:
    before = _world(local)
    local.sender.slash_command("/rollback", text, user_id=ENGINEER)
    assert local.emulator.wait_for(lambda e: bool(_replies(local)), timeout=10)
    (reply,) = _replies(local)
    said = unescape(reply.text)
    assert "is not a severity" in said or "control characters" in said, said
    after = _world(local)
    assert after[:3] == before[:3]


def test_full_width_severity_digit_is_read_as_that_severity() -> None:
    from bot import grammar

    parsed = grammar.parse("/rollback", "scenario minor \uff15 inbox is down")
    assert parsed == grammar.Scenario("minor", "5", "inbox is down")


def test_a_huge_command_is_refused_and_the_audit_keeps_a_capped_copy(local: LocalSlack) -> None:
    text = "blocker " + "x" * 200_000
    sent = local.sender.slash_command("/rollback", text, user_id=ENGINEER)
    assert sent.status == 200
    assert local.emulator.wait_for(lambda e: bool(_replies(local)), timeout=10)
    assert "the limit is 2000" in _replies(local)[0].text
    local.deps.work.wait_idle(10)
    (audit,) = local.store.timeline()
    assert len(audit.details["text"]) == 2000 and audit.details["text_length"] == len(text)
