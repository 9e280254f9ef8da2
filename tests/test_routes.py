"""The route table: every request the grammar parses has exactly one row, and a row with no
flow yet answers "not available" through the real path rather than dropping the command."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest

from bot import grammar
from bot.config import Config
from bot.listeners.commands import NOT_AVAILABLE, ROUTES, Reach
from bot.local.loopback import LocalSlack
from store import IncidentState

# One command a person could type for each request type; the test checks it parses to it.
EXAMPLES: dict[type, tuple[str, str]] = {
    grammar.Help: ("/rollback", "help"),
    grammar.Status: ("/rollback", "status"),
    grammar.Validate: ("/rollback", "validate"),
    grammar.Scenario: ("/rollback", "scenario critical 5 API down"),
    grammar.Blocker: ("/rollback", "blocker the customers API answers 500"),
    grammar.RollbackTo: ("/rollback", "to phase2-checkpoint-T+8h"),
    grammar.Log: ("/rollback", "log 3"),
    grammar.Drill: ("/rollback", "drill email"),
    grammar.Remove: ("/rollback", "remove server/email.ts"),
    grammar.Retry: ("/rollback", "retry 4"),
    grammar.CherryPick: ("/rollback", "cherry-pick 4 abcdef1"),
    grammar.Close: ("/rollback", "close 4 fixed in the retry"),
    grammar.PostmortemFile: ("/rollback", "postmortem 4"),
    grammar.Watch: ("/rollback", "watch off"),
    grammar.Bisect: ("/rollback", "bisect 4"),
    grammar.CheckpointCreate: ("/checkpoint", "T+4h customers"),
    grammar.CheckpointList: ("/checkpoint", "list"),
    grammar.SeveritySet: ("/severity", "4 #2 getting worse"),
}
# Every request is served now; a route without a flow must still answer "not available", so
# the test takes one served route away when none is left unshipped.
UNSHIPPED = [kind for kind, route in ROUTES.items() if route.flow is None] or [grammar.Bisect]


@pytest.fixture
def local(config: Config) -> Iterator[LocalSlack]:
    with LocalSlack(config, environ={}, scheduler=False) as running:
        yield running


def test_route_table_covers_every_request_the_grammar_parses() -> None:
    assert set(ROUTES) == set(typing.get_args(grammar.Request))
    assert set(EXAMPLES) == set(ROUTES)


@pytest.mark.parametrize("kind", list(EXAMPLES), ids=lambda kind: kind.__name__)
def test_examples_parse_to_their_request_type(kind: type) -> None:
    command, text = EXAMPLES[kind]
    assert type(grammar.parse(command, text)) is kind


def test_routes_with_a_flow_have_a_view_or_post_a_card() -> None:
    for kind, route in ROUTES.items():
        if route.flow is not None:
            assert route.view is not None or route.reach is Reach.INCIDENT, kind


@pytest.mark.parametrize("kind", UNSHIPPED, ids=lambda kind: kind.__name__)
def test_unshipped_request_answers_not_available_and_changes_nothing(
    local: LocalSlack, kind: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ROUTES, kind, NOT_AVAILABLE)
    command, text = EXAMPLES[kind]
    sent = local.sender.slash_command(command, text, user_id="U0ENG")
    assert sent.status == 200
    assert local.emulator.wait_for(
        lambda e: any(m.via == "response_url" for m in e.messages()), timeout=10
    )
    (reply,) = [m for m in local.emulator.messages() if m.via == "response_url"]
    assert reply.ephemeral_to == "U0ENG"
    assert "is understood, but this version of rollback-bot cannot run it yet" in reply.text
    assert local.store.list_incidents(states=list(IncidentState)) == []
    local.deps.work.wait_idle(10)
    assert [e.action for e in local.store.timeline()] == ["slash_command"]
