"""The second wave's config keys: the policy's numbers, escalation, and the database step."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import ConfigError
from actions.policy import DEFAULT_POLICY, decide
from bot.config import Config, load_config
from tests.conftest import config_text
from tests.gitrepo import PhaseRepo

SECOND_WAVE = """
[policy.fix_window_min]
default = 20
performance = 0.05
blocker_high = 45

[policy.default_severity]
critical = 4

[escalation]
fallback = ["U0LEAD", "S0LEADS"]
repeat = 3
[escalation.delay_min]
critical = 0.5
high = 10
"""


def _load(tmp_path: Path, phase_repo: PhaseRepo, extra: str, *, database: str = "") -> Config:
    text = config_text(phase_repo.work, tmp_path / "x.db")
    text = text.replace('url_env = "DATABASE_URL"', 'url_env = "DATABASE_URL"' + database)
    path = tmp_path / "c.toml"
    path.write_text(text + extra)
    return load_config(path)


def test_policy_and_escalation_keys_move_the_procedures_numbers(
    tmp_path: Path, phase_repo: PhaseRepo
) -> None:
    config = _load(tmp_path, phase_repo, SECOND_WAVE)
    policy = config.policy
    windows = {name: s.fix_window_min for name, s in policy.scenarios.items()}
    # The default replaces the procedure's 30 minutes; performance keeps its own key.
    assert windows["minor"] == windows["critical"] == windows["database"] == 20
    assert windows["performance"] == 0.05
    blocker_high = decide(policy, source="blocker", scenario=None, severity=4)
    assert blocker_high.fix_window_min == 45
    assert decide(policy, source="scenario", scenario="critical", severity=None).severity == 4
    escalation = config.escalation
    assert escalation.fallback == ("U0LEAD", "S0LEADS")
    assert escalation.repeat == 3
    assert escalation.delay_min.for_level("critical") == 0.5
    assert escalation.delay_min.for_level("high") == 10
    # Unset levels keep the procedure's cadence.
    assert (escalation.delay_min.medium, escalation.delay_min.low) == (60, 0)


def test_no_second_wave_keys_means_the_procedures_defaults(
    tmp_path: Path, phase_repo: PhaseRepo
) -> None:
    config = _load(tmp_path, phase_repo, "")
    assert config.policy is DEFAULT_POLICY
    escalation = config.escalation
    assert (escalation.fallback, escalation.repeat) == ((), 2)
    assert [escalation.delay_min.for_level(x) for x in ("critical", "high", "medium", "low")] == [
        5,
        15,
        60,
        0,
    ]
    database = config.database
    assert database.rollback_dir == "migrations/rollback"
    assert database.rollback_command is None
    assert database.backup_dir == (tmp_path / "backups").resolve()
    assert config.git.clean_untracked is True


def test_database_step_keys_are_read(tmp_path: Path, phase_repo: PhaseRepo) -> None:
    database = (
        '\nrollback_dir = "db/down"\nbackup_dir = "dumps"\n'
        'rollback_command = "npm run db:rollback -- --to={migration}"'
    )
    config = _load(tmp_path, phase_repo, "", database=database)
    got = config.database
    assert got.rollback_dir == "db/down"
    assert got.backup_dir == (tmp_path / "dumps").resolve()
    assert got.rollback_command == "npm run db:rollback -- --to={migration}"


def test_clean_untracked_can_be_turned_off(tmp_path: Path, phase_repo: PhaseRepo) -> None:
    text = config_text(phase_repo.work, tmp_path / "x.db")
    text = text.replace('remote = "origin"', 'remote = "origin"\nclean_untracked = false')
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_config(path).git.clean_untracked is False


@pytest.mark.parametrize(
    ("extra", "database", "expected"),
    [
        ("[policy.fix_window_min]\nminr = 5\n", "", "`minr` is not a scenario"),
        ("[policy.fix_window_min]\ndefault = 0\n", "", "more than 0 and at most 1440"),
        ("[policy.fix_window_min]\ndefault = -1\n", "", "more than 0"),
        ('[policy.fix_window_min]\ndefault = "30"\n', "", "policy.fix_window_min.default"),
        ("[policy.default_severity]\nminor = 6\n", "", "`minor`: a default severity is 1-5"),
        ("[policy.default_severity]\nminor = 2.5\n", "", "expected 1-5"),
        ("[policy]\nwindows = 3\n", "", "policy: unknown key 'windows'"),
        ('[escalation]\nfallback = ["lead"]\n', "", "escalation.fallback: expected user IDs"),
        ("[escalation]\nrepeat = 0\n", "", "escalation.repeat: expected 1 to 20"),
        ("[escalation]\nrepeat = 1.5\n", "", "escalation.repeat"),
        ("[escalation.delay_min]\ncritical = -1\n", "", "escalation.delay_min.critical"),
        ("[escalation.delay_min]\nurgent = 1\n", "", "unknown key 'urgent'"),
        ("", '\nrollback_dir = "../x"', "database.rollback_dir: must be a folder inside"),
        ("", '\nrollback_command = "npm run down"', "expected {migration}"),
        ("", '\nrollback_command = "run \'unclosed"', "cannot be split"),
        ("", "\nbackup_dir = 5", "database.backup_dir: expected a folder"),
    ],
)
def test_bad_second_wave_keys_get_one_clear_line(
    tmp_path: Path, phase_repo: PhaseRepo, extra: str, database: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, phase_repo, extra, database=database)
    assert expected in caught.value.user_message
    assert "\n" not in caught.value.user_message
