"""ROLLBACK_LOG.md in the procedure's exact format ("Rollback log format"), newest first.

Pure: entries in, Markdown out. What people typed (a trigger, a root cause) is escaped, so a
pasted heading, list, fence or HTML tag stays text and can never start a fake entry or break
the ones after it; the full text is kept (the store has it too).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

TITLE = "# Rollback Log"
NOT_FILLED = "_Not filled in yet._"
# Characters CommonMark reads as inline markup (emphasis, code, links, HTML, tables,
# strikethrough, entities); each is backslash-escaped wherever it appears.
_INLINE = re.compile(r"([\\`*_\[\]<>|~&!])")
# What starts a block at the beginning of a line: a heading, a quote, a list, a rule, a
# setext underline. Its first character is escaped, which makes the line a paragraph.
_BLOCK_START = re.compile(r"^(#|>|[-+=]|\d{1,9}[.)])")
_INCIDENT_MARK = "<!-- rollback-bot incident {} -->"


@dataclass(frozen=True)
class LogEntry:
    """One rollback as the log tells it; empty fields say they are not filled in yet."""

    incident_id: int
    at: datetime
    trigger: str
    severity: str  # Low, Medium, High or Critical
    from_sha: str  # the branch's head before the rollback
    to_sha: str
    to_ref: str | None  # the checkpoint tag it went back to, when it was one
    backup_branch: str | None
    impact: tuple[str, ...]  # what broke, how many endpoints, the user-facing impact
    root_cause: str = ""
    prevention: str = ""
    retry_eta: str = ""


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: every line a plain paragraph line, no markup active."""
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        # Leading spaces would make an indented code block; they carry no meaning here.
        line = _INLINE.sub(r"\\\1", raw.strip())
        match = _BLOCK_START.match(line)
        if match:
            marker = match.group(1)
            escaped = marker[:-1] + "\\" + marker[-1] if marker[0].isdigit() else "\\" + marker
            line = escaped + line[len(marker) :]
        lines.append(line)
    # Runs of blank lines are one paragraph break; none at the ends.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _one_line(text: str) -> str:
    return escape_markdown(" ".join(text.split())) or NOT_FILLED


def _block(text: str) -> str:
    return escape_markdown(text) or NOT_FILLED


def code(text: str) -> str:
    """A ref or commit id in a code span; one with a backtick (never valid) is escaped text."""
    return f"`{text}`" if text and "`" not in text else escape_markdown(text)


def rollback_to(entry: LogEntry) -> str:
    short = code(entry.to_sha[:7])
    return f"{code(entry.to_ref)} ({short})" if entry.to_ref else short


def render_entry(entry: LogEntry) -> str:
    """One entry, field by field as the procedure lays it out."""
    lines = [
        f"## Rollback: {entry.at:%Y-%m-%d %H:%M} UTC",
        _INCIDENT_MARK.format(entry.incident_id),
        "",
        f"**Trigger:** {_one_line(entry.trigger)}",
        f"**Severity:** {_one_line(entry.severity)}",
        f"**Rollback From:** {code(entry.from_sha[:7])}",
        f"**Rollback To:** {rollback_to(entry)}",
    ]
    if entry.backup_branch:
        lines.append(f"**Backup Branch:** {code(entry.backup_branch)}")
    lines += ["", "**Impact:**"]
    lines += [f"- {_one_line(item)}" for item in entry.impact] or [f"- {NOT_FILLED}"]
    for title, text in (
        ("Root Cause", entry.root_cause),
        ("Prevention", entry.prevention),
        ("Retry ETA", entry.retry_eta),
    ):
        lines += ["", f"**{title}:**", _block(text)]
    return "\n".join(lines) + "\n"


def render_log(entries: Sequence[LogEntry]) -> str:
    """The whole file: a title, then every entry, newest first."""
    ordered = sorted(entries, key=lambda entry: (entry.at, entry.incident_id), reverse=True)
    body = "\n".join(render_entry(entry) for entry in ordered)
    intro = "Written by rollback-bot from its store, newest first. Edit the fields in Slack."
    return f"{TITLE}\n\n{intro}\n\n{body}" if body else f"{TITLE}\n\n{intro}\n\nNo rollbacks yet.\n"


def write_log(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically (a reader sees the old file or the new one);
    False when the file already held exactly this."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
