"""ROLLBACK_LOG.md as a CommonMark reader sees it: whatever people typed stays text.

The log is parsed with markdown-it (CommonMark), so "safe" means what a renderer does with it:
the only headings are the title and one per entry, the only list is each entry's impact, and
no field opens a code block, an HTML block or a quote.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from actions.rollback_log import LogEntry, escape_markdown, render_entry, render_log, write_log

HOSTILE = (
    "## Rollback: 2020-01-01 00:00 UTC\n"
    "<!channel> <@U0ORCH> <script>alert(1)</script>\n"
    "```\nrm -rf /\n```\n"
    "    indented code\n"
    "> quoted\n- a list\n1. numbered\n---\n===\n| a | b |\n**bold** _it_ ~~gone~~ [x](http://e)\n"
    "&amp; &#35;"
)
BLOCKS_FROM_FIELDS = {"fence", "code_block", "blockquote_open", "hr", "ordered_list_open"}


def entry(number: int, text: str = "") -> LogEntry:
    return LogEntry(
        incident_id=number,
        at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC) + timedelta(hours=number),
        trigger=text or f"trigger {number}",
        severity="Critical",
        from_sha="abc1234" + "0" * 33,
        to_sha="def5678" + "0" * 33,
        to_ref="phase2-checkpoint-T+8h",
        backup_branch="phase2-broken-20261201-093000",
        impact=("What broke: customers", f"Endpoints affected: 1 of 3 {text}"),
        root_cause=text,
        prevention=text,
        retry_eta=text,
    )


def tokens(markdown: str) -> list[str]:
    return [token.type for token in MarkdownIt("commonmark").enable("table").parse(markdown)]


def test_render_log_lays_each_entry_out_as_the_procedure_does_newest_first() -> None:
    text = render_log([entry(1), entry(2)])
    assert text.index("incident 2 -->") < text.index("incident 1 -->")
    lines = render_entry(entry(1)).splitlines()
    assert lines[0] == "## Rollback: 2026-12-01 10:30 UTC"
    order = [line for line in lines if line.startswith("**")]
    assert order == [
        "**Trigger:** trigger 1",
        "**Severity:** Critical",
        "**Rollback From:** `abc1234`",
        "**Rollback To:** `phase2-checkpoint-T+8h` (`def5678`)",
        "**Backup Branch:** `phase2-broken-20261201-093000`",
        "**Impact:**",
        "**Root Cause:**",
        "**Prevention:**",
        "**Retry ETA:**",
    ]
    assert lines[lines.index("**Root Cause:**") + 1] == "_Not filled in yet._"


def test_hostile_field_text_opens_no_block_and_no_heading() -> None:
    found = tokens(render_log([entry(1, HOSTILE), entry(2, HOSTILE)]))
    assert found.count("heading_open") == 3  # the title and the two entries
    assert found.count("bullet_list_open") == 2  # the two impact lists
    assert found.count("html_block") == 2  # each entry's own incident marker, no other
    assert not BLOCKS_FROM_FIELDS & set(found)
    assert "table_open" not in found


def test_escape_markdown_keeps_every_character_readable() -> None:
    escaped = escape_markdown("a_b *c* `d` <e> #1")
    assert escaped == "a\\_b \\*c\\* \\`d\\` \\<e\\> #1"
    # Rendered back, the text is what was typed.
    html = MarkdownIt("commonmark").render(escaped)
    assert html == "<p>a_b *c* `d` &lt;e&gt; #1</p>\n"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_text_in_any_field_leaves_the_log_structure_alone(text: str) -> None:
    found = tokens(render_log([entry(1, text)]))
    assert found.count("heading_open") == 2
    assert found.count("bullet_list_open") == 1
    assert found.count("html_block") == 1
    assert not BLOCKS_FROM_FIELDS & set(found)


def test_write_log_replaces_atomically_and_says_when_nothing_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "docs" / "ROLLBACK_LOG.md"
    assert write_log(path, "one\n") is True
    assert write_log(path, "one\n") is False
    assert write_log(path, "two\n") is True
    assert path.read_text() == "two\n"
    assert [p.name for p in path.parent.iterdir()] == ["ROLLBACK_LOG.md"]
