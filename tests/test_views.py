from __future__ import annotations

from datetime import UTC, datetime, timedelta

from actions.git import CheckpointTag, RepoStatus
from bot.flows.home import HomeReport
from bot.flows.status import StatusReport
from bot.terminal.render import mrkdwn_to_text, render_message
from bot.views.errors import build_error_view
from bot.views.help import build_help_view
from bot.views.home import build_home_view
from bot.views.status import build_status_view
from store import Incident, IncidentState

NOW = datetime(2025, 11, 21, 19, 0, tzinfo=UTC)


def _report(
    *, incidents: int = 0, branch: str | None = "feature/x", subject: str = "fix"
) -> StatusReport:
    repo = RepoStatus(
        branch=branch,
        expected_branch="feature/x",
        head="a" * 40,
        head_subject=subject,
        remote_head="b" * 40,
        remote_problem=None,
        dirty_paths=3,
        operation_in_progress="merge",
        checkpoints=(
            CheckpointTag("phase2-checkpoint-T+4h", "c" * 40, NOW - timedelta(hours=6), "m"),
        ),
    )
    opened = [
        Incident(
            i + 1,
            "critical",
            "5",
            "t" * 500,
            "U0ENG",
            "C0INCIDENTS",
            IncidentState.OPEN,
            NOW,
            NOW,
            None,
        )
        for i in range(incidents)
    ]
    return StatusReport(
        "autolytiq", "phase2", NOW - timedelta(hours=10), NOW, repo, None, tuple(opened)
    )


def _within_slack_limits(message: dict) -> None:  # type: ignore[type-arg]
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        text = block.get("text", {}).get("text", "")
        assert len(text) <= (150 if block["type"] == "header" else 3000)


def test_status_view_shows_facts_and_warnings() -> None:
    lines, _ = render_message(build_status_view(_report(branch="main")))
    text = "\n".join(lines)
    assert "T+10H" in text
    assert "Remote head: bbbbbbb (differs from HEAD)" in text  # short ids as git shows them
    assert "3 changed or untracked paths" in text
    assert "phase2-checkpoint-T+4h at ccccccc, 6 h 00 min ago" in text
    assert "Not on the phase branch feature/x." in text
    assert "A merge is in progress" in text


def test_status_view_shows_held_locks() -> None:
    from dataclasses import replace

    from store import Lock

    report = replace(
        _report(),
        locks=(
            Lock(
                "repo:/srv/app",
                "os:alice",
                "checkpoint phase2-checkpoint-T+8h",
                NOW - timedelta(minutes=3),
            ),
        ),
    )
    lines, _ = render_message(build_status_view(report))
    assert "• checkpoint phase2-checkpoint-T+8h, held by os:alice since 3 min ago" in lines


def test_status_view_with_many_incidents_stays_within_limits() -> None:
    message = build_status_view(_report(incidents=500))
    _within_slack_limits(message)
    assert "…and 480 more" in str(message["blocks"])


def test_views_escape_what_users_wrote() -> None:
    message = build_status_view(_report(subject="<!channel> & <@U123>"))
    assert "<!channel>" not in str(message["blocks"])
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in str(message["blocks"])
    assert "<!here>" not in str(build_error_view("oops <!here>")["blocks"])


def test_help_home_and_error_views_are_within_limits() -> None:
    for message in (
        build_help_view(),
        build_error_view("x" * 5000, ["a", "b"]),
        build_home_view(HomeReport(_report(incidents=500), (), ())),
    ):
        _within_slack_limits(message)


def test_mrkdwn_to_text_reads_like_slack_shows_it() -> None:
    assert mrkdwn_to_text("*Branch*: `main` by <@U0ENG> see <https://x.test|the doc>") == (
        "Branch: main by @U0ENG see the doc (https://x.test)"
    )
    assert mrkdwn_to_text("a &lt;b&gt; &amp; c") == "a <b> & c"
    assert (
        mrkdwn_to_text(":x: *customers*: HTTP 500 :sparkles:")
        == "[FAIL] customers: HTTP 500 :sparkles:"
    )


def test_render_message_numbers_buttons_across_messages() -> None:
    message = {
        "blocks": [
            {
                "type": "actions",
                "block_id": "b1",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "text": {"type": "plain_text", "text": "Approve"},
                    },
                    {
                        "type": "button",
                        "action_id": "reject",
                        "text": {"type": "plain_text", "text": "Reject"},
                    },
                ],
            },
            {"type": "rich_text"},
        ]
    }
    lines, buttons = render_message(message, first_button=4)
    assert [(b.number, b.label, b.block_id) for b in buttons] == [
        (4, "Approve", "b1"),
        (5, "Reject", "b1"),
    ]
    assert "[4] Approve   [5] Reject" in lines[0]
    assert lines[1] == "[unsupported block: rich_text]"
