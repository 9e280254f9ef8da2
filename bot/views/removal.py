"""Block Kit for the high-risk removal: the approval card, the card as it runs, the report,
and the thread reply each file gets when its test is done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actions.removal import RemovalPlan
from bot.config import SlackConfig
from bot.flows.removal import RemovalProposal, drills_needed
from bot.flows.removal_steps import BROKE_AT, file_step_index
from bot.flows.rollback_run import Progress
from bot.ids import ActionId, BlockId
from bot.views.blocks import (
    Message,
    button,
    confirm,
    context,
    escape,
    header,
    mention,
    mention_orchestrators,
    message,
    section,
)
from bot.views.incident import (
    approver,
    card_foot,
    incident_summary,
    incident_title,
    plural,
    short,
    stopped_blocks,
)
from store import Incident

#: A section holds 3,000 characters; files go in as many sections as they need.
_SECTION_CHARS = 2_800
_PATH_CHARS = 150


def _path(path: str) -> str:
    shown = path if len(path) <= _PATH_CHARS else path[: _PATH_CHARS - 1] + "…"
    return f"`{escape(shown)}`"


def _file_sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and sum(len(text) + 1 for text in chunk) + len(line) > _SECTION_CHARS:
            sections.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        sections.append(section("\n".join(chunk)))
    if sections:
        sections[0]["block_id"] = BlockId.REMOVAL_FILES.value
    return sections


def _plan_lines(plan: RemovalPlan) -> str:
    email = (
        f" ({plural(len(plan.email_paths), 'email file')}: the email checks run after those)"
        if plan.email_paths
        else ""
    )
    remote = "the same" if plan.remote_head == plan.head_sha else f"at {short(plan.remote_head)}"
    return (
        f"*Remove {plural(len(plan.paths), 'file')} from `{escape(plan.branch)}`, one at a "
        f"time*{email}, each in its own commit `{escape(plan.message_of('<path>'))}`.\n"
        "• *First*: the checklist must pass, then a pre-change checkpoint is tagged and pushed\n"
        "• *After each file*: restart and run the checklist\n"
        "• *At the first failure*: that commit is kept on a backup branch (pushed), reset with "
        "`git reset --hard HEAD~1`, the service restarted and checked, and the rest are left "
        "untouched\n"
        f"• *Now*: {short(plan.head_sha)}; {escape(plan.remote)} has {remote}. The removals are "
        "pushed at the end, only if it has not moved since"
    )


def build_removal_card_view(proposal: RemovalProposal, slack: SlackConfig) -> Message:
    incident, plan, record = proposal.incident, proposal.plan, proposal.record
    value = {"plan": record.id, "fp": record.fingerprint[:16]}
    count = plural(len(plan.paths), "file")
    approve = button(
        "Approve",
        ActionId.ROLLBACK_APPROVE,
        value,
        style="primary",
        confirm=confirm(
            "Remove these files?",
            f"Remove {count} one at a time, testing after each; the first that breaks the "
            "checklist is reset and the removal stops there.",
            "Remove",
        ),
    )
    reject = button(
        "Reject",
        ActionId.ROLLBACK_REJECT,
        value,
        confirm=confirm("Reject the removal?", "Nothing is removed; the plan closes.", "Reject"),
    )
    own = "" if slack.requester_can_approve else "; whoever asked cannot approve their own"
    files = [f"{index + 1}. {_path(path)}" for index, path in enumerate(plan.paths)]
    drilled = ", ".join(drills_needed(plan))
    blocks: list[dict[str, Any]] = [
        header(incident_title(incident)),
        incident_summary(incident),
        section(_plan_lines(plan), BlockId.INCIDENT_PLAN),
        *_file_sections(files),
        {
            "type": "actions",
            "block_id": BlockId.INCIDENT_ACTIONS.value,
            "elements": [approve, reject],
        },
        context(
            f"{mention_orchestrators(slack.orchestrators)}: your decision is needed "
            f"(orchestrators only{own}). Asked by {mention(record.requested_by)}. Drilled "
            f"recently: {escape(drilled)}. Expires {record.expires_at:%H:%M} UTC. "
            f"{card_foot(incident, record)}"
        ),
    ]
    return message(f"Incident #{incident.id}: removal of {count} awaits approval", blocks)


def file_line(plan: RemovalPlan, progress: Progress, index: int) -> str:
    """Where one file stands: removed and passing, broke and restored, untouched, or waiting."""
    facts, path = progress.facts, _path(plan.paths[index])
    broke = facts.get(BROKE_AT)
    failing = facts.get(f"failing:{index}")
    if broke == index:
        names = ", ".join(f"“{escape(str(name))}”" for name in failing or []) or "the checklist"
        restored = facts.get("restored_backup")
        back = (
            f"; its commit reset, kept on `{escape(str(restored))}`"
            if restored
            else "; being restored"
        )
        return f":x: {index + 1}. {path} *broke* {names}{back}"
    if isinstance(broke, int) and index > broke:
        return f":white_circle: {index + 1}. {path}: untouched"
    if failing is not None:
        commit = short(str(facts.get(f"commit:{index}") or "") or None)
        return f":white_check_mark: {index + 1}. {path}: removed in {commit}, checklist passed"
    running = next(
        (
            step.title
            for step in progress.steps
            if step.status == "running" and file_step_index(step.name) == index
        ),
        None,
    )
    if running is not None:
        return f":hourglass_flowing_sand: {index + 1}. {path}: {escape(running.split(': ', 1)[-1])}"
    return f":white_small_square: {index + 1}. {path}"


def removal_report(plan: RemovalPlan, facts: Mapping[str, Any]) -> str:
    """The outcome in words: what was removed, which file broke what, what was left alone."""
    broke = facts.get(BROKE_AT)
    kept = broke if isinstance(broke, int) else len(plan.paths)
    lines = [f":wastebasket: *Removed {kept} of {plural(len(plan.paths), 'file')}*"]
    if isinstance(broke, int):
        names = ", ".join(f"“{escape(str(n))}”" for n in facts.get(f"failing:{broke}") or [])
        lines.append(
            f":x: *{_path(plan.paths[broke])} broke* {names or 'the checklist'}: its commit was "
            f"reset (kept on `{escape(str(facts.get('restored_backup', '?')))}`)"
        )
        untouched = plan.paths[broke + 1 :]
        if untouched:
            lines.append(
                f"*Left untouched*: {', '.join(_path(path) for path in untouched[:10])}"
                + (f" and {len(untouched) - 10} more" if len(untouched) > 10 else "")
            )
    if facts.get("checkpoint"):
        lines.append(f"*Pre-change checkpoint*: `{escape(str(facts['checkpoint']))}`")
    if facts.get("push"):
        lines.append(f"*Push*: {escape(str(facts['push']))}")
    if facts.get("healthy") is True:
        lines.append(":large_green_circle: *Service healthy*")
    else:
        failing = ", ".join(f"“{escape(str(n))}”" for n in facts.get("failing_after_restore") or [])
        lines.append(
            f":red_circle: *Service NOT healthy* after the restore: failing {failing or 'checks'}."
            " `/rollback validate` shows what fails now."
        )
    return "\n".join(lines)


def build_removal_progress_view(
    *,
    incident: Incident,
    plan: RemovalPlan,
    progress: Progress,
    orchestrators: Sequence[str],
) -> Message:
    record = progress.plan
    broke = progress.facts.get(BROKE_AT)
    if progress.finished:
        state = "removal stopped at a breaking file" if isinstance(broke, int) else "files removed"
    elif progress.stopped_at:
        state = "removal stopped"
    else:
        state = "removing files one at a time"
    before = [
        f"{':white_check_mark:' if step.status == 'done' else ':hourglass_flowing_sand:'} "
        f"{escape(step.title)}"
        for step in progress.steps[:4]
        if step.status in ("done", "running")
    ]
    files = [file_line(plan, progress, index) for index in range(len(plan.paths))]
    blocks: list[dict[str, Any]] = [
        header(f"Incident #{incident.id}: {state}"),
        incident_summary(incident, approved_by=approver(record)),
    ]
    if before and not progress.finished:
        blocks.append(section("\n".join(before), BlockId.ROLLBACK_STEPS))
    blocks.extend(_file_sections(files))
    if progress.finished:
        blocks.append(section(removal_report(plan, progress.facts), BlockId.ROLLBACK_RESULT))
    if progress.stopped_at:
        blocks.extend(stopped_blocks(incident, record, progress, orchestrators))
    blocks.append(context(card_foot(incident, record)))
    return message(f"Incident #{incident.id}: {state}", blocks)


def build_removal_file_view(plan: RemovalPlan, progress: Progress, index: int) -> Message:
    """The thread reply for one file, once its test has spoken."""
    line = file_line(plan, progress, index)
    return message(f"Removal, file {index + 1} of {len(plan.paths)}", [section(line)])
