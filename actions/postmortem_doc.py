"""A Markdown post-mortem of one incident: what happened, who did what and when, the plan, the
steps with their timings, the checks, the thread's replies and the filled-in fields.

Pure: the flow gathers the facts from the store, this lays them out. Every text a person or a
command produced is escaped as in ROLLBACK_LOG.md, so the file renders as it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from actions.rollback_log import LogEntry, escape_markdown, render_entry

NOT_FILLED = "_Not filled in yet._"


@dataclass(frozen=True)
class DocEvent:
    at: datetime
    actor: str
    what: str  # the timeline action, as the store names it
    summary: str  # its details, in one line


@dataclass(frozen=True)
class DocStep:
    name: str
    status: str  # done, failed, skipped, started (interrupted)
    seconds: float | None
    message: str = ""


@dataclass(frozen=True)
class PostmortemDoc:
    incident_id: int
    title: str
    facts: tuple[tuple[str, str], ...]  # (label, value), e.g. ("Severity", "Critical")
    entry: LogEntry | None
    plan: tuple[str, ...]
    steps: tuple[DocStep, ...]
    checks: tuple[str, ...]
    replies: tuple[DocEvent, ...]
    fields: tuple[tuple[str, str], ...]  # (label, text)
    timeline: tuple[DocEvent, ...]


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _bullets(lines: Sequence[str], empty: str) -> list[str]:
    return [f"- {escape_markdown(line)}" for line in lines] or [f"_{empty}_"]


def render_postmortem(doc: PostmortemDoc) -> str:
    out = [f"# {escape_markdown(doc.title)}", ""]
    out += [f"- **{label}:** {escape_markdown(value)}" for label, value in doc.facts]
    out += ["", "## Rollback log entry", ""]
    if doc.entry is not None:
        # One level down, so the entry's heading sits under this document's own.
        out.append("#" + render_entry(doc.entry))
    else:
        out.append("_No rollback: the incident was fixed forward or is still open._\n")
    out += ["## Post-mortem", ""]
    for label, text in doc.fields:
        out += [f"### {escape_markdown(label)}", "", escape_markdown(text) or NOT_FILLED, ""]
    out += ["## The plan", "", *_bullets(doc.plan, "No rollback plan."), ""]
    out += ["## Steps", ""]
    if doc.steps:
        out += ["| Step | Result | Took |", "| --- | --- | --- |"]
        for step in doc.steps:
            took = f"{step.seconds:.1f} s" if step.seconds is not None else ""
            said = f" ({escape_markdown(step.message)})" if step.message else ""
            out.append(f"| {escape_markdown(step.name)} | {step.status}{said} | {took} |")
    else:
        out.append("_No steps ran._")
    out += ["", "## Checks", "", *_bullets(doc.checks, "No checklist ran."), ""]
    out += ["## Thread replies", ""]
    out += [
        f"- {_when(reply.at)}, {escape_markdown(reply.actor)}: {escape_markdown(reply.summary)}"
        for reply in doc.replies
    ] or ["_No replies._"]
    out += ["", "## Timeline", ""]
    out += [
        f"- {_when(event.at)} · {escape_markdown(event.actor)} · {event.what}"
        + (f": {escape_markdown(event.summary)}" if event.summary else "")
        for event in doc.timeline
    ]
    return "\n".join(out).rstrip("\n") + "\n"
