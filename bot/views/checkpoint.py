"""Block Kit for checkpoints: created, refused (with the orchestrator's override), due, listed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from actions.checkpoint import CheckpointInfo
from bot.flows.checkpoint import CheckpointOutcome
from bot.ids import ActionId, BlockId
from bot.views.blocks import (
    Message,
    age,
    button,
    confirm,
    context,
    escape,
    header,
    mention,
    message,
    section,
)
from bot.views.validation import build_checklist_view
from store import CheckpointRecord

LIST_LIMIT = 25


def build_checkpoint_done_view(outcome: CheckpointOutcome, *, requested_by: str) -> Message:
    result = outcome.result
    assert result is not None
    names = outcome.names
    if result.committed:
        paths = "\n".join(escape(path) for path in result.committed_paths[:15])
        more = len(result.committed_paths) - 15
        committed = f"Committed `{result.commit[:7]}` {escape(names.commit_message)}\n```{paths}```"
        if more > 0:
            committed += f"\n…and {more} more"
    else:
        committed = f"Nothing to commit; tagged `{result.commit[:7]}`, where HEAD was."
    asker = outcome.request.requested_by or requested_by
    checks = len(outcome.validation.checklist.results)
    verdict = f"healthy ({checks} checks)" if outcome.validation.ok else "NOT healthy"
    blocks = [
        header(f"Checkpoint {names.label}"),
        section(f":label: `{escape(names.tag)}`: {escape(names.tag_message)}\n{committed}"),
        section(f":arrow_up: {escape(result.push_summary)}"),
    ]
    if outcome.forced_by:
        failing = ", ".join(f"“{escape(r.name)}”" for r in outcome.validation.checklist.failing)
        blocks.append(
            section(
                f":warning: *Forced past a failing checklist* by {mention(outcome.forced_by)} "
                f"(failing: {failing}). It is marked forced wherever checkpoints are listed."
            )
        )
    blocks.append(context(f"Checklist before it: {verdict}. Asked by {mention(asker)}."))
    return message(f"Checkpoint {names.tag} created at {result.commit[:7]}", blocks)


def build_checkpoint_refused_view(outcome: CheckpointOutcome, *, requested_by: str) -> Message:
    checklist = outcome.validation.checklist
    checklist_card = build_checklist_view(
        checklist.results,
        duration_s=checklist.duration_s,
        requested_by=requested_by,
        diagnostics=outcome.validation.diagnostics,
    )
    intro = section(
        f":no_entry: *Checkpoint {escape(outcome.names.tag)} refused*: the checklist fails. "
        "A checkpoint marks a state to roll back to, so it must be healthy."
    )
    force = button(
        "Force checkpoint",
        ActionId.CHECKPOINT_FORCE,
        {"request": outcome.request_id},
        style="danger",
        confirm=confirm(
            "Checkpoint a failing service?",
            f"Tag {outcome.names.tag} although {len(checklist.failing)} checks fail. "
            "Your name is recorded with it.",
            "Force checkpoint",
        ),
    )
    named = ", ".join(r.name for r in checklist.failing)
    return message(
        f"Checkpoint {outcome.names.tag} refused: the checklist fails ({named})",
        [
            intro,
            *checklist_card["blocks"][1:],
            {"type": "actions", "block_id": BlockId.CHECKPOINT_ACTIONS.value, "elements": [force]},
            context("Only an orchestrator can force it."),
        ],
    )


def build_checkpoint_outcome_view(outcome: CheckpointOutcome, *, requested_by: str) -> Message:
    """The created card, or the refusal with its override, whichever happened."""
    if outcome.refused:
        return build_checkpoint_refused_view(outcome, requested_by=requested_by)
    return build_checkpoint_done_view(outcome, requested_by=requested_by)


def build_checkpoint_due_view(label: str, request_id: str) -> Message:
    create = button(
        "Create checkpoint", ActionId.CHECKPOINT_CREATE, {"request": request_id}, style="primary"
    )
    return message(
        f"Checkpoint {label} is due",
        [
            section(
                f":alarm_clock: *Checkpoint {escape(label)} is due.* "
                "The validation checklist runs first."
            ),
            {"type": "actions", "block_id": BlockId.CHECKPOINT_ACTIONS.value, "elements": [create]},
        ],
    )


def forced_mark(record: CheckpointRecord | None) -> str:
    """' :warning: forced by @U0ORCH' for a checkpoint forced past a failing checklist."""
    if record is None or not record.forced_by:
        return ""
    return f" :warning: forced past a failing checklist by {mention(record.forced_by)}"


def build_checkpoint_list_view(
    infos: Sequence[CheckpointInfo],
    *,
    remote: str,
    remote_problem: str | None,
    now: datetime,
    records: Mapping[str, CheckpointRecord] | None = None,
) -> Message:
    made = records or {}
    if not infos:
        body = "No checkpoint tags yet. `/checkpoint T+4h &lt;message&gt;` creates the first."
    else:
        lines = [
            f"• `{escape(info.tag)}` `{info.commit[:7]}` {age(info.created_at, now)}, "
            f"{escape(info.message)}"
            + ("" if info.on_remote else f" :warning: not on {escape(remote)}")
            + forced_mark(made.get(info.tag))
            for info in infos[:LIST_LIMIT]
        ]
        if len(infos) > LIST_LIMIT:
            lines.append(f"…and {len(infos) - LIST_LIMIT} older")
        body = "\n".join(lines)
    blocks = [header("Checkpoints"), section(body)]
    if remote_problem:
        blocks.append(
            context(f":warning: Could not ask {escape(remote)}: {escape(remote_problem)}")
        )
    return message(f"{len(infos)} checkpoints", blocks)
