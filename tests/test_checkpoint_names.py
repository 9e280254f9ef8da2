from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.checkpoint import checkpoint_names, hours_since, phase_title
from actions.errors import InputError, RefNameError

START = datetime(2025, 11, 21, 9, 0, tzinfo=UTC)


def _git_accepts_tag(tag: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", f"refs/tags/{tag}"], capture_output=True, timeout=10
    )
    return result.returncode == 0


def test_checkpoint_names_t4h_matches_procedure() -> None:
    names = checkpoint_names(
        phase="phase2",
        kind="checkpoint",
        hours=4,
        message="Customer validation, email testing",
        started_at=START,
        now=START + timedelta(hours=4),
    )
    assert names.tag == "phase2-checkpoint-T+4h"
    assert names.tag_message == "Phase 2 Checkpoint: 4 hours"
    assert names.commit_message == (
        "stabilize(phase2): T+4h checkpoint - Customer validation, email testing"
    )
    assert names.label == "T+4h"


def test_checkpoint_names_empty_message_has_no_dash_part() -> None:
    names = checkpoint_names(
        phase="phase2", kind="checkpoint", hours=8, message="  ", started_at=START, now=START
    )
    assert names.commit_message == "stabilize(phase2): T+8h checkpoint"


def test_checkpoint_names_one_hour_is_singular() -> None:
    names = checkpoint_names(
        phase="phase2", kind="checkpoint", hours=1, message="", started_at=START, now=START
    )
    assert names.tag_message == "Phase 2 Checkpoint: 1 hour"


def test_checkpoint_names_complete_with_message() -> None:
    names = checkpoint_names(
        phase="phase2",
        kind="complete",
        hours=24,
        message="All modules operational",
        started_at=START,
        now=START,
    )
    assert names.tag == "phase2-complete-T+24h"
    assert names.tag_message == "Phase 2 Complete: All modules operational"
    assert names.commit_message == "stabilize(phase2): T+24h - All modules operational"
    assert names.label == "T+24h"


def test_checkpoint_names_complete_default_message() -> None:
    names = checkpoint_names(
        phase="phase2", kind="complete", hours=24, message="", started_at=START, now=START
    )
    assert names.tag_message == "Phase 2 Complete"
    assert names.commit_message == "stabilize(phase2): T+24h - Phase 2 complete"


def test_checkpoint_names_before_uses_utc_timestamp() -> None:
    now = datetime(2025, 11, 21, 15, 30, 0, tzinfo=timezone(timedelta(hours=1)))
    names = checkpoint_names(
        phase="phase2",
        kind="before",
        hours=None,
        message="removing email-config.ts",
        started_at=START,
        now=now,
    )
    assert names.tag == "checkpoint-20251121-143000"
    assert names.tag_message == "Pre-change checkpoint"
    assert names.commit_message == "stabilize(phase2): checkpoint before removing email-config.ts"
    assert names.label == "20251121-143000"


def test_checkpoint_names_before_without_change_refused() -> None:
    with pytest.raises(InputError, match="what change"):
        checkpoint_names(
            phase="phase2", kind="before", hours=None, message=" ", started_at=START, now=START
        )


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(hours=4, minutes=59), "T+4h"),
        (timedelta(hours=24), "T+24h"),
        (timedelta(minutes=10), "T+1h"),
    ],
)
def test_checkpoint_names_hours_computed_from_start(elapsed: timedelta, expected: str) -> None:
    names = checkpoint_names(
        phase="phase2",
        kind="checkpoint",
        hours=None,
        message="",
        started_at=START,
        now=START + elapsed,
    )
    assert names.label == expected
    assert names.tag == f"phase2-checkpoint-{expected}"


def test_hours_since_floors_and_is_at_least_one() -> None:
    assert hours_since(START, START + timedelta(hours=7, minutes=59, seconds=59)) == 7
    assert hours_since(START, START) == 1
    assert hours_since(START, START - timedelta(hours=3)) == 1


def test_hours_since_naive_times_are_utc() -> None:
    naive_now = datetime(2025, 11, 21, 17, 0)
    assert hours_since(START, naive_now) == 8


@pytest.mark.parametrize(
    "message",
    [
        "first line\nsecond line",
        "carriage\rreturn",
        "nul\x00byte",
        "escape \x1b[31mred",
        "delete\x7f",
        "line\u2028separator",
        "right-to-left \u202eoverride",
        "x" * 201,
    ],
)
def test_checkpoint_names_bad_message_refused(message: str) -> None:
    with pytest.raises(InputError, match="Nothing was changed"):
        checkpoint_names(
            phase="phase2",
            kind="checkpoint",
            hours=8,
            message=message,
            started_at=START,
            now=START,
        )


def test_checkpoint_names_bad_change_text_refused() -> None:
    with pytest.raises(InputError, match="single line"):
        checkpoint_names(
            phase="phase2", kind="before", hours=None, message="a\nb", started_at=START, now=START
        )


def test_checkpoint_names_message_of_200_characters_accepted() -> None:
    names = checkpoint_names(
        phase="phase2", kind="checkpoint", hours=8, message="y" * 200, started_at=START, now=START
    )
    assert names.commit_message.endswith(" - " + "y" * 200)


@pytest.mark.parametrize("hours", [0, -4, 10_000])
def test_checkpoint_names_hours_out_of_range_refused(hours: int) -> None:
    with pytest.raises(InputError, match="not a checkpoint label"):
        checkpoint_names(
            phase="phase2", kind="checkpoint", hours=hours, message="", started_at=START, now=START
        )


@pytest.mark.parametrize("phase", ["-n", "--upload-pack=touch x", "phase 2", "", "a/b", "a..b"])
def test_checkpoint_names_option_like_or_bad_phase_refused(phase: str) -> None:
    with pytest.raises(RefNameError):
        checkpoint_names(
            phase=phase, kind="checkpoint", hours=4, message="", started_at=START, now=START
        )


@pytest.mark.parametrize("kind", ["checkpoint", "complete", "before"])
def test_checkpoint_names_phase2_tags_are_not_option_like(kind: str) -> None:
    names = checkpoint_names(
        phase="phase2",
        kind=kind,  # type: ignore[arg-type]
        hours=None,
        message="-n",
        started_at=START,
        now=START + timedelta(hours=4),
    )
    assert not names.tag.startswith("-")
    assert _git_accepts_tag(names.tag)


@pytest.mark.parametrize(
    ("phase", "title"),
    [("phase2", "Phase 2"), ("migration-b", "Migration-b"), ("phase10", "Phase 10"), ("p", "P")],
)
def test_phase_title_examples(phase: str, title: str) -> None:
    assert phase_title(phase) == title


_VALID_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
        blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    max_size=200,
)


@settings(max_examples=60, deadline=None)
@given(
    phase=st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,39}\Z"),
    kind=st.sampled_from(["checkpoint", "complete", "before"]),
    hours=st.one_of(st.none(), st.integers(min_value=1, max_value=9999)),
    message=_VALID_TEXT,
)
def test_checkpoint_names_property_tag_is_a_valid_ref(
    phase: str, kind: str, hours: int | None, message: str
) -> None:
    message = message if message.strip() or kind != "before" else "a change"
    try:
        names = checkpoint_names(
            phase=phase,
            kind=kind,  # type: ignore[arg-type]
            hours=hours,
            message=message,
            started_at=START,
            now=START + timedelta(hours=5),
        )
    except RefNameError:
        # Only phases git itself would refuse in a ref name ("a..b") are turned away.
        assert ".." in phase
        return
    assert _git_accepts_tag(names.tag)
    assert not names.tag.startswith("-")
    assert "\n" not in names.commit_message
    assert message.strip() in names.commit_message
