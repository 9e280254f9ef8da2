"""What people read and what notifies them: user text, git's names and the bot's own text are
escaped everywhere Slack reads markup, through the real path (signed commands, the emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Config
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from store import IncidentState
from tests.gitrepo import PhaseRepo, git
from tests.test_view_markup import unsafe_markup
from tests.viewsamples import mrkdwn_texts

ENGINEER = "U0ENG"


@pytest.fixture
def local(config: Config) -> Iterator[LocalSlack]:
    with LocalSlack(config, environ={}, scheduler=False) as running:
        yield running


def _every_message(local: LocalSlack) -> list[Message]:
    local.deps.work.wait_idle(20)
    return [m for m in local.emulator.messages() if not m.deleted]


def _assert_all_safe(local: LocalSlack) -> None:
    for message in _every_message(local):
        for text in mrkdwn_texts({"text": message.text, "blocks": message.blocks}):
            assert unsafe_markup(text) == [], text[:300]


def test_rollback_to_a_tag_named_like_a_mass_mention_pings_nobody(
    local: LocalSlack, phase_repo: PhaseRepo
) -> None:
    # "<!channel>" is a legal tag name; its card must show it, not notify the channel with it.
    git(phase_repo.work, "tag", "<!channel>", "HEAD~1")
    local.sender.slash_command("/rollback", "to <!channel>", user_id=ENGINEER)
    assert local.emulator.wait_for(
        lambda e: any("awaits approval" in m.text for m in e.messages("C0INCIDENTS")), timeout=30
    )
    (card,) = [m for m in _every_message(local) if "awaits approval" in m.text]
    assert "&lt;!channel&gt;" in card.text and "<!channel>" not in card.text
    assert "&lt;!channel&gt;" in str(card.blocks)
    _assert_all_safe(local)
    (incident,) = local.store.list_incidents(states=list(IncidentState))
    assert incident.requester == ENGINEER


def test_refusal_quoting_a_hostile_target_pings_nobody(local: LocalSlack) -> None:
    local.sender.slash_command("/rollback", "to <!here>", user_id=ENGINEER)
    assert local.emulator.wait_for(lambda e: bool(e.messages()), timeout=10)
    _assert_all_safe(local)
    assert local.store.list_incidents(states=list(IncidentState)) == []


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("/rollback", "help"),
        ("/rollback", "bogus"),
        ("/severity", "9"),
        ("/checkpoint", "T+0h"),
        ("/rollback", "scenario minor a <!channel> && <@U0ORCH> trigger"),
    ],
)
def test_the_bot_s_own_text_is_escaped_in_blocks_and_fallbacks(
    local: LocalSlack, command: str, text: str
) -> None:
    local.sender.slash_command(command, text, user_id=ENGINEER)
    assert local.emulator.wait_for(lambda e: bool(e.messages()), timeout=30)
    _assert_all_safe(local)
