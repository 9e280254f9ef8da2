"""The bisect's search, as a table and as properties: it names the first bad commit in at most
ceil(log2 n) judgements when every commit can be judged, and steps over the ones it cannot."""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.bisect import Verdict, bisect

COMMITS = [f"c{i:02d}" for i in range(64)]


def judge_with(bad_from: int, skips: frozenset[int] = frozenset()) -> Callable[[str], Verdict]:
    def judge(sha: str) -> Verdict:
        index = int(sha[1:])
        if index in skips:
            return Verdict.SKIP
        return Verdict.BAD if index >= bad_from else Verdict.GOOD

    return judge


def test_sixty_four_commits_one_bad_in_the_middle_in_at_most_seven_runs() -> None:
    found = bisect(COMMITS, judge_with(31))
    assert found.first_bad == "c31" and found.runs <= 7


def test_the_first_and_the_last_commit_can_be_the_bad_one() -> None:
    assert bisect(COMMITS, judge_with(0)).first_bad == "c00"
    assert bisect(COMMITS, judge_with(63)).first_bad == "c63"
    assert bisect(["only"], judge_with(0)).first_bad == "only"
    assert bisect(["only"], judge_with(0)).runs == 0  # the last is bad: known, not judged


def test_a_skipped_neighbour_is_stepped_over() -> None:
    found = bisect(COMMITS, judge_with(20, frozenset({31, 15})))
    assert found.first_bad == "c20"
    assert ("c31", Verdict.SKIP) in found.judged


def test_when_every_candidate_is_skipped_it_names_them_all_and_no_culprit() -> None:
    found = bisect(COMMITS[:4], judge_with(1, frozenset({0, 1, 2})))
    assert found.first_bad is None and found.candidates == ("c00", "c01", "c02", "c03")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_any_history_names_the_first_bad_within_log2_runs(case: tuple[int, int]) -> None:
    size, bad_from = case
    commits = [f"c{i:03d}" for i in range(size)]
    found = bisect(commits, judge_with(bad_from))
    assert found.first_bad == commits[bad_from]
    assert found.runs <= max(0, math.ceil(math.log2(size)))
