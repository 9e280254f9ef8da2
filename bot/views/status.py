"""``/rollback status``: branch, remote, checkpoints, open incidents and locks, warnings first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.flows.checkpoint import lock_holder
from bot.flows.status import StatusReport
from bot.ids import BlockId
from bot.views.blocks import Message, age, cut_list, escape, header, mention, message, section
from bot.views.checkpoint import forced_mark
from bot.views.drill import build_confidence_text
from bot.views.incident import state_words
from store import Incident, Lock


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "unknown"


def build_status_view(report: StatusReport) -> Message:
    hours = max(0, int((report.now - report.phase_started_at).total_seconds() // 3600))
    blocks: list[dict[str, Any]] = [
        header(f"{report.project} · {report.phase} · T+{hours}h"),
    ]
    warnings: list[str] = []
    repo = report.repo
    if repo is None:
        warnings.append(f"Repository unreadable: {escape(report.repo_problem or 'unknown')}")
        repo_line = "*Repository*: unavailable"
    else:
        branch = repo.branch or "detached HEAD"
        if repo.remote_head is None:
            remote = f"unknown ({escape(repo.remote_problem or 'no answer')})"
        elif repo.in_sync_with_remote:
            remote = f"`{_short(repo.remote_head)}` (in sync)"
        else:
            remote = f"`{_short(repo.remote_head)}` (differs from HEAD)"
        repo_line = (
            f"*Branch*: `{escape(branch)}`\n"
            f"*HEAD*: `{_short(repo.head)}` {escape(repo.head_subject)}\n"
            f"*Remote head*: {remote}\n"
            f"*Working tree*: "
            + (
                "clean"
                if repo.dirty_paths == 0
                else f"{repo.dirty_paths} changed or untracked paths"
            )
        )
        if not repo.on_expected_branch:
            warnings.append(f"Not on the phase branch `{escape(repo.expected_branch)}`.")
        if repo.operation_in_progress:
            warnings.append(f"A {repo.operation_in_progress} is in progress in the working copy.")
    blocks.append(section(repo_line, BlockId.STATUS_REPO))
    if report.frozen:
        blocks.append(section(f":ice_cube: *Frozen*: {escape(report.frozen)}"))
    blocks.append(section(_checkpoint_lines(report), BlockId.STATUS_CHECKPOINTS))
    blocks.append(section(_incident_lines(report), BlockId.STATUS_INCIDENTS))
    if report.lessons:
        blocks.append(section(_lesson_lines(report)))
    if report.confidence:
        blocks.append(section(build_confidence_text(report.confidence)))
    if report.locks:
        held = [lock_line(lock, report.now) for lock in report.locks]
        blocks.append(section("*Locks*\n" + "\n".join(held)))
    if warnings:
        blocks.append(
            section("\n".join(f":warning: {w}" for w in warnings), BlockId.STATUS_WARNINGS)
        )
    head = repo.head[:10] if repo else "unknown"
    text = f"{report.project} {report.phase}: HEAD {head}, {report.open_count} open incident(s)"
    return message(text, blocks)


def lock_line(lock: Lock, now: datetime) -> str:
    """One held lock, as status and the App Home both list it."""
    since = age(lock.acquired_at, now)
    person = lock_holder(lock.owner)
    if person is None:  # a rollback's own lock: its reason names it
        return f"• {escape(lock.reason)}, under way since {since}"
    return f"• {escape(lock.reason)}, held by {mention(person)} since {since}"


def _checkpoint_lines(report: StatusReport) -> str:
    if report.repo is None or not report.repo.checkpoints:
        return "*Last checkpoints*: none yet"
    lines = [
        f"• `{escape(tag.name)}` at `{_short(tag.commit)}`, {age(tag.created_at, report.now)}"
        + forced_mark(report.checkpoints.get(tag.name))
        for tag in report.repo.checkpoints
    ]
    return "*Last checkpoints*\n" + "\n".join(lines)


def _incident_lines(report: StatusReport) -> str:
    if not report.open_incidents:
        return "*Open incidents*: none"
    # The newest twenty (the report holds them oldest first): the older ones are counted.
    lines = [_incident_line(incident, report) for incident in report.open_incidents[-20:]]
    return "*Open incidents*\n" + cut_list(lines, 20, total=report.open_count)


def _lesson_lines(report: StatusReport) -> str:
    lines = [
        f"• #{incident.id} {escape(incident.scenario)}, fixed forward by "
        f"{mention(incident.resolved_by or incident.requester)}: {escape(incident.lesson or '')}"
        for incident in report.lessons
    ]
    return "*Lessons learned* (fixed forward)\n" + "\n".join(lines)


def _incident_line(incident: Incident, report: StatusReport) -> str:
    """'#1 critical (severity 5), rolled back to 95bdf47; asked by @U0ENG, approved by @U0ORCH,
    12 min ago; work kept on phase2-broken-…; service healthy'."""
    severity = f" (severity {incident.severity})" if incident.severity else ""
    state = state_words(incident)
    if incident.to_sha:
        state += f" to `{_short(incident.to_sha)}`"
    who = f"asked by {mention(incident.requester)}"
    approved = report.approvers.get(incident.id)
    if approved:
        who += f", approved by {mention(approved)}"
    facts = [f"{who}, {age(incident.created_at, report.now)}"]
    if incident.backup_branch:
        facts.append(f"work kept on `{escape(incident.backup_branch)}`")
    if incident.healthy is not None:
        facts.append("service healthy" if incident.healthy else "service NOT healthy")
    return f"• #{incident.id} {escape(incident.scenario)}{severity}, {state}; " + "; ".join(facts)
