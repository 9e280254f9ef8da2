"""The Bolt app through the real HTTP path (LocalSlack: emulator, waitress, signed requests)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.config import Config
from bot.ids import SlashCommand
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from store import IncidentState


@pytest.fixture
def local(config: Config) -> Iterator[LocalSlack]:
    with LocalSlack(config, environ={}) as running:
        yield running


def _reply(emulator: SlackEmulator, count: int = 1) -> list[Message]:
    assert emulator.wait_for(
        lambda e: len([m for m in e.messages() if m.via == "response_url"]) >= count, timeout=10
    )
    return [m for m in emulator.messages() if m.via == "response_url"]


@pytest.mark.parametrize("command", list(SlashCommand))
def test_every_manifest_command_routes_to_a_listener(
    local: LocalSlack, command: SlashCommand
) -> None:
    sent = local.sender.slash_command(command.value, "", user_id="U0ENG")
    assert sent.status == 200  # Bolt answers 404 when no listener matches
    assert _reply(local.emulator)[0].ephemeral_to == "U0ENG"


def test_help_lists_every_subcommand(local: LocalSlack) -> None:
    local.sender.slash_command("/rollback", "help", user_id="U0ENG")
    blocks = str(_reply(local.emulator)[0].blocks)
    for verb in (
        "scenario",
        "blocker",
        "to",
        "status",
        "validate",
        "log",
        "drill",
        "remove",
        "retry",
    ):
        assert f"/rollback {verb}" in blocks
    assert "/checkpoint list" in blocks and "/severity" in blocks
    assert "&lt;minor|critical" in blocks  # usage angle brackets are escaped, not Slack links


def test_bad_input_gets_ephemeral_with_valid_forms_and_changes_nothing(local: LocalSlack) -> None:
    sent = local.sender.slash_command("/rollback", "to --upload-pack=touch", user_id="U0ENG")
    assert sent.status == 200
    reply = _reply(local.emulator)[0]
    assert reply.ephemeral_to == "U0ENG"
    assert "starts with '-'" in reply.text
    assert "/rollback to &lt;checkpoint-tag|commit&gt;" in str(reply.blocks)
    assert local.store.list_incidents(states=list(IncidentState)) == []
    assert [e.action for e in local.store.timeline()] == ["slash_command"]


def test_removal_without_a_drill_says_which_drill_to_run(local: LocalSlack) -> None:
    local.sender.slash_command("/rollback", "remove server/email.ts", user_id="U0ENG")
    reply = _reply(local.emulator)[0]
    assert "`/rollback drill email`" in reply.text and "Nothing was removed" in reply.text
    assert local.store.list_incidents() == []


def test_timeline_records_who_typed_what(local: LocalSlack) -> None:
    local.sender.slash_command("/rollback", "status", user_id="U0ORCH")
    _reply(local.emulator)
    event = local.store.timeline()[-1]
    assert (event.actor, event.surface, event.action) == ("U0ORCH", "slack", "slash_command")
    assert event.details == {"command": "/rollback", "text": "status", "channel": "C0INCIDENTS"}


def test_unexpected_failure_gets_reference_and_is_logged(
    local: LocalSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_deps: object) -> object:
        raise RuntimeError("disk on fire xoxb-leaked-token")

    monkeypatch.setattr("bot.listeners.commands.collect_status", broken)
    with caplog.at_level(logging.ERROR, logger="rollback_bot.errors"):
        sent = local.sender.slash_command("/rollback", "status", user_id="U0ENG")
        reply = _reply(local.emulator)[0]
    assert sent.status == 200
    assert "unexpected error (reference" in reply.text
    assert "disk on fire" not in reply.text and "xoxb" not in reply.text
    assert any("unexpected failure in /rollback" in r.getMessage() for r in caplog.records)


def test_app_home_publishes_status_once_per_event(local: LocalSlack, config: Config) -> None:
    sent = local.sender.event({"type": "app_home_opened", "user": "U0ENG", "tab": "home"})
    assert sent.status == 200
    assert local.emulator.wait_for(lambda e: e.home_view("U0ENG") is not None, timeout=10)
    view = local.emulator.home_view("U0ENG")
    assert view is not None and view["type"] == "home"
    assert "phase2-checkpoint-T+4h" in str(view["blocks"])
    again = local.sender.send_raw(
        sent.sent_body,
        local.sender.signed_headers(sent.sent_body)
        | {"Content-Type": "application/json", "X-Slack-Retry-Num": "1"},
    )
    assert again.status == 200
    assert len(local.emulator.calls("views.publish")) == 1


def test_a_token_typed_as_a_path_is_not_echoed_back(local: LocalSlack) -> None:
    local.sender.slash_command("/rollback", "remove server/xoxb-in-a-name.ts", user_id="U0ORCH")
    text = _reply(local.emulator)[0].text
    assert "Nothing was removed" in text
    assert "xoxb-in-a-name" not in text


def test_redelivery_after_restart_is_not_run_again(config: Config) -> None:
    with LocalSlack(config, environ={}) as first:
        sent = first.sender.slash_command("/rollback", "status", user_id="U0ENG")
        _reply(first.emulator)
    # A new process has no memory of the first delivery; only the store's claim stops it.
    with LocalSlack(config, environ={}) as second:
        again = second.sender.resend(sent, retry_num=1)
        assert again.status == 200
        assert "x-slack-no-retry" not in again.headers
        second.deps.work.shutdown(wait=True)
        assert [m for m in second.emulator.messages() if m.via == "response_url"] == []
        assert [e.action for e in second.store.timeline()] == ["slash_command"]
