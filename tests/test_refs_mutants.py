"""Ref-name rules that survived mutation (scripts/mutants actions/refs.py).

git itself is the reference wherever our rules claim to mirror it, so these tests ask
``git check-ref-format`` rather than restating its rules.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.errors import RefNameError
from actions.refs import (
    MAX_REF_LENGTH,
    is_valid_branch_name,
    looks_like_commit_id,
    ref_name_problem,
    require_ref_name,
)


def _git_accepts(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", name], capture_output=True, timeout=10
    )
    return result.returncode == 0


# Every character class a rule looks at, plus ordinary ones no rule may refuse ('X', '!', 'é'),
# the two ends of the control range (\x1f, DEL) and the first character after it (\x80).
REF_ALPHABET = "aX!é-./@{}~^:?*[\\ +T0\x01\x1f\x7f\x80"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=REF_ALPHABET, min_size=1, max_size=10))
def test_ref_name_problem_agrees_with_git_except_for_a_leading_dash(name: str) -> None:
    # The existing property proves we are never looser than git; this one proves we are not
    # stricter either, apart from our own rule (no leading '-'), so no good name is refused.
    expected = _git_accepts(name) and not name.startswith("-")
    assert (ref_name_problem(name) is None) == expected, name


def test_ref_name_problem_allows_200_characters_and_refuses_201() -> None:
    # Written out, not computed from MAX_REF_LENGTH: the boundary itself is the rule.
    assert ref_name_problem("a" * 200) is None
    assert ref_name_problem("a" * 201) == "it is longer than 200 characters"


# Written out by hand: the reason is what the person reads after "is not a valid tag or
# commit:", so each rule must give its own, and the first rule that applies must win.
REASONS = [
    ("", "it is empty"),
    ("-x", "it starts with '-'"),
    ("a\x01b", "it contains a control character"),
    ("a\x7f", "it contains a control character"),
    # A space is not a control character: it must get the forbidden-character reason.
    ("a b", "it contains a space or one of ~ ^ : ? * [ \\"),
    ("a~1", "it contains a space or one of ~ ^ : ? * [ \\"),
    ("a..b", "it contains '..', '@{' or '//', or is '@'"),
    ("@", "it contains '..', '@{' or '//', or is '@'"),
    ("a/", "it starts or ends with '/' or ends with '.'"),
    ("a.", "it starts or ends with '/' or ends with '.'"),
    ("a/.b", "a part of it starts with '.' or ends with '.lock'"),
    ("a.lock/b", "a part of it starts with '.' or ends with '.lock'"),
]


@pytest.mark.parametrize(("name", "reason"), REASONS)
def test_ref_name_problem_names_the_rule_that_refused(name: str, reason: str) -> None:
    assert ref_name_problem(name) == reason


@pytest.mark.parametrize(("name", "reason"), REASONS)
def test_require_ref_name_message_quotes_the_name_once_then_the_reason(
    name: str, reason: str
) -> None:
    with pytest.raises(RefNameError) as refused:
        require_ref_name(name, what="branch name")
    if name.isprintable():
        assert str(refused.value) == f"{name!r} is not a valid branch name: {reason}"
    else:
        # Shown escaped, never raw: a control character must not reach a terminal or Slack.
        message = str(refused.value)
        assert message.endswith(f" is not a valid branch name: {reason}")
        assert message.isprintable()


def test_require_ref_name_says_ref_name_when_not_told_what() -> None:
    with pytest.raises(RefNameError, match=r"^'a\.\.b' is not a valid ref name: "):
        require_ref_name("a..b")


def test_require_ref_name_shows_a_name_of_60_characters_whole() -> None:
    name = "n" * 59 + "."  # refused only for its last character
    with pytest.raises(RefNameError) as refused:
        require_ref_name(name, what="tag")
    assert str(refused.value).startswith(f"{name!r} is not a valid tag: ")


@pytest.mark.parametrize("length", [61, 62, MAX_REF_LENGTH + 1])
def test_require_ref_name_cuts_a_longer_name_to_60_characters(length: int) -> None:
    # Characters 61 and on differ from the first 60, so any of them in the message shows.
    name = "a" * 60 + "Z" * (length - 61) + "."
    with pytest.raises(RefNameError) as refused:
        require_ref_name(name, what="tag")
    message = str(refused.value)
    assert "a" * 60 in message and "Z" not in message and "a." not in message


def test_is_valid_branch_name_refuses_head_and_invalid_names_only() -> None:
    assert is_valid_branch_name("feature/phase2-module-integration")
    assert is_valid_branch_name("HEADS")  # only the exact name HEAD is git's own
    assert not is_valid_branch_name("HEAD")
    assert not is_valid_branch_name("a..b")


HEX = "0123456789abcdef"


# Not "\n": `$` also matches before a final newline, so "abcd\n" passes today (reported).
@given(st.text(alphabet=HEX + "ABCg- ", max_size=70))
def test_looks_like_commit_id_is_4_to_64_lowercase_hex_digits(value: str) -> None:
    expected = 4 <= len(value) <= 64 and all(char in HEX for char in value)
    assert looks_like_commit_id(value) == expected, value
