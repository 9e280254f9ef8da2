"""Block Kit for incidents and rollbacks: the approval card, its progress, its outcome.

One card per plan, edited in place: it opens as the plan with Approve / Reject, becomes the
step list while the rollback runs, and ends saying separately whether the rollback is done and
whether the service is healthy, with how to get the abandoned work back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actions.policy import DEFAULT_POLICY
from actions.rollback_plan import RollbackPlan
from bot.config import SlackConfig
from bot.flows.rollback import EXPLICIT, Proposal, needs_confirmation
from bot.flows.rollback_run import Progress, StepState
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
from store import Incident, Plan, PlanState

COMMITS_SHOWN = 15
PATHS_SHOWN = 10
_MARKS = {
    "done": ":white_check_mark:",
    "running": ":hourglass_flowing_sand:",
    "pending": ":white_small_square:",
    "failed": ":x:",
}


def _short(sha: str | None) -> str:
    return f"`{sha[:10]}`" if sha else "_none_"


def incident_title(incident: Incident) -> str:
    if incident.scenario == EXPLICIT:
        return f"Incident #{incident.id}: rollback requested"
    scenario = DEFAULT_POLICY.scenarios.get(incident.scenario)
    return f"Incident #{incident.id}: {scenario.title if scenario else incident.scenario}"


def incident_summary(incident: Incident) -> dict[str, Any]:
    decision = incident.decision
    lines = []
    if incident.scenario != EXPLICIT:
        level = decision.get("level")
        severity = f"{incident.severity} ({level})" if level else (incident.severity or "?")
        lines.append(f"*Scenario*: {escape(incident.scenario)} · *Severity*: {severity}")
    if incident.trigger:
        lines.append(f"*Trigger*: {escape(incident.trigger)}")
    lines.append(f"*Reported by* {mention(incident.requester)}")
    if decision.get("rule"):
        lines.append(
            f"*Rule fired*: `{escape(str(decision['rule']))}`: "
            f"{escape(str(decision.get('rule_text', '')))}"
        )
    return section("\n".join(lines), BlockId.INCIDENT_SUMMARY)


def _plan_lines(plan: RollbackPlan, record: Plan | None) -> str:
    kind = "checkpoint" if plan.target_is_checkpoint else "not a checkpoint"
    remote = f"{escape(plan.remote)}/{escape(plan.branch)}"
    lines = [
        f"*Rollback plan*{f' #{record.id}' if record else ''}",
        f"• *Target*: `{escape(plan.target_ref)}` {_short(plan.target_sha)} ({kind})",
        f"• *HEAD*: {_short(plan.head_sha)} on `{escape(plan.branch)}`",
        f"• *Remote head* ({remote}): {_short(plan.remote_head)}",
        f"• *Backup branch*: `{escape(plan.backup_branch)}`, pushed before anything is reset",
    ]
    if plan.dirty_paths:
        shown = "\n".join(escape(path) for path in plan.dirty_paths[:PATHS_SHOWN])
        more = len(plan.dirty_paths) - PATHS_SHOWN
        if more > 0:
            shown += f"\n…and {more} more"
        lines.append(
            f"• *Uncommitted and untracked*: {len(plan.dirty_paths)} path(s), snapshotted onto "
            f"the backup branch\n```{shown}```"
        )
    else:
        lines.append("• *Working tree*: clean")
    return "\n".join(lines)


def _commit_lines(plan: RollbackPlan) -> str:
    if not plan.discarded_count:
        return "*No commits leave the branch.*"
    lines = [
        f"• `{commit.sha[:7]}` {escape(commit.subject[:80])} ({escape(commit.author)})"
        for commit in plan.discarded[:COMMITS_SHOWN]
    ]
    more = plan.discarded_count - len(lines)
    if more > 0:
        lines.append(f"…and {more} more")
    return (
        f"*{plan.discarded_count} commit(s) leave the branch* (all kept on the backup branch)\n"
        + "\n".join(lines)
    )


def _warnings(plan: RollbackPlan) -> list[str]:
    warnings = [f":warning: {escape(reason)}." for reason in needs_confirmation(plan)]
    if plan.migrations_crossed:
        names = ", ".join(f"`{escape(name)}`" for name in plan.migrations_crossed[:10])
        warnings.append(
            f":warning: The rollback crosses {len(plan.migrations_crossed)} schema "
            f"migration(s): {names}. The plan has no database step; approving means waiving "
            "it (the database keeps the newer schema)."
        )
    return warnings


def _decision_buttons(plan: RollbackPlan, record: Plan) -> dict[str, Any]:
    value = {"plan": record.id, "fp": record.fingerprint[:16]}
    reasons = needs_confirmation(plan)
    target = f"{plan.target_ref} ({plan.target_sha[:10]})"
    leaving = f"{plan.discarded_count} commit(s) leave the branch; all go to {plan.backup_branch}."
    if reasons or plan.migrations_crossed:
        approve = button(
            "Approve anyway",
            ActionId.ROLLBACK_APPROVE_ANYWAY,
            {**value, "force": bool(reasons), "waive": bool(plan.migrations_crossed)},
            style="danger",
            confirm=confirm(
                "Roll back past the warnings?",
                f"Reset to {target} although: "
                + "; ".join(
                    [*reasons, *(["migrations are crossed"] * bool(plan.migrations_crossed))]
                )
                + f". {leaving}",
                "Approve anyway",
            ),
        )
    else:
        approve = button(
            "Approve",
            ActionId.ROLLBACK_APPROVE,
            value,
            style="primary",
            confirm=confirm("Roll back now?", f"Reset to {target}. {leaving}", "Roll back"),
        )
    reject = button("Reject", ActionId.ROLLBACK_REJECT, value)
    return {
        "type": "actions",
        "block_id": BlockId.INCIDENT_ACTIONS.value,
        "elements": [approve, reject],
    }


def build_incident_card_view(proposal: Proposal, slack: SlackConfig) -> Message:
    """The incident as opened: what happened, the rule that fired, the plan and its buttons."""
    incident, plan, record, note = proposal.incident, proposal.plan, proposal.record, proposal.note
    orchestrators, requester_can_approve = slack.orchestrators, slack.requester_can_approve
    blocks: list[dict[str, Any]] = [header(incident_title(incident)), incident_summary(incident)]
    who = mention_orchestrators(orchestrators)
    action = incident.decision.get("action")
    if plan is None or record is None:
        blocks.append(
            section(
                ":wrench: *Fix forward*: the procedure needs no rollback for this. Raise the "
                f"severity with `/severity &lt;1-5&gt; {incident.id}` if it gets worse."
            )
        )
        blocks.append(context(f"{who} for your information."))
        return message(f"{incident_title(incident)}: fix forward", blocks)
    if action == "fix_window_then_rollback":
        window = incident.decision.get("fix_window_min")
        blocks.append(
            section(
                f":stopwatch: *Quick fix first*: the procedure allows {window} minutes to fix "
                "this; if it is not fixed by then, approve the rollback below."
            )
        )
    if note:
        blocks.append(context(escape(note)))
    blocks.append(section(_plan_lines(plan, record), BlockId.INCIDENT_PLAN))
    blocks.append(section(_commit_lines(plan)))
    blocks.extend(section(warning) for warning in _warnings(plan))
    blocks.append(_decision_buttons(plan, record))
    rule = "" if requester_can_approve else " The requester cannot approve their own request."
    blocks.append(
        context(
            f"{who}: your approval is needed. Only orchestrators can approve or reject.{rule} "
            f"Expires {record.expires_at:%H:%M} UTC. Plan fingerprint `{record.fingerprint[:12]}`."
        )
    )
    return message(
        f"{incident_title(incident)}: rollback to {plan.target_ref} awaits approval", blocks
    )


def step_lines(steps: Sequence[StepState]) -> str:
    lines = []
    for step in steps:
        note = f": {escape(step.note)}" if step.note else ""
        lines.append(f"{_MARKS[step.status]} {escape(step.title)}{note}")
    return "\n".join(lines)


def _restore(plan: RollbackPlan, incident: Incident) -> str:
    backup = escape(plan.backup_branch)
    remote = escape(plan.remote)
    return (
        f"*Nothing is lost.* The abandoned commits and the uncommitted work are on `{backup}` "
        f"(also on {remote}).\nLook at them: `git fetch {remote} {backup} &amp;&amp; "
        f"git log --stat {remote}/{backup}`\nBring commits back: "
        f"`/rollback cherry-pick {incident.id} &lt;sha&gt;…` (orchestrator-approved) or "
        "`git cherry-pick -x &lt;sha&gt;`"
    )


def _outcome_lines(plan: RollbackPlan, progress: Progress) -> str:
    facts = progress.facts
    branch = f"`{escape(plan.branch)}`"
    done = (
        f":rewind: *Rollback done*: {branch} and `{escape(plan.remote)}` are at "
        f"`{escape(plan.target_ref)}` {_short(plan.target_sha)}. "
        f"{escape(str(facts.get('push', '')))}"
    )
    failing = [escape(str(name)) for name in facts.get("failing", [])]
    if progress.healthy:
        health = (
            f":large_green_circle: *Service healthy*: all {facts.get('checks', '')} checks pass."
        )
    else:
        health = f":red_circle: *Service NOT healthy*: failing {', '.join(failing) or 'checks'}."
    return f"{done}\n{health}"


def build_rollback_progress_view(
    *, incident: Incident, plan: RollbackPlan, progress: Progress, orchestrators: Sequence[str]
) -> Message:
    """The card while steps run, when it ends, and when it stops (with Resume / Abort)."""
    record = progress.plan
    approved = f"Approved by {mention(record.approved_by)}" if record.approved_by else ""
    if progress.finished:
        state = "rolled back"
    elif progress.stopped_at:
        state = "rollback stopped"
    else:
        state = "rolling back"
    blocks: list[dict[str, Any]] = [
        header(f"Incident #{incident.id}: {state}"),
        incident_summary(incident),
        section(
            f"*Rollback* to `{escape(plan.target_ref)}` {_short(plan.target_sha)} from "
            f"{_short(plan.head_sha)}. {approved}\n{step_lines(progress.steps)}",
            BlockId.ROLLBACK_STEPS,
        ),
    ]
    if progress.checks and not progress.finished:
        passed = sum(1 for result in progress.checks if result.ok)
        blocks.append(context(f"Checks so far: {passed} of {len(progress.checks)} passing."))
    if progress.finished:
        blocks.append(section(_outcome_lines(plan, progress), BlockId.ROLLBACK_RESULT))
    if progress.stopped_at:
        blocks.extend(stopped_blocks(incident, record, progress, orchestrators))
    if progress.facts.get("backup_pushed") or progress.finished:
        blocks.append(section(_restore(plan, incident), BlockId.ROLLBACK_RESTORE))
    text = f"Incident #{incident.id}: {state}"
    if progress.finished:
        text += ", service " + ("healthy" if progress.healthy else "NOT healthy")
    return message(text, blocks)


def stopped_blocks(
    incident: Incident, record: Plan, progress: Progress, orchestrators: Sequence[str]
) -> list[dict[str, Any]]:
    value = {"plan": record.id, "attempt": record.attempt}
    resume = button(
        "Resume",
        ActionId.ROLLBACK_RESUME,
        value,
        style="primary",
        confirm=confirm(
            "Resume the rollback?",
            f"Go on from step “{progress.stopped_at}”. Steps already done are not repeated.",
            "Resume",
        ),
    )
    abort = button(
        "Abort",
        ActionId.ROLLBACK_ABORT,
        value,
        style="danger",
        confirm=confirm(
            "Abort the rollback?",
            "Stop here and release the lock. The repository stays as it is now; the backup "
            "branch, if made, keeps everything.",
            "Abort",
        ),
    )
    return [
        section(
            f":octagonal_sign: *Stopped at “{escape(str(progress.stopped_at))}”*: "
            f"{escape(progress.error or 'unknown reason')}"
        ),
        {
            "type": "actions",
            "block_id": BlockId.INCIDENT_ACTIONS.value,
            "elements": [resume, abort],
        },
        context(f"{mention_orchestrators(orchestrators)}: choose Resume or Abort."),
    ]


def build_plan_closed_view(
    *, incident: Incident, plan: RollbackPlan | None, record: Plan, why: str
) -> Message:
    """A card whose plan was rejected, replaced or aborted: no buttons left to press.

    ``why`` is mrkdwn the bot composed (mentions, step names, commit ids), never user text.
    """
    marks = {
        PlanState.REJECTED: ":no_entry_sign:",
        PlanState.SUPERSEDED: ":arrows_counterclockwise:",
        PlanState.ABORTED: ":octagonal_sign:",
    }
    target = f" to `{escape(plan.target_ref)}`" if plan else ""
    blocks = [
        header(incident_title(incident)),
        incident_summary(incident),
        section(f"{marks.get(record.state, ':information_source:')} Rollback{target}: {why}"),
    ]
    if plan is not None and record.state is PlanState.ABORTED and _backup_made(record.result):
        blocks.append(section(_restore(plan, incident), BlockId.ROLLBACK_RESTORE))
    return message(f"{incident_title(incident)}: rollback {record.state.value}", blocks)


def _backup_made(result: Mapping[str, Any]) -> bool:
    return bool(result.get("backup_branch"))
