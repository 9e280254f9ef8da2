from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.errors import ConfigError, InputError
from actions.policy import (
    DEFAULT_POLICY,
    Action,
    Policy,
    Rule,
    Target,
    decide,
    severity_from_text,
    severity_level,
    validate_policy,
)
from bot.grammar import SCENARIOS

FF = Action.FIX_FORWARD
WINDOW = Action.FIX_WINDOW_THEN_ROLLBACK
RB = Action.ROLLBACK
EMERGENCY = Action.EMERGENCY_ROLLBACK

# Written out by hand from the procedure, on purpose: this is the spec, not a recomputation.
# (source, scenario, severity, action, rule id, fix window)
TABLE = [
    ("scenario", "minor", 1, FF, "minor-fix-forward", None),
    ("scenario", "minor", 2, FF, "minor-fix-forward", None),
    ("scenario", "minor", 3, FF, "minor-fix-forward", None),
    ("scenario", "minor", 4, RB, "severity-4-plus", None),
    ("scenario", "minor", 5, RB, "severity-4-plus", None),
    ("scenario", "critical", 1, WINDOW, "severity-3-or-less", 30),
    ("scenario", "critical", 2, WINDOW, "severity-3-or-less", 30),
    ("scenario", "critical", 3, WINDOW, "severity-3-or-less", 30),
    ("scenario", "critical", 4, RB, "severity-4-plus", None),
    ("scenario", "critical", 5, RB, "severity-4-plus", None),
    ("scenario", "email", 1, EMERGENCY, "email-any", None),
    ("scenario", "email", 2, EMERGENCY, "email-any", None),
    ("scenario", "email", 3, EMERGENCY, "email-any", None),
    ("scenario", "email", 4, EMERGENCY, "email-any", None),
    ("scenario", "email", 5, EMERGENCY, "email-any", None),
    ("scenario", "performance", 1, WINDOW, "severity-3-or-less", 60),
    ("scenario", "performance", 2, WINDOW, "severity-3-or-less", 60),
    ("scenario", "performance", 3, WINDOW, "severity-3-or-less", 60),
    ("scenario", "performance", 4, RB, "severity-4-plus", None),
    ("scenario", "performance", 5, RB, "severity-4-plus", None),
    ("scenario", "database", 1, WINDOW, "severity-3-or-less", 30),
    ("scenario", "database", 2, WINDOW, "severity-3-or-less", 30),
    ("scenario", "database", 3, WINDOW, "severity-3-or-less", 30),
    ("scenario", "database", 4, RB, "severity-4-plus", None),
    ("scenario", "database", 5, RB, "severity-4-plus", None),
    ("scenario", "security", 1, EMERGENCY, "security-any", None),
    ("scenario", "security", 2, EMERGENCY, "security-any", None),
    ("scenario", "security", 3, EMERGENCY, "security-any", None),
    ("scenario", "security", 4, EMERGENCY, "security-any", None),
    ("scenario", "security", 5, EMERGENCY, "security-any", None),
    ("blocker", None, 1, FF, "blocker-medium-low", None),
    ("blocker", None, 2, FF, "blocker-medium-low", None),
    ("blocker", None, 3, FF, "blocker-medium-low", None),
    ("blocker", None, 4, WINDOW, "blocker-high", 30),
    ("blocker", None, 5, RB, "blocker-critical", None),
]

# (scenario, default severity, level, target, database step, fix window)
DEFAULTS = [
    ("minor", 1, "low", Target.LAST_CHECKPOINT, False, 30),
    ("critical", 3, "medium", Target.LAST_CHECKPOINT, False, 30),
    ("email", 5, "critical", Target.BEFORE_EMAIL_REMOVAL, False, 30),
    ("performance", 3, "medium", Target.LAST_GREEN_CHECKPOINT, False, 60),
    ("database", 4, "high", Target.LAST_CHECKPOINT, True, 30),
    ("security", 5, "critical", Target.LAST_CHECKPOINT, False, 30),
]

severities = st.integers(min_value=1, max_value=5)
cases = st.one_of(
    st.tuples(st.just("scenario"), st.sampled_from(SCENARIOS)),
    st.tuples(st.just("blocker"), st.none()),
)


def _naive_first(policy: Policy, source: str, scenario: str | None, severity: int) -> Rule | None:
    # Deliberately not Rule.matches: an independent reading of "first match wins".
    for rule in policy.rules:
        in_scope = rule.scenarios is None or (scenario is not None and scenario in rule.scenarios)
        if (
            rule.source == source
            and in_scope
            and rule.min_severity <= severity <= rule.max_severity
        ):
            return rule
    return None


def _gaps(policy: Policy) -> list[tuple[str, str | None, int]]:
    all_cases = [("scenario", name) for name in policy.scenarios] + [("blocker", None)]
    return [
        (source, name, severity)
        for source, name in all_cases
        for severity in range(1, 6)
        if _naive_first(policy, source, name, severity) is None
    ]


def _without(rule_id: str) -> Policy:
    kept = tuple(rule for rule in DEFAULT_POLICY.rules if rule.id != rule_id)
    return dataclasses.replace(DEFAULT_POLICY, rules=kept)


# -- the table -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "scenario", "severity", "action", "rule_id", "window"), TABLE)
def test_decide_matches_procedure_table(
    source: str,
    scenario: str | None,
    severity: int,
    action: Action,
    rule_id: str,
    window: int | None,
) -> None:
    decision = decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
    assert (decision.action, decision.rule.id, decision.fix_window_min) == (action, rule_id, window)
    assert decision.severity == severity
    assert decision.rolls_back is (action is not FF)
    assert (decision.scenario is None) is (source == "blocker")


def test_decide_table_covers_every_case() -> None:
    covered = {(source, scenario, severity) for source, scenario, severity, *_ in TABLE}
    expected = {("scenario", name, s) for name in SCENARIOS for s in range(1, 6)}
    assert covered == expected | {("blocker", None, s) for s in range(1, 6)}


def test_default_policy_rule_order_is_stable() -> None:
    assert [rule.id for rule in DEFAULT_POLICY.rules] == [
        "security-any",
        "email-any",
        "severity-4-plus",
        "minor-fix-forward",
        "severity-3-or-less",
        "blocker-critical",
        "blocker-high",
        "blocker-medium-low",
    ]
    assert all(rule.text.strip() for rule in DEFAULT_POLICY.rules)


# -- scenario defaults -----------------------------------------------------------------------------


def test_default_policy_scenarios_match_grammar() -> None:
    assert tuple(DEFAULT_POLICY.scenarios) == SCENARIOS


@pytest.mark.parametrize(("name", "severity", "level", "target", "db_step", "window"), DEFAULTS)
def test_scenario_defaults_follow_procedure(
    name: str, severity: int, level: str, target: Target, db_step: bool, window: int
) -> None:
    scenario = DEFAULT_POLICY.scenarios[name]
    assert scenario.name == name
    assert (scenario.default_severity, scenario.target) == (severity, target)
    assert (scenario.database_step, scenario.fix_window_min) == (db_step, window)
    assert scenario.title and scenario.symptoms
    assert severity_level(severity) == level


@pytest.mark.parametrize("name", SCENARIOS)
def test_decide_without_severity_uses_scenario_default(name: str) -> None:
    implied = decide(DEFAULT_POLICY, source="scenario", scenario=name, severity=None)
    default = DEFAULT_POLICY.scenarios[name].default_severity
    explicit = decide(DEFAULT_POLICY, source="scenario", scenario=name, severity=default)
    assert implied == explicit
    assert implied.severity == default


# -- severities ------------------------------------------------------------------------------------


ACCEPTED = [
    ("1", 1),
    ("5", 5),
    (" 3 ", 3),
    ("low", 1),
    ("Medium", 3),
    (" HIGH ", 4),
    ("critical", 5),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_severity_from_text_accepts_digits_and_words(text: str, expected: int) -> None:
    assert severity_from_text(text) == expected


@pytest.mark.parametrize("text", ["0", "6", "urgent", "", "4.0", "-1", "٣", "²", "10", "sev4"])
def test_severity_from_text_rejects_other_words(text: str) -> None:
    with pytest.raises(InputError) as caught:
        severity_from_text(text)
    message = caught.value.user_message
    assert message.endswith("Use 1-5 or low, medium, high, critical.")
    assert f"`{text}` is not a severity" in message if text else "Which severity?" in message
    assert "high" in caught.value.valid_forms


@pytest.mark.parametrize(
    ("severity", "level"), [(1, "low"), (2, "low"), (3, "medium"), (4, "high"), (5, "critical")]
)
def test_severity_level_bands(severity: int, level: str) -> None:
    assert severity_level(severity) == level


@pytest.mark.parametrize("severity", [0, 6, -1, True])
def test_severity_level_out_of_range_rejected(severity: int) -> None:
    with pytest.raises(InputError, match="is not a severity: use 1-5"):
        severity_level(severity)


# -- bad input -------------------------------------------------------------------------------------


def test_decide_unknown_scenario_lists_the_scenarios() -> None:
    with pytest.raises(InputError) as caught:
        decide(DEFAULT_POLICY, source="scenario", scenario="outage", severity=3)
    assert "`outage` is not a scenario" in caught.value.user_message
    assert ", ".join(SCENARIOS) in caught.value.user_message


def test_decide_missing_scenario_asks_which() -> None:
    with pytest.raises(InputError, match="Which scenario"):
        decide(DEFAULT_POLICY, source="scenario", scenario=None, severity=3)


@pytest.mark.parametrize("severity", [0, 6, 42, -3])
@pytest.mark.parametrize(("source", "scenario"), [("scenario", "critical"), ("blocker", None)])
def test_decide_out_of_range_severity_rejected(
    source: str, scenario: str | None, severity: int
) -> None:
    with pytest.raises(InputError, match=f"`{severity}` is not a severity: use 1-5"):
        decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]


def test_decide_non_integer_severity_rejected() -> None:
    # Text must go through severity_from_text first; decide refuses it rather than guessing.
    with pytest.raises(InputError, match="`urgent` is not a severity"):
        decide(DEFAULT_POLICY, source="scenario", scenario="minor", severity="urgent")  # type: ignore[arg-type]


def test_decide_blocker_without_severity_rejected() -> None:
    with pytest.raises(InputError, match="blocker needs the orchestrator's severity"):
        decide(DEFAULT_POLICY, source="blocker", scenario=None, severity=None)


def test_decide_blocker_with_scenario_rejected() -> None:
    with pytest.raises(InputError, match="blocker has no scenario"):
        decide(DEFAULT_POLICY, source="blocker", scenario="email", severity=4)


def test_decide_unknown_source_rejected() -> None:
    with pytest.raises(InputError, match="is not a source"):
        decide(DEFAULT_POLICY, source="pager", scenario=None, severity=4)  # type: ignore[arg-type]


def test_decide_policy_gap_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="scenario `critical` at severity 2"):
        decide(_without("severity-3-or-less"), source="scenario", scenario="critical", severity=2)


# -- properties ------------------------------------------------------------------------------------


@given(case=cases, severity=severities)
def test_decide_total_over_valid_inputs(case: tuple[str, str | None], severity: int) -> None:
    source, scenario = case
    decision = decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
    assert decision.level == severity_level(severity)
    assert (decision.fix_window_min is not None) is (decision.action is WINDOW)


@given(case=cases, severity=severities)
def test_decide_returns_first_matching_rule(case: tuple[str, str | None], severity: int) -> None:
    source, scenario = case
    decision = decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
    assert decision.rule is _naive_first(DEFAULT_POLICY, source, scenario, severity)


rule_strategy = st.builds(
    Rule,
    id=st.text(alphabet="abc", min_size=1, max_size=3),
    source=st.sampled_from(["scenario", "blocker"]),
    scenarios=st.none() | st.frozensets(st.sampled_from(SCENARIOS), min_size=1, max_size=3),
    min_severity=st.integers(1, 5),
    max_severity=st.integers(1, 5),
    action=st.sampled_from(list(Action)),
    text=st.just("rule"),
    fix_window_min=st.none() | st.integers(1, 120),
)


@given(rules=st.lists(rule_strategy, max_size=8), case=cases, severity=severities)
def test_decide_first_match_on_arbitrary_tables(
    rules: list[Rule], case: tuple[str, str | None], severity: int
) -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, rules=tuple(rules))
    source, scenario = case
    expected = _naive_first(policy, source, scenario, severity)
    if expected is None:
        with pytest.raises(ConfigError):
            decide(policy, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
    else:
        decision = decide(policy, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
        assert decision.rule is expected


@given(case=cases, severity=st.integers(1, 4))
def test_decide_rollback_is_monotonic_in_severity(
    case: tuple[str, str | None], severity: int
) -> None:
    source, scenario = case
    lower = decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity)  # type: ignore[arg-type]
    higher = decide(DEFAULT_POLICY, source=source, scenario=scenario, severity=severity + 1)  # type: ignore[arg-type]
    assert not lower.rolls_back or higher.rolls_back
    # Stronger: urgency never drops as severity rises.
    order = [FF, WINDOW, RB, EMERGENCY]
    assert order.index(lower.action) <= order.index(higher.action)


def test_validate_policy_default_is_clean() -> None:
    assert validate_policy(DEFAULT_POLICY) == []


@given(rule_id=st.sampled_from([rule.id for rule in DEFAULT_POLICY.rules]))
def test_validate_policy_dropped_rule_gap_reported(rule_id: str) -> None:
    # Some drops leave no gap (security falls through to the numeric rules); those must stay clean.
    policy = _without(rule_id)
    problems = validate_policy(policy)
    gaps = _gaps(policy)
    assert bool(problems) is bool(gaps)
    for _source, scenario, severity in gaps:
        where = f"scenario `{scenario}`" if scenario else "blockers"
        assert any(where in p and str(severity) in p and "No rule covers" in p for p in problems)


def test_validate_policy_dropped_catch_all_names_every_gap() -> None:
    problems = validate_policy(_without("severity-3-or-less"))
    assert problems == [
        "No rule covers scenario `critical` at severity 1, 2, 3.",
        "No rule covers scenario `performance` at severity 1, 2, 3.",
        "No rule covers scenario `database` at severity 1, 2, 3.",
    ]


def _with_rules(*rules: Rule) -> Policy:
    return dataclasses.replace(DEFAULT_POLICY, rules=DEFAULT_POLICY.rules + rules)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (DEFAULT_POLICY.rules[0], "Rule id `security-any` is used twice"),
        (Rule("r", "scenario", None, 0, 6, FF, "x"), "severities 0-6 must lie within 1-5"),
        (Rule("r", "scenario", None, 4, 2, FF, "x"), "severities 4-2 must lie within 1-5"),
        (Rule("r", "blocker", frozenset({"email"}), 1, 5, FF, "x"), "cannot name scenarios"),
        (Rule("r", "scenario", frozenset({"outage"}), 1, 5, FF, "x"), "unknown scenarios: outage"),
        (Rule("r", "scenario", None, 1, 5, WINDOW, "x", 0), "fix window must be more than 0"),
        (Rule("r", "blocker", None, 1, 5, WINDOW, "x"), "needs its own fix_window_min"),
        (Rule("r", "scenario", None, 1, 5, FF, " "), "has no text"),
        (Rule("r", "scenario", None, 1, 5, FF, "x"), "Rule `r` never fires"),
    ],
)
def test_validate_policy_bad_rule_reported(extra: Rule, problem: str) -> None:
    assert any(problem in p for p in validate_policy(_with_rules(extra)))


def test_validate_policy_bad_scenario_reported() -> None:
    minor = DEFAULT_POLICY.scenarios["minor"]
    bad = dict(DEFAULT_POLICY.scenarios)
    bad["minor"] = dataclasses.replace(minor, name="tiny", default_severity=0, fix_window_min=0)
    problems = validate_policy(dataclasses.replace(DEFAULT_POLICY, scenarios=bad))
    assert "Scenario `minor` is named `tiny`." in problems
    assert "Scenario `minor`: default severity must be 1-5." in problems
    assert "Scenario `minor`: the fix window must be more than 0 minutes." in problems
