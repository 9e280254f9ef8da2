"""``[policy]``: the procedure's rule table with the team's fix windows and default severities.

The table itself is :data:`actions.policy.DEFAULT_POLICY`; the config only moves its numbers, and
the result is checked with :func:`actions.policy.validate_policy` so a bad override stops start-up
with one line that names the key.
"""

from __future__ import annotations

from actions.errors import ConfigError, InputError
from actions.policy import DEFAULT_POLICY, Policy, validate_policy, with_overrides
from bot.config.section import Section


def parse_policy(top: Section) -> Policy:
    if not top.has("policy"):
        return DEFAULT_POLICY
    section = top.table("policy")
    windows = _numbers(section, "fix_window_min", "minutes (fractions allowed)")
    severities = _numbers(section, "default_severity", "a severity 1-5")
    section.finish()
    for key, value in severities.items():
        if value != int(value):
            raise ConfigError(f"{section.key('default_severity')}.{key}: expected 1-5, got {value}")
    try:
        policy = with_overrides(
            DEFAULT_POLICY,
            fix_window_min=windows,
            default_severity={key: int(value) for key, value in severities.items()},
        )
    except InputError as error:
        raise ConfigError(f"{section.name}: {error}") from None
    problems = validate_policy(policy)
    if problems:
        raise ConfigError(f"{section.name}: {problems[0]}")
    return policy


def _numbers(section: Section, key: str, what: str) -> dict[str, float]:
    if not section.has(key):
        return {}
    table = section.table(key)
    values = {}
    for name in table.names():
        values[name] = table.number(name, 0.0, what)
    table.finish()
    return values
