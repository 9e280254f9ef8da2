"""Block Kit for cherry-picks from a backup branch: the approval card and its progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actions.cherry_pick import CherryPickPlan
from bot.config import SlackConfig
from bot.flows.cherry_pick import PickProposal
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
from bot.views.rollback import (
    incident_summary,
    incident_title,
    step_lines,
    stopped_blocks,
)
from store import Incident

COMMITS_SHOWN = 20


def _pick_lines(plan: CherryPickPlan) -> str:
    lines = [
        f"• `{commit.sha[:7]}` {escape(commit.subject[:80])} ({escape(commit.author)})"
        for commit in plan.commits[:COMMITS_SHOWN]
    ]
    if len(plan.commits) > COMMITS_SHOWN:
        lines.append(f"…and {len(plan.commits) - COMMITS_SHOWN} more")
    remote = f"{escape(plan.remote)}/{escape(plan.branch)}"
    return (
        f"*Cherry-pick {len(plan.commits)} commit(s)* from `{escape(plan.backup_branch)}` onto "
        f"`{escape(plan.branch)}` (oldest first, with `-x`):\n" + "\n".join(lines) + "\n"
        f"• *HEAD*: `{plan.head_sha[:10]}` · *Remote head* ({remote}): "
        f"`{(plan.remote_head or 'none')[:10]}`, pushed with a lease on it"
    )


def build_cherry_pick_card_view(proposal: PickProposal, slack: SlackConfig) -> Message:
    incident, plan, record = proposal.incident, proposal.plan, proposal.record
    orchestrators, requester_can_approve = slack.orchestrators, slack.requester_can_approve
    value = {"plan": record.id, "fp": record.fingerprint[:16]}
    approve = button(
        "Approve",
        ActionId.ROLLBACK_APPROVE,
        value,
        style="primary",
        confirm=confirm(
            "Cherry-pick these commits?",
            f"Apply {len(plan.commits)} commit(s) from {plan.backup_branch} onto {plan.branch} "
            "and push. A conflict stops at the last good commit.",
            "Cherry-pick",
        ),
    )
    reject = button("Reject", ActionId.ROLLBACK_REJECT, value)
    rule = "" if requester_can_approve else " The requester cannot approve their own request."
    blocks: list[dict[str, Any]] = [
        header(incident_title(incident)),
        incident_summary(incident),
        section(_pick_lines(plan), BlockId.INCIDENT_PLAN),
        {
            "type": "actions",
            "block_id": BlockId.INCIDENT_ACTIONS.value,
            "elements": [approve, reject],
        },
        context(
            f"{mention_orchestrators(orchestrators)}: your approval is needed.{rule} "
            f"Requested by {mention(record.requested_by)}. Expires "
            f"{record.expires_at:%H:%M} UTC. Plan fingerprint `{record.fingerprint[:12]}`."
        ),
    ]
    return message(
        f"Incident #{incident.id}: cherry-pick of {len(plan.commits)} commit(s) awaits approval",
        blocks,
    )


def build_cherry_pick_progress_view(
    *,
    incident: Incident,
    plan: CherryPickPlan,
    progress: Progress,
    orchestrators: Sequence[str],
) -> Message:
    record = progress.plan
    if progress.finished:
        state = "commits picked back"
    elif progress.stopped_at:
        state = "cherry-pick stopped"
    else:
        state = "cherry-picking"
    approved = f" Approved by {mention(record.approved_by)}." if record.approved_by else ""
    blocks: list[dict[str, Any]] = [
        header(f"Incident #{incident.id}: {state}"),
        section(_pick_lines(plan) + approved),
        section(step_lines(progress.steps), BlockId.ROLLBACK_STEPS),
    ]
    if progress.finished:
        facts = progress.facts
        applied = len(facts.get("applied", []))
        health = (
            ":large_green_circle: *Service healthy*"
            if progress.healthy
            else f":red_circle: *Service NOT healthy*: failing "
            f"{', '.join(escape(str(n)) for n in facts.get('failing', [])) or 'checks'}"
        )
        blocks.append(
            section(
                f":cherries: *Cherry-pick done*: {applied} commit(s) on `{escape(plan.branch)}`, "
                f"now at `{str(facts.get('picked_head', ''))[:10]}`. "
                f"{escape(str(facts.get('push', '')))}\n{health}",
                BlockId.ROLLBACK_RESULT,
            )
        )
    if progress.stopped_at:
        blocks.extend(stopped_blocks(incident, record, progress, orchestrators))
    text = f"Incident #{incident.id}: {state}"
    return message(text, blocks)
