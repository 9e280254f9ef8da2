from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.errors import InputError
from bot import grammar as g


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/rollback", "", g.Help()),
        ("/rollback", "  HELP ", g.Help()),
        ("/rollback", "status", g.Status()),
        ("/rollback", "validate", g.Validate()),
        ("/rollback", "scenario critical", g.Scenario("critical", None, "")),
        ("/rollback", "scenario critical 5 API down", g.Scenario("critical", "5", "API down")),
        (
            "/rollback",
            "scenario Email HIGH inbox &lt;broken&gt;",
            g.Scenario("email", "high", "inbox <broken>"),
        ),
        (
            "/rollback",
            "scenario performance slow &amp; sad",
            g.Scenario("performance", None, "slow & sad"),
        ),
        ("/rollback", "blocker customers API 500s", g.Blocker("customers API 500s")),
        ("/rollback", "to phase2-checkpoint-T+4h", g.RollbackTo("phase2-checkpoint-T+4h")),
        ("/rollback", "to 3f2a9c1", g.RollbackTo("3f2a9c1")),
        ("/rollback", "log", g.Log(5)),
        ("/rollback", "log 12", g.Log(12)),
        ("/rollback", "drill email", g.Drill("email")),
        (
            "/rollback",
            "remove server/email-config.ts server/a.ts",
            g.Remove(("server/email-config.ts", "server/a.ts")),
        ),
        ("/rollback", "retry #7", g.Retry(7)),
        (
            "/rollback",
            "cherry-pick INC-3 abcdef1 1234567890",
            g.CherryPick(3, ("abcdef1", "1234567890")),
        ),
        ("/checkpoint", "", g.CheckpointCreate(None, "checkpoint", "")),
        (
            "/checkpoint",
            "T+4h Customer validation, email testing",
            g.CheckpointCreate(4, "checkpoint", "Customer validation, email testing"),
        ),
        ("/checkpoint", "t+16h", g.CheckpointCreate(16, "checkpoint", "")),
        (
            "/checkpoint",
            "before email removal",
            g.CheckpointCreate(None, "before", "email removal"),
        ),
        (
            "/checkpoint",
            "complete All modules operational",
            g.CheckpointCreate(None, "complete", "All modules operational"),
        ),
        ("/checkpoint", "list", g.CheckpointList()),
        (
            "/checkpoint",
            "All backends wired",
            g.CheckpointCreate(None, "checkpoint", "All backends wired"),
        ),
        ("/severity", "4", g.SeveritySet("4", None, "")),
        ("/severity", "critical 12 emails down", g.SeveritySet("critical", 12, "emails down")),
        ("/severity", "low not that bad", g.SeveritySet("low", None, "not that bad")),
    ],
)
def test_parse_valid_text_gives_request(command: str, text: str, expected: g.Request) -> None:
    assert g.parse(command, text) == expected


@pytest.mark.parametrize(
    ("command", "text", "message", "form"),
    [
        ("/rollback", "frobnicate", "`frobnicate` is not a /rollback subcommand", "/rollback help"),
        ("/rollback", "status now", "takes no arguments", "/rollback status"),
        ("/rollback", "scenario", "Which scenario?", "/rollback scenario"),
        (
            "/rollback",
            "scenario apocalypse",
            "`apocalypse` is not a scenario",
            "/rollback scenario",
        ),
        ("/rollback", "blocker", "Describe the blocker", "/rollback blocker"),
        ("/rollback", "to", "exactly one target", "/rollback to"),
        ("/rollback", "to a b", "exactly one target", "/rollback to"),
        ("/rollback", "to --upload-pack=touch", "starts with '-'", "/rollback to"),
        ("/rollback", "to HEAD~1", "not a valid tag or commit", "/rollback to"),
        ("/rollback", "to a..b", "not a valid tag or commit", "/rollback to"),
        ("/rollback", "log 0", "from 1 to 50", "/rollback log"),
        ("/rollback", "log many", "from 1 to 50", "/rollback log"),
        ("/rollback", "drill", "Which scenario to drill?", "/rollback drill"),
        ("/rollback", "remove ../etc/passwd", "inside the repository", "/rollback remove"),
        ("/rollback", "remove -rf", "inside the repository", "/rollback remove"),
        ("/rollback", "retry seven", "not an incident number", "/rollback retry"),
        ("/rollback", "cherry-pick 3 HEAD", "not a commit id", "/rollback cherry-pick"),
        ("/checkpoint", "T+4x", "not a label", "/checkpoint list"),
        ("/checkpoint", "T+0h", "not a label", "/checkpoint list"),
        ("/checkpoint", "before", "what change", "/checkpoint list"),
        ("/checkpoint", "list all", "takes no arguments", "/checkpoint list"),
        ("/severity", "", "Which severity?", "/severity"),
        ("/severity", "9", "`9` is not a severity", "/severity"),
        ("/rollback", "x" * 2001, "the limit is 2000", ""),
    ],
)
def test_parse_bad_text_says_what_and_shows_forms(
    command: str, text: str, message: str, form: str
) -> None:
    with pytest.raises(InputError) as caught:
        g.parse(command, text)
    assert message in caught.value.user_message
    assert any(form in valid for valid in caught.value.valid_forms) or not form


def test_parse_unknown_subcommand_lists_every_form() -> None:
    with pytest.raises(InputError) as caught:
        g.parse("/rollback", "rolback")
    assert caught.value.valid_forms == tuple(g.ROLLBACK_USAGE.values())


def test_parse_echoed_input_cannot_mention_or_break_code() -> None:
    with pytest.raises(InputError) as caught:
        g.parse("/rollback", "<!channel>`x`")
    assert "<!channel>" not in caught.value.user_message
    assert "`x`" not in caught.value.user_message


@given(st.text(max_size=300))
def test_parse_any_text_returns_request_or_input_error(text: str) -> None:
    for command in ("/rollback", "/checkpoint", "/severity"):
        try:
            result = g.parse(command, text)
        except InputError as error:
            assert error.user_message
        else:
            assert result is not None


@given(
    st.sampled_from(g.SCENARIOS),
    st.sampled_from(["1", "2", "3", "4", "5", *g.SEVERITY_WORDS]),
    st.text(alphabet="abc xyz", max_size=40),
)
def test_parse_scenario_round_trips_severity_and_trigger(
    scenario: str, severity: str, trigger: str
) -> None:
    parsed = g.parse("/rollback", f"scenario {scenario} {severity} {trigger}")
    assert parsed == g.Scenario(scenario, severity, trigger.strip())


@pytest.mark.parametrize(
    ("command", "text", "suggestion"),
    [
        ("/rollback", "stauts", "Did you mean `/rollback status`?"),
        ("/rollback", "valdiate", "Did you mean `/rollback validate`?"),
        ("/rollback", "scenario critcal 5", "Did you mean `/rollback scenario critical`?"),
        ("/severity", "hihg", "Did you mean `/severity high`?"),
    ],
)
def test_parse_near_miss_suggests_the_word_meant(command: str, text: str, suggestion: str) -> None:
    with pytest.raises(InputError) as caught:
        g.parse(command, text)
    assert suggestion in caught.value.user_message


def test_parse_far_miss_suggests_nothing() -> None:
    with pytest.raises(InputError) as caught:
        g.parse("/rollback", "xyzzy")
    assert "Did you mean" not in caught.value.user_message


@pytest.mark.parametrize("label", ["12h", "12H", "T+12h"])
def test_parse_checkpoint_hours_without_t_plus_are_the_label(label: str) -> None:
    assert g.parse("/checkpoint", f"{label} email work") == g.CheckpointCreate(
        12, "checkpoint", "email work"
    )
