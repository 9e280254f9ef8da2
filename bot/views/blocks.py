"""Pure Block Kit builders: data in, message dicts out. No Slack calls, no I/O.

Each ``build_*_view`` returns ``{"text": fallback, "blocks": [...]}`` ready for ``respond``,
``chat.postMessage`` or the terminal renderer, and stays inside Slack's limits (50 blocks per
message, 3000 characters per section).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.flows.status import StatusReport
from bot.grammar import CHECKPOINT_USAGE, ROLLBACK_USAGE, SEVERITY_USAGE
from bot.ids import ActionId, BlockId
from store import Incident

Message = dict[str, Any]
SECTION_LIMIT = 3000

_HELP_LINES = {
    "help": "this help",
    "scenario": "report a problem by scenario; the policy decides fix-forward or rollback",
    "blocker": "report a blocker: the orchestrator rates it with buttons",
    "to": "ask for a rollback to an explicit target",
    "status": "branch, remote, last checkpoints, open incidents",
    "validate": "run the validation checklist now",
    "log": "last N ROLLBACK_LOG entries",
    "drill": "practice a rollback in an isolated clone",
    "remove": "high-risk removal, one file at a time, test after each",
    "retry": "the Before Retry checklist and the approval that lifts the freeze",
    "cherry-pick": "bring good commits back from an incident's backup branch",
}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup (mentions, links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def button(text: str, action: ActionId, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A button whose value says exactly what it acts on, as compact JSON."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action.value,
        "value": json.dumps(value, separators=(",", ":")),
        **extra,
    }


def confirm(title: str, text: str, yes: str, no: str = "Cancel") -> dict[str, Any]:
    """Slack's confirmation dialog; plain text, so nothing in it is read as markup."""
    return {
        "title": {"type": "plain_text", "text": title[:100]},
        "text": {"type": "plain_text", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes[:30]},
        "deny": {"type": "plain_text", "text": no[:30]},
    }


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def build_help_view() -> Message:
    lines = [f"`{escape(ROLLBACK_USAGE[verb])}`\n{_HELP_LINES[verb]}" for verb in ROLLBACK_USAGE]
    checkpoint = "\n".join(f"`{escape(form)}`" for form in CHECKPOINT_USAGE)
    severity = "\n".join(f"`{escape(form)}`" for form in SEVERITY_USAGE)
    return {
        "text": "rollback-bot commands: " + ", ".join(ROLLBACK_USAGE.values()),
        "blocks": [
            header("rollback-bot"),
            section("\n".join(lines), BlockId.HELP_COMMANDS),
            section(f"*Checkpoints*\n{checkpoint}"),
            section(f"*Severity*\n{severity}"),
            context(
                "Severity: 1-5 or low, medium, high, critical. "
                "Incidents are numbers such as 12 or #12."
            ),
        ],
    }


def build_error_view(message: str, valid_forms: Sequence[str] = ()) -> Message:
    blocks = [section(f":warning: {escape(message)}", BlockId.ERROR)]
    text = message
    if valid_forms:
        forms = "\n".join(escape(form) for form in valid_forms)
        blocks.append(section(f"Valid forms:\n```{forms}```", BlockId.ERROR_FORMS))
        text = f"{message} Valid forms: {'; '.join(valid_forms)}"
    return {"text": text, "blocks": blocks}


def build_not_available_view(command: str) -> Message:
    """For a request the grammar accepts whose flow has not shipped yet: say so plainly."""
    return build_error_view(
        f"`{command}` is understood, but this version of rollback-bot cannot run it yet. "
        "Nothing was changed."
    )


def build_home_view(report: StatusReport) -> dict[str, Any]:
    """The App Home tab: the same facts as ``/rollback status``, always one click away."""
    blocks = build_status_view(report)["blocks"]
    blocks.append(context("Type `/rollback help` in any channel for the commands."))
    return {"type": "home", "blocks": blocks}


def age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "unknown age"
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min ago"
    return f"{minutes // (24 * 60)} days ago"


def _short(sha: str | None) -> str:
    return sha[:10] if sha else "unknown"


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
    blocks.append(section(_checkpoint_lines(report), BlockId.STATUS_CHECKPOINTS))
    blocks.append(section(_incident_lines(report), BlockId.STATUS_INCIDENTS))
    if report.locks:
        held = [
            f"• {escape(lock.reason)}, held by {mention(lock.owner)} "
            f"since {age(lock.acquired_at, report.now)}"
            for lock in report.locks
        ]
        blocks.append(section("*Locks*\n" + "\n".join(held)))
    if warnings:
        blocks.append(
            section("\n".join(f":warning: {w}" for w in warnings), BlockId.STATUS_WARNINGS)
        )
    head = repo.head[:10] if repo else "unknown"
    text = (
        f"{report.project} {report.phase}: HEAD {head}, "
        f"{len(report.open_incidents)} open incident(s)"
    )
    return {"text": text, "blocks": blocks}


def mention(actor: str) -> str:
    # Slack users are mentioned; terminal users ("os:alice") are shown as they are.
    return escape(actor) if actor.startswith("os:") else f"<@{actor}>"


def _checkpoint_lines(report: StatusReport) -> str:
    if report.repo is None or not report.repo.checkpoints:
        return "*Last checkpoints*: none yet"
    lines = [
        f"• `{escape(tag.name)}` at `{_short(tag.commit)}`, {age(tag.created_at, report.now)}"
        for tag in report.repo.checkpoints
    ]
    return "*Last checkpoints*\n" + "\n".join(lines)


def _incident_lines(report: StatusReport) -> str:
    if not report.open_incidents:
        return "*Open incidents*: none"
    lines = [
        f"• #{incident.id} {incident.scenario}"
        + (f" (severity {incident.severity})" if incident.severity else "")
        + f", {incident.state.value.replace('_', ' ')}, by {mention(incident.requester)},"
        f" {age(incident.created_at, report.now)}" + _rollback_facts(incident)
        for incident in report.open_incidents[:20]
    ]
    more = len(report.open_incidents) - 20
    if more > 0:
        lines.append(f"…and {more} more")
    return "*Open incidents*\n" + "\n".join(lines)


def _rollback_facts(incident: Incident) -> str:
    if not incident.backup_branch:
        return ""
    to = f" to `{_short(incident.to_sha)}`" if incident.to_sha else ""
    health = ""
    if incident.healthy is not None:
        health = ", service healthy" if incident.healthy else ", service NOT healthy"
    return f"{to}, work kept on `{escape(incident.backup_branch)}`{health}"
