from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.errors import RefNameError
from actions.refs import ref_name_problem, require_ref_name


def _git_accepts(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", name], capture_output=True, timeout=10
    )
    return result.returncode == 0


@pytest.mark.parametrize(
    "name",
    [
        "--upload-pack=touch /tmp/pwned",
        "-x",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "/a",
        "a/",
        "a.",
        "a//b",
        ".a",
        "a/.b",
        "a.lock",
        "a@{1}",
        "@",
        "",
        "a\x01",
        "x" * 201,
    ],
)
def test_require_ref_name_refuses_dangerous_names(name: str) -> None:
    with pytest.raises(RefNameError):
        require_ref_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "phase2-checkpoint-T+4h",
        "feature/phase2-module-integration",
        "checkpoint-20251121-143000",
        "v1.2",
    ],
)
def test_require_ref_name_keeps_procedure_names(name: str) -> None:
    assert require_ref_name(name) == name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab-./@{}~^:?*[\\ +T0", min_size=1, max_size=12))
def test_ref_name_problem_never_accepts_what_git_refuses(name: str) -> None:
    # Our rules may be stricter than git's (leading '-'), never looser.
    if ref_name_problem(name) is None:
        assert _git_accepts(name), name
