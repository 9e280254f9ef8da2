"""Policy rules that survived mutation (scripts/mutants actions/policy.py).

tests/test_policy.py proves which rule fires for every case; these prove the rest of what the
module promises: the procedure's own words on the card, the messages a person reads when a
request is refused, what validate_policy catches at its boundaries, and that nothing loaded can
be changed afterwards.
"""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest

from actions.errors import ConfigError, InputError
from actions.policy import (
    BLOCKER_HIGH_RULE,
    DEFAULT_POLICY,
    SEVERITY_WORDS,
    SOURCES,
    Action,
    Decision,
    Policy,
    Rule,
    ScenarioPolicy,
    Source,
    decide,
    severity_from_text,
    validate_policy,
    with_overrides,
)

SCENARIO_NAMES = ", ".join(DEFAULT_POLICY.scenarios)
USE = "Use 1-5 or low, medium, high, critical."


def _rule(rule_id: str) -> Rule:
    return next(rule for rule in DEFAULT_POLICY.rules if rule.id == rule_id)


def _with_rule(rule_id: str, **changes: object) -> Policy:
    rules = tuple(
        dataclasses.replace(rule, **changes) if rule.id == rule_id else rule  # type: ignore[arg-type]
        for rule in DEFAULT_POLICY.rules
    )
    return Policy(DEFAULT_POLICY.scenarios, rules)


# -- the words on the card -------------------------------------------------------------------------

# Written out by hand from phase2-rollback-procedures.md (headings in sentence case, as the card
# shows them; symptoms word for word): the module says it keeps the procedure's own words.
PROCEDURE = {
    "minor": (
        "Minor issue during testing",
        (
            "Single API endpoint not working",
            "Small frontend component issue",
            "Non-critical test failure",
        ),
    ),
    "critical": (
        "Critical issue after checkpoint",
        (
            "Multiple tests failing",
            "API completely broken",
            "Database queries causing errors",
            "Performance severely degraded",
        ),
    ),
    "email": (
        "Production breaking after email system removal",
        (
            "Emails not sending",
            "Inbox page broken",
            "Email history lost",
            "Webhook endpoints not responding",
        ),
    ),
    "performance": (
        "Performance degradation",
        (
            "APIs responding > 2s",
            "Database queries slow",
            "Frontend TTI > 3s",
            "Server CPU/memory high",
        ),
    ),
    "database": (
        "Database migration failure",
        (
            "Module queries failing with schema errors",
            "New columns/tables not found",
            "Data inconsistency",
        ),
    ),
    "security": ("Security vulnerability", ("Security vulnerability",)),
}


@pytest.mark.parametrize("name", list(PROCEDURE))
def test_policy_scenarios_keep_the_procedure_words(name: str) -> None:
    scenario = DEFAULT_POLICY.scenarios[name]
    assert (scenario.title, scenario.symptoms) == PROCEDURE[name]


# The card quotes "the rule that fired" with where the procedure says so.
RULE_TEXTS = {
    "security-any": (
        "Security vulnerability: immediate rollback, whatever the severity (decision matrix)"
    ),
    "email-any": (
        "Production emails broken: emergency rollback, whatever the severity (decision matrix)"
    ),
    "severity-4-plus": "Severity ≥ 4: rollback without investigation (Emergency contacts, step 3)",
    "minor-fix-forward": "Minor issue: fix forward, no rollback needed (Scenario 1)",
    "severity-3-or-less": (
        "Severity ≤ 3: attempt a quick fix (max 30 min; performance 1 hour), then rollback "
        "(Emergency contacts, step 4; Scenario 4)"
    ),
    "blocker-critical": "Critical: immediate rollback (Escalation path, step 3)",
    "blocker-high": "High: 30 min fix window, then rollback (Escalation path, step 4)",
    "blocker-medium-low": "Medium/low: continue with fix (Escalation path, step 5)",
}


def test_policy_rules_quote_the_procedure_on_the_card() -> None:
    assert {rule.id: rule.text for rule in DEFAULT_POLICY.rules} == RULE_TEXTS


# What each rule's text (or, for minor-fix-forward, the module's docstring) says it covers.
RANGES = {
    "security-any": (1, 5),
    "email-any": (1, 5),
    "severity-4-plus": (4, 5),
    "minor-fix-forward": (1, 3),
    "severity-3-or-less": (1, 3),
    "blocker-critical": (5, 5),
    "blocker-high": (4, 4),
    "blocker-medium-low": (1, 3),
}


def test_policy_rules_cover_what_their_text_says_not_only_what_the_order_leaves_them() -> None:
    # The first match wins, so a range one wider than its text (severity-3-or-less up to 4) is
    # hidden by the rule above it today; it would decide cases the day the table is reordered or
    # a policy drops that rule.
    assert {rule.id: (rule.min_severity, rule.max_severity) for rule in DEFAULT_POLICY.rules} == (
        RANGES
    )


def test_action_values_are_the_names_stored_on_incidents() -> None:
    # decision_summary stores action.value in every incident's decision, and the incident card
    # compares the stored "fix_window_then_rollback" to show the fix window: renaming a value
    # would misread every incident already stored.
    assert {action.name: action.value for action in Action} == {
        "FIX_FORWARD": "fix_forward",
        "FIX_WINDOW_THEN_ROLLBACK": "fix_window_then_rollback",
        "ROLLBACK": "rollback",
        "EMERGENCY_ROLLBACK": "emergency_rollback",
    }


# -- what is accepted, and what a refusal says ------------------------------------------------------


def test_sources_are_the_ones_decide_accepts() -> None:
    assert get_args(Source) == SOURCES
    valid = {"scenario": ("minor", None), "blocker": (None, 3)}
    for source in SOURCES:
        scenario, severity = valid[source]
        assert decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity).rule
    assert set(valid) == set(SOURCES)


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_severity_from_text_reads_every_number(number: int) -> None:
    assert severity_from_text(f" {number} ") == number


def _refusal(text: str) -> InputError:
    with pytest.raises(InputError) as refused:
        severity_from_text(text)
    return refused.value


def test_severity_refusal_suggests_exactly_the_forms_it_accepts() -> None:
    forms = _refusal("6").valid_forms
    for form in forms:
        severity_from_text(form)  # each suggestion must itself be accepted
    assert set(forms) == {"1", "2", "3", "4", "5", *SEVERITY_WORDS}


def test_severity_refusal_messages() -> None:
    assert _refusal("six").user_message == f"`six` is not a severity. {USE}"
    assert _refusal("  ").user_message == f"Which severity? {USE}"


def test_shown_word_cannot_close_the_backticks_or_mention_anyone() -> None:
    said = _refusal("<!channel> `x`").user_message
    assert said == f"`\u2039!channel\u203a 'x'` is not a severity. {USE}"


def test_shown_word_is_whole_up_to_40_characters_then_cut() -> None:
    assert _refusal("w" * 40).user_message == f"`{'w' * 40}` is not a severity. {USE}"
    cut = "a" * 37 + "bcde"  # 41 characters: the 38th on must not be shown
    assert _refusal(cut).user_message == f"`{'a' * 37}...` is not a severity. {USE}"


def _decide_refusal(source: str, scenario: str | None, severity: int | None) -> InputError:
    with pytest.raises(InputError) as refused:
        decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
    return refused.value


def test_decide_refusal_messages() -> None:
    assert _decide_refusal("blocker", "minor", 3).user_message == (
        "A blocker has no scenario; report it with `/rollback scenario`."
    )
    needs = _decide_refusal("blocker", None, None)
    assert needs.user_message == (
        "A blocker needs the orchestrator's severity: 1-5 or low, medium, high, critical."
    )
    assert "critical" in needs.valid_forms
    assert _decide_refusal("rumour", None, 3).user_message == (
        "`rumour` is not a source: use scenario or blocker."
    )
    unknown = _decide_refusal("scenario", "flood", None)
    assert unknown.user_message == f"`flood` is not a scenario. Scenarios: {SCENARIO_NAMES}."
    assert unknown.valid_forms == tuple(DEFAULT_POLICY.scenarios)
    assert _decide_refusal("scenario", None, None).user_message == (
        f"Which scenario? Scenarios: {SCENARIO_NAMES}."
    )
    assert _decide_refusal("scenario", "minor", 7).user_message == (
        "`7` is not a severity: use 1-5."
    )


def test_decide_on_an_unvalidated_policy_names_the_uncovered_case() -> None:
    scenarios_only = Policy(
        DEFAULT_POLICY.scenarios, tuple(r for r in DEFAULT_POLICY.rules if r.source == "scenario")
    )
    with pytest.raises(ConfigError) as refused:
        decide(scenarios_only, source="blocker", scenario=None, severity=3)
    assert refused.value.user_message == "No rollback rule covers blockers at severity 3."
    no_minor = Policy(
        DEFAULT_POLICY.scenarios,
        tuple(
            r
            for r in DEFAULT_POLICY.rules
            if r.id not in ("minor-fix-forward", "severity-3-or-less")
        ),
    )
    with pytest.raises(ConfigError) as refused:
        decide(no_minor, source="scenario", scenario="minor", severity=2)
    assert refused.value.user_message == "No rollback rule covers scenario `minor` at severity 2."


# -- validate_policy ---------------------------------------------------------------------------------


def test_validate_policy_fix_windows_of_one_minute_are_valid() -> None:
    scenarios = dict(DEFAULT_POLICY.scenarios)
    scenarios["minor"] = dataclasses.replace(scenarios["minor"], fix_window_min=1)
    assert validate_policy(Policy(scenarios, DEFAULT_POLICY.rules)) == []
    assert validate_policy(_with_rule("blocker-high", fix_window_min=1)) == []


def test_validate_policy_refuses_a_rule_window_of_zero() -> None:
    assert validate_policy(_with_rule("blocker-high", fix_window_min=0)) == [
        "Rule `blocker-high`: the fix window must be more than 0 minutes."
    ]


def test_validate_policy_refuses_a_severity_above_5() -> None:
    assert validate_policy(_with_rule("severity-4-plus", max_severity=6)) == [
        "Rule `severity-4-plus`: severities 4-6 must lie within 1-5, lowest first."
    ]


def test_validate_policy_messages_name_the_rule_and_the_fix() -> None:
    twice = Policy(DEFAULT_POLICY.scenarios, (*DEFAULT_POLICY.rules, _rule("blocker-critical")))
    assert validate_policy(twice) == [
        "Rule id `blocker-critical` is used twice; ids must be unique.",
        "Rule `blocker-critical` never fires: earlier rules match every case it covers.",
    ]
    assert validate_policy(_with_rule("minor-fix-forward", text="  ")) == [
        "Rule `minor-fix-forward` has no text to show on the incident card."
    ]
    assert validate_policy(_with_rule("blocker-critical", scenarios=frozenset({"minor"}))) == [
        "Rule `blocker-critical`: blocker rules cannot name scenarios.",
        "No rule covers blockers at severity 5.",
        "Rule `blocker-critical` never fires: earlier rules match every case it covers.",
    ]
    assert validate_policy(_with_rule("email-any", scenarios=frozenset({"mail", "fire"}))) == [
        "Rule `email-any` names unknown scenarios: fire, mail.",
        "Rule `email-any` never fires: earlier rules match every case it covers.",
    ]
    assert validate_policy(_with_rule("blocker-high", fix_window_min=None)) == [
        "Rule `blocker-high`: a blocker fix window needs its own fix_window_min."
    ]


# -- nothing loaded can change ----------------------------------------------------------------------


@pytest.mark.parametrize("piece", ["scenario", "rule", "policy", "decision"])
def test_policy_pieces_are_frozen(piece: str) -> None:
    # The README's "frozen results": a flow cannot edit the policy or a decision it was handed.
    decision = decide(DEFAULT_POLICY, source="scenario", scenario="critical", severity=3)
    pieces: dict[str, ScenarioPolicy | Rule | Policy | Decision] = {
        "scenario": DEFAULT_POLICY.scenarios["critical"],
        "rule": DEFAULT_POLICY.rules[0],
        "policy": DEFAULT_POLICY,
        "decision": decision,
    }
    target = pieces[piece]
    field = dataclasses.fields(target)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(target, field, None)


# -- with_overrides: the config's windows and severities over the table ---------------------------


@pytest.mark.parametrize(
    ("windows", "severities", "message"),
    [
        ({"critcal": 5}, {}, "`critcal` is not a scenario, `default` or `blocker_high`."),
        ({}, {"default": 3}, "`default` is not a scenario."),
        ({"minor": 0}, {}, "`minor`: a fix window is more than 0 and at most 1440 minutes."),
        ({"minor": 1440.5}, {}, "`minor`: a fix window is more than 0 and at most 1440 minutes."),
        ({"minor": True}, {}, "`minor`: a fix window is more than 0 and at most 1440 minutes."),
        ({}, {"minor": 6}, "`minor`: a default severity is 1-5."),
    ],
)
def test_with_overrides_bad_keys_are_named_exactly(
    windows: dict[str, float], severities: dict[str, int], message: str
) -> None:
    with pytest.raises(InputError) as refused:
        with_overrides(DEFAULT_POLICY, fix_window_min=windows, default_severity=severities)
    assert refused.value.user_message == message


def test_with_overrides_a_whole_day_is_the_longest_window() -> None:
    policy = with_overrides(DEFAULT_POLICY, fix_window_min={"minor": 1440})
    assert policy.scenarios["minor"].fix_window_min == 1440


def test_with_overrides_default_leaves_a_scenarios_own_window_alone() -> None:
    policy = with_overrides(DEFAULT_POLICY, fix_window_min={"default": 0.05})
    assert policy.scenarios["performance"].fix_window_min == 60  # its own, from the procedure
    assert policy.scenarios["critical"].fix_window_min == 0.05
    named = with_overrides(DEFAULT_POLICY, fix_window_min={"default": 10, "performance": 5})
    assert named.scenarios["performance"].fix_window_min == 5


def test_with_overrides_blocker_high_changes_only_the_blocker_high_rule() -> None:
    policy = with_overrides(DEFAULT_POLICY, fix_window_min={"blocker_high": 7})
    changed = {rule.id: rule.fix_window_min for rule in policy.rules}
    before = {rule.id: rule.fix_window_min for rule in DEFAULT_POLICY.rules}
    assert changed.pop(BLOCKER_HIGH_RULE) == 7
    assert changed == {k: v for k, v in before.items() if k != BLOCKER_HIGH_RULE}
    untouched = with_overrides(DEFAULT_POLICY, fix_window_min={"minor": 7})
    assert untouched.rules == DEFAULT_POLICY.rules
