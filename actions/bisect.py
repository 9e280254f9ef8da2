"""Name the first bad commit among those a rollback removed: ``git bisect run`` with a judge.

Pure: the commits (oldest first) and a ``judge`` that says good, bad or skip for one commit.
What is known going in is the procedure's: the rollback target (just before the first commit)
was good, and the last commit was bad, which is why it was rolled back. Each step judges the
commit halfway between the newest known good and the oldest known bad, so n commits take at
most ceil(log2 n) judgements. A commit that cannot be judged is skipped, as ``git bisect
skip`` would, and the nearest one to the middle tried instead, which costs a few more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"  # the checks could not judge this commit


@dataclass(frozen=True)
class BisectResult:
    first_bad: str | None  # None: every commit between was skipped, nothing can be named
    candidates: tuple[str, ...]  # when skips leave several, all the commits it may be
    judged: tuple[tuple[str, Verdict], ...]  # each judgement, in order

    @property
    def runs(self) -> int:
        return len(self.judged)


def bisect(commits: Sequence[str], judge: Callable[[str], Verdict]) -> BisectResult:
    """The first commit of ``commits`` that ``judge`` finds bad, the last one assumed bad."""
    if not commits:
        return BisectResult(None, (), ())
    good, bad = -1, len(commits) - 1  # indexes: newest known good, oldest known bad
    skipped: set[int] = set()
    judged: list[tuple[str, Verdict]] = []
    while bad - good > 1:
        index = _next_to_judge(good, bad, skipped)
        if index is None:
            break  # everything between is unjudgeable
        verdict = judge(commits[index])
        judged.append((commits[index], verdict))
        if verdict is Verdict.GOOD:
            good = index
        elif verdict is Verdict.BAD:
            bad = index
        else:
            skipped.add(index)
    between = tuple(commits[i] for i in range(good + 1, bad + 1))
    first_bad = commits[bad] if len(between) == 1 else None
    return BisectResult(first_bad, between, tuple(judged))


def _next_to_judge(good: int, bad: int, skipped: set[int]) -> int | None:
    """The index halfway between, or the nearest one to it not skipped yet."""
    middle = (good + bad) // 2
    for distance in range(bad - good):
        for index in (middle - distance, middle + distance):
            if good < index < bad and index not in skipped:
                return index
    return None
