"""The rollback policy as data, and the one pure function that applies it.

The procedure states its rules in three places: the ROLLBACK DECISION MATRIX, the severity rules
under EMERGENCY CONTACTS (>= 4 rollback without investigation, <= 3 quick fix then rollback) and
the Escalation Path for blockers. They overlap, so the table is ordered and the first match wins:

1. Security and email are matrix rows whose time to fix is "Any": they name what broke, not how
   badly, so they come before the numeric rules and no severity can talk them down to a fix window.
2. Severity >= 4 comes before scenario 1's fix-forward: a "minor" issue rated 4 is no longer minor.
3. Scenario 1 ("no rollback needed") comes before the generic <= 3 quick-fix-then-rollback rule.

Blockers go the escalation path instead: the orchestrator rates a blocker found during the work,
there is no scenario to consult, and its bands differ on purpose (high gets a fix window, medium
and low continue with the fix). They are rules with ``source="blocker"`` so the two rule sets never
shadow each other. Nothing here does I/O; callers turn a Decision into a card and a plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from actions.errors import ConfigError, InputError

Source = Literal["scenario", "blocker"]
SOURCES: tuple[Source, ...] = ("scenario", "blocker")
SEVERITIES = (1, 2, 3, 4, 5)
# "low" spans 1-2 on the scale; every rule treats 1 and 2 alike, so the word maps to scenario 1's 1.
SEVERITY_WORDS: Mapping[str, int] = MappingProxyType(
    {"low": 1, "medium": 3, "high": 4, "critical": 5}
)
SEVERITY_FORMS = ("1", "2", "3", "4", "5", "low", "medium", "high", "critical")
DEFAULT_FIX_WINDOW_MIN = 30


class Action(StrEnum):
    FIX_FORWARD = "fix_forward"
    FIX_WINDOW_THEN_ROLLBACK = "fix_window_then_rollback"
    ROLLBACK = "rollback"
    EMERGENCY_ROLLBACK = "emergency_rollback"


class Target(StrEnum):
    LAST_CHECKPOINT = "last_checkpoint"
    BEFORE_EMAIL_REMOVAL = "before_email_removal"
    #: The newest checkpoint whose validation checklist passed (Scenario 4: the performance was
    #: fine there); a checkpoint forced past a failing checklist does not count.
    LAST_GREEN_CHECKPOINT = "last_green_checkpoint"


@dataclass(frozen=True)
class ScenarioPolicy:
    name: str
    title: str
    default_severity: int
    target: Target
    database_step: bool
    fix_window_min: float
    symptoms: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One row of the table. ``fix_window_min`` None means "the scenario's own window"."""

    id: str
    source: Source
    scenarios: frozenset[str] | None
    min_severity: int
    max_severity: int
    action: Action
    text: str
    # Blockers have no scenario to take a window from, so their window rule carries its own.
    fix_window_min: float | None = None

    def matches(self, source: str, scenario: str | None, severity: int) -> bool:
        return (
            self.source == source
            and (self.scenarios is None or scenario in self.scenarios)
            and self.min_severity <= severity <= self.max_severity
        )


@dataclass(frozen=True)
class Policy:
    scenarios: Mapping[str, ScenarioPolicy]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Decision:
    scenario: ScenarioPolicy | None
    severity: int
    level: str
    action: Action
    fix_window_min: float | None
    rule: Rule
    rolls_back: bool


def _scenario(
    name: str,
    title: str,
    severity: int,
    symptoms: tuple[str, ...],
    *,
    target: Target = Target.LAST_CHECKPOINT,
    database_step: bool = False,
    fix_window_min: float = DEFAULT_FIX_WINDOW_MIN,
) -> ScenarioPolicy:
    return ScenarioPolicy(name, title, severity, target, database_step, fix_window_min, symptoms)


# The procedure's text, kept in its own words so the incident card can quote it.
# fmt: off
_DEFAULT_SCENARIOS = (
    _scenario("minor", "Minor issue during testing", 1, (
        "Single API endpoint not working", "Small frontend component issue",
        "Non-critical test failure")),
    _scenario("critical", "Critical issue after checkpoint", 3, (
        "Multiple tests failing", "API completely broken", "Database queries causing errors",
        "Performance severely degraded")),
    _scenario("email", "Production breaking after email system removal", 5, (
        "Emails not sending", "Inbox page broken", "Email history lost",
        "Webhook endpoints not responding"),
        target=Target.BEFORE_EMAIL_REMOVAL),
    _scenario("performance", "Performance degradation", 3, (
        "APIs responding > 2s", "Database queries slow", "Frontend TTI > 3s",
        "Server CPU/memory high"),
        target=Target.LAST_GREEN_CHECKPOINT,
        fix_window_min=60),  # Scenario 4, step 3: "If can't fix in 1 hour, rollback".
    _scenario("database", "Database migration failure", 4, (
        "Module queries failing with schema errors", "New columns/tables not found",
        "Data inconsistency"),
        database_step=True),  # Scenario 5: "Rollback database and code together".
    _scenario("security", "Security vulnerability", 5, ("Security vulnerability",)),
)

_DEFAULT_RULES = (
    Rule("security-any", "scenario", frozenset({"security"}), 1, 5, Action.EMERGENCY_ROLLBACK,
         "Security vulnerability: immediate rollback, whatever the severity (decision matrix)"),
    Rule("email-any", "scenario", frozenset({"email"}), 1, 5, Action.EMERGENCY_ROLLBACK,
         "Production emails broken: emergency rollback, whatever the severity (decision matrix)"),
    Rule("severity-4-plus", "scenario", None, 4, 5, Action.ROLLBACK,
         "Severity ≥ 4: rollback without investigation (Emergency contacts, step 3)"),
    Rule("minor-fix-forward", "scenario", frozenset({"minor"}), 1, 3, Action.FIX_FORWARD,
         "Minor issue: fix forward, no rollback needed (Scenario 1)"),
    Rule("severity-3-or-less", "scenario", None, 1, 3, Action.FIX_WINDOW_THEN_ROLLBACK,
         "Severity ≤ 3: attempt a quick fix (max 30 min; performance 1 hour), then rollback "
         "(Emergency contacts, step 4; Scenario 4)"),
    Rule("blocker-critical", "blocker", None, 5, 5, Action.ROLLBACK,
         "Critical: immediate rollback (Escalation path, step 3)"),
    Rule("blocker-high", "blocker", None, 4, 4, Action.FIX_WINDOW_THEN_ROLLBACK,
         "High: 30 min fix window, then rollback (Escalation path, step 4)",
         fix_window_min=DEFAULT_FIX_WINDOW_MIN),
    Rule("blocker-medium-low", "blocker", None, 1, 3, Action.FIX_FORWARD,
         "Medium/low: continue with fix (Escalation path, step 5)"),
)
# fmt: on

DEFAULT_POLICY = Policy(
    scenarios=MappingProxyType({s.name: s for s in _DEFAULT_SCENARIOS}),
    rules=_DEFAULT_RULES,
)


#: The rule whose window ``[policy.fix_window_min] blocker_high`` sets.
BLOCKER_HIGH_RULE = "blocker-high"


def with_overrides(
    policy: Policy,
    *,
    fix_window_min: Mapping[str, float] | None = None,
    default_severity: Mapping[str, int] | None = None,
) -> Policy:
    """``policy`` with the config's windows and default severities; InputError names a bad key.

    ``fix_window_min`` keys are scenario names, ``default`` (every scenario not named) and
    ``blocker_high``; a window may be a fraction of a minute, so staging can shorten it.
    """
    windows = dict(fix_window_min or {})
    severities = dict(default_severity or {})
    known = set(policy.scenarios)
    for key in sorted(set(windows) - known - {"default", "blocker_high"}):
        raise InputError(f"`{_shown(key)}` is not a scenario, `default` or `blocker_high`.")
    for key in sorted(set(severities) - known):
        raise InputError(f"`{_shown(key)}` is not a scenario.")
    for key, minutes in windows.items():
        if isinstance(minutes, bool) or not 0 < minutes <= 24 * 60:
            raise InputError(f"`{key}`: a fix window is more than 0 and at most 1440 minutes.")
    for key, severity in severities.items():
        if isinstance(severity, bool) or severity not in SEVERITIES:
            raise InputError(f"`{key}`: a default severity is 1-5.")
    scenarios = {}
    for name, scenario in policy.scenarios.items():
        # The default replaces the procedure's 30 minutes, not a scenario's own window (60 for
        # performance), which only its own key changes.
        own = scenario.fix_window_min != DEFAULT_FIX_WINDOW_MIN
        window = windows.get(name, scenario.fix_window_min if own else windows.get("default"))
        scenarios[name] = replace(
            scenario,
            fix_window_min=scenario.fix_window_min if window is None else window,
            default_severity=severities.get(name, scenario.default_severity),
        )
    rules = tuple(
        replace(rule, fix_window_min=windows["blocker_high"])
        if rule.id == BLOCKER_HIGH_RULE and "blocker_high" in windows
        else rule
        for rule in policy.rules
    )
    return Policy(scenarios=MappingProxyType(scenarios), rules=rules)


def severity_from_text(text: str) -> int:
    """'4' -> 4, ' High ' -> 4, 'low' -> 1; InputError for anything else."""
    word = text.strip().lower()
    # An explicit set, not str.isdigit(), which would also accept '٣' or '²'.
    if word in ("1", "2", "3", "4", "5"):
        return int(word)
    if word in SEVERITY_WORDS:
        return SEVERITY_WORDS[word]
    what = f"`{_shown(word)}` is not a severity." if word else "Which severity?"
    raise InputError(f"{what} Use 1-5 or low, medium, high, critical.", valid_forms=SEVERITY_FORMS)


def severity_level(severity: int) -> str:
    """The procedure's word for a 1-5 severity: 1-2 low, 3 medium, 4 high, 5 critical."""
    _check_severity(severity)
    return {1: "low", 2: "low", 3: "medium", 4: "high"}.get(severity, "critical")


def decide(
    policy: Policy, *, source: Source, scenario: str | None, severity: int | None
) -> Decision:
    """The first rule of ``policy`` that matches; InputError when the request itself is invalid."""
    chosen: ScenarioPolicy | None = None
    if source == "scenario":
        chosen = _known_scenario(policy, scenario)
        severity = chosen.default_severity if severity is None else severity
    elif source == "blocker":
        if scenario is not None:
            raise InputError("A blocker has no scenario; report it with `/rollback scenario`.")
        if severity is None:
            raise InputError(
                "A blocker needs the orchestrator's severity: 1-5 or low, medium, high, critical.",
                valid_forms=SEVERITY_FORMS,
            )
    else:
        raise InputError(f"`{_shown(str(source))}` is not a source: use scenario or blocker.")
    _check_severity(severity)
    name = chosen.name if chosen else None
    index = _first_match(policy.rules, source, name, severity)
    if index is None:
        # validate_policy reports this at load time; reaching it means an unvalidated policy.
        raise ConfigError(f"No rollback rule covers {_case(source, name)} at severity {severity}.")
    rule = policy.rules[index]
    window = None
    if rule.action is Action.FIX_WINDOW_THEN_ROLLBACK:
        window = rule.fix_window_min
        if window is None and chosen is not None:
            window = chosen.fix_window_min
    return Decision(
        scenario=chosen,
        severity=severity,
        level=severity_level(severity),
        action=rule.action,
        fix_window_min=window,
        rule=rule,
        rolls_back=rule.action is not Action.FIX_FORWARD,
    )


def validate_policy(policy: Policy) -> list[str]:
    """Every problem that would make ``decide`` fail or mislead; [] for a usable policy."""
    problems: list[str] = []
    for key, scenario in policy.scenarios.items():
        if scenario.name != key:
            problems.append(f"Scenario `{key}` is named `{scenario.name}`.")
        if scenario.default_severity not in SEVERITIES:
            problems.append(f"Scenario `{key}`: default severity must be 1-5.")
        if scenario.fix_window_min <= 0:
            problems.append(f"Scenario `{key}`: the fix window must be more than 0 minutes.")
    seen: set[str] = set()
    for rule in policy.rules:
        problems.extend(_rule_problems(rule, policy, seen))
        seen.add(rule.id)
    problems.extend(_coverage_problems(policy))
    return problems


def _rule_problems(rule: Rule, policy: Policy, seen: set[str]) -> list[str]:
    found: list[str] = []
    if rule.id in seen:
        found.append(f"Rule id `{rule.id}` is used twice; ids must be unique.")
    if not rule.text.strip():
        found.append(f"Rule `{rule.id}` has no text to show on the incident card.")
    if not 1 <= rule.min_severity <= rule.max_severity <= 5:
        found.append(
            f"Rule `{rule.id}`: severities {rule.min_severity}-{rule.max_severity} "
            "must lie within 1-5, lowest first."
        )
    if rule.scenarios is not None:
        if rule.source == "blocker":
            found.append(f"Rule `{rule.id}`: blocker rules cannot name scenarios.")
        unknown = sorted(rule.scenarios - set(policy.scenarios))
        if unknown:
            found.append(f"Rule `{rule.id}` names unknown scenarios: {', '.join(unknown)}.")
    if rule.fix_window_min is not None and rule.fix_window_min <= 0:
        found.append(f"Rule `{rule.id}`: the fix window must be more than 0 minutes.")
    if (
        rule.source == "blocker"
        and rule.action is Action.FIX_WINDOW_THEN_ROLLBACK
        and rule.fix_window_min is None
    ):
        found.append(f"Rule `{rule.id}`: a blocker fix window needs its own fix_window_min.")
    return found


def _coverage_problems(policy: Policy) -> list[str]:
    # Exhaustive over the small space (sources x scenarios x 5 severities), so "covered" is a fact
    # rather than an argument about overlapping ranges.
    found: list[str] = []
    fired: set[int] = set()
    cases: list[tuple[Source, str | None]] = [("scenario", name) for name in policy.scenarios]
    cases.append(("blocker", None))
    for source, name in cases:
        missing = []
        for severity in SEVERITIES:
            index = _first_match(policy.rules, source, name, severity)
            if index is None:
                missing.append(str(severity))
            else:
                fired.add(index)
        if missing:
            found.append(f"No rule covers {_case(source, name)} at severity {', '.join(missing)}.")
    for index, rule in enumerate(policy.rules):
        if index not in fired:
            found.append(f"Rule `{rule.id}` never fires: earlier rules match every case it covers.")
    return found


def _first_match(
    rules: Sequence[Rule], source: str, scenario: str | None, severity: int
) -> int | None:
    return next(
        (i for i, rule in enumerate(rules) if rule.matches(source, scenario, severity)), None
    )


def _known_scenario(policy: Policy, name: str | None) -> ScenarioPolicy:
    if name is not None and name in policy.scenarios:
        return policy.scenarios[name]
    names = ", ".join(policy.scenarios)
    what = f"`{_shown(name)}` is not a scenario." if name else "Which scenario?"
    raise InputError(f"{what} Scenarios: {names}.", valid_forms=tuple(policy.scenarios))


def _check_severity(severity: object) -> None:
    # bool is an int subclass; True would otherwise pass as severity 1.
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise InputError(
            f"`{_shown(str(severity))}` is not a severity: use 1-5.", valid_forms=SEVERITY_FORMS
        )


def _case(source: str, scenario: str | None) -> str:
    return f"scenario `{scenario}`" if source == "scenario" else "blockers"


def _shown(value: str) -> str:
    """Someone's word, safe inside backticks on a card: bounded, no backticks or mentions."""
    cleaned = value.replace("`", "'").replace("<", "\u2039").replace(">", "\u203a")
    return cleaned if len(cleaned) <= 40 else cleaned[:37] + "..."
