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
from bot.views.incident import (
    approver,
    card_foot,
    incident_summary,
    incident_title,
    person,
    plural,
    short,
    step_lines,
    stopped_blocks,
)
from store import Incident

COMMITS_SHOWN = 20


def _pick_lines(plan: CherryPickPlan) -> str:
    lines = [
        f"• {short(commit.sha)} {escape(commit.subject[:80])} · {person(commit.author)}"
        for commit in plan.commits[:COMMITS_SHOWN]
    ]
    if len(plan.commits) > COMMITS_SHOWN:
        lines.append(f"…and {len(plan.commits) - COMMITS_SHOWN} more")
    remote = "the same" if plan.remote_head == plan.head_sha else f"at {short(plan.remote_head)}"
    return (
        f"*Bring back {plural(len(plan.commits), 'commit')}* from "
        f"`{escape(plan.backup_branch)}` onto `{escape(plan.branch)}`, oldest first:\n"
        + "\n".join(lines)
        + f"\n• *Now*: {short(plan.head_sha)}; {escape(plan.remote)} has {remote}, and is "
        "pushed to only if it has not moved since"
    )


def build_cherry_pick_card_view(proposal: PickProposal, slack: SlackConfig) -> Message:
    incident, plan, record = proposal.incident, proposal.plan, proposal.record
    value = {"plan": record.id, "fp": record.fingerprint[:16]}
    count = plural(len(plan.commits), "commit")
    approve = button(
        "Approve",
        ActionId.ROLLBACK_APPROVE,
        value,
        style="primary",
        confirm=confirm(
            "Bring these commits back?",
            f"Apply {count} from {plan.backup_branch} onto {plan.branch} and push. A conflict "
            "stops at the last good commit.",
            "Cherry-pick",
        ),
    )
    reject = button(
        "Reject",
        ActionId.ROLLBACK_REJECT,
        value,
        confirm=confirm(
            "Reject the cherry-pick?", "Nothing is applied; the plan closes.", "Reject"
        ),
    )
    own = "" if slack.requester_can_approve else "; whoever asked cannot approve their own"
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
            f"{mention_orchestrators(slack.orchestrators)}: your decision is needed "
            f"(orchestrators only{own}). Asked by {mention(record.requested_by)}. Expires "
            f"{record.expires_at:%H:%M} UTC. {card_foot(incident, record)}"
        ),
    ]
    return message(f"Incident #{incident.id}: cherry-pick of {count} awaits approval", blocks)


def _result(plan: CherryPickPlan, progress: Progress) -> str:
    facts = progress.facts
    done = (
        f":cherries: *Cherry-pick done*: {plural(len(facts.get('applied', [])), 'commit')} on "
        f"`{escape(plan.branch)}`, now at {short(str(facts.get('picked_head', '')) or None)}; "
        f"{escape(str(facts.get('push', '')))}."
    )
    if progress.healthy:
        return f"{done}\n:large_green_circle: *Service healthy*"
    failing = ", ".join(f"“{escape(str(n))}”" for n in facts.get("failing", [])) or "checks"
    return (
        f"{done}\n:red_circle: *Service NOT healthy*: failing {failing}.\n*Next*: "
        f"`/rollback validate` shows what fails now; `/rollback to {short(plan.head_sha)}` "
        "undoes the picks (the commits stay on the backup), or fix forward."
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
    blocks: list[dict[str, Any]] = [
        header(f"Incident #{incident.id}: {state}"),
        incident_summary(incident, approved_by=approver(record)),
        section(_pick_lines(plan)),
        section(step_lines(progress.steps), BlockId.ROLLBACK_STEPS),
    ]
    if progress.finished:
        blocks.append(section(_result(plan, progress), BlockId.ROLLBACK_RESULT))
    if progress.stopped_at:
        blocks.extend(stopped_blocks(incident, record, progress, orchestrators))
    blocks.append(context(card_foot(incident, record)))
    return message(f"Incident #{incident.id}: {state}", blocks)
