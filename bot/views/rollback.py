"""Block Kit for incidents and rollbacks: the approval card, its progress, its outcome.

One card per plan, edited in place: it opens as the plan with Approve / Reject, becomes the
step list while the rollback runs, and ends saying separately whether the rollback is done and
whether the service is healthy, what was kept and where, and what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actions.rollback_plan import RollbackPlan
from bot.config import SlackConfig
from bot.config.approvers import sole_orchestrator
from bot.flows.rollback import Proposal, needs_confirmation
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
from bot.views.database import build_database_plan_text, build_database_result_text
from bot.views.fix_window import build_diagnostics_text, minutes_said
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
from bot.views.security import ROTATE_AFTER, build_rotation_blocks
from store import CheckpointRecord, Incident, Plan, PlanState

COMMITS_SHOWN = 15
PATHS_SHOWN = 10
# git status's two-letter codes, as the team says them.
_CHANGE_WORDS = (
    ("?", "new"),
    ("U", "conflicted"),
    ("D", "deleted"),
    ("A", "added"),
    ("R", "renamed"),
)


def _change(line: str) -> str:
    """' M docs/x.md' -> 'changed docs/x.md'; '?? server/wip.ts' -> 'new server/wip.ts'."""
    code, path = line[:2], line[3:] if len(line) > 3 else line
    word = next((said for letter, said in _CHANGE_WORDS if letter in code), "changed")
    return f"{word} {escape(path)}"


def _plan_lines(plan: RollbackPlan, forced: CheckpointRecord | None) -> str:
    kind = "a checkpoint" if plan.target_is_checkpoint else "not a checkpoint"
    if plan.target_reason:
        kind = f"{escape(plan.target_reason)}, as the procedure says"
    same = plan.remote_head == plan.head_sha
    remote = "the same" if same else f"at {short(plan.remote_head)}"
    lines = [
        f"• *Back to*: `{escape(plan.target_ref)}` {short(plan.target_sha)} ({kind})",
        f"• *Now*: {short(plan.head_sha)} on `{escape(plan.branch)}`; {escape(plan.remote)} has "
        f"{remote}",
        f"• *Backup*: everything that leaves goes to `{escape(plan.backup_branch)}` first, "
        f"pushed to {escape(plan.remote)}",
    ]
    if forced is not None and forced.forced_by:
        lines.append(
            f":warning: This checkpoint was forced past a failing checklist by "
            f"{mention(forced.forced_by)}; it may not have been healthy."
        )
    if plan.dirty_paths:
        shown = "\n".join(_change(path) for path in plan.dirty_paths[:PATHS_SHOWN])
        more = len(plan.dirty_paths) - PATHS_SHOWN
        if more > 0:
            shown += f"\n…and {more} more"
        lines.append(
            f"• *Uncommitted work*: {plural(len(plan.dirty_paths), 'file')}, kept on the "
            f"backup\n```{shown}```"
        )
    else:
        lines.append("• *Uncommitted work*: none")
    return "\n".join(lines)


def _evidence_lines(plan: RollbackPlan) -> str | None:
    """Scenario 3's evidence: the commits that matched email and a removal, and the email files
    that went, so the orchestrator can check the procedure's choice before approving."""
    if not plan.target_reason:
        return None
    matched = [f"• {short(line[:40])} {escape(line[41:][:80])}" for line in plan.email_matches[:8]]
    lines = ["*Why this target*: commits whose subject names email and a removal"]
    lines += matched or ["• none after the target"]
    if plan.email_files_removed:
        files = ", ".join(f"`{escape(path)}`" for path in plan.email_files_removed[:8])
        lines.append(f"*Email files removed since*: {files}")
    return "\n".join(lines)


def _commit_lines(plan: RollbackPlan) -> str:
    if not plan.discarded_count:
        return "*No commits leave the branch.*"
    lines = [
        f"• {short(commit.sha)} {escape(commit.subject[:80])} · {person(commit.author)}"
        for commit in plan.discarded[:COMMITS_SHOWN]
    ]
    more = plan.discarded_count - len(lines)
    if more > 0:
        lines.append(f"…and {more} more")
    leaving = plural(plan.discarded_count, "commit")
    verb = "leaves" if plan.discarded_count == 1 else "leave"
    return f"*{leaving} {verb} the branch* (kept on the backup)\n" + "\n".join(lines)


def _warnings(plan: RollbackPlan) -> list[str]:
    warnings = [f":warning: {escape(reason)}." for reason in needs_confirmation(plan)]
    database = build_database_plan_text(plan)
    if database is not None:
        warnings.append(database)
    return warnings


def _decision_buttons(plan: RollbackPlan, record: Plan) -> dict[str, Any]:
    value = {"plan": record.id, "fp": record.fingerprint[:16]}
    reasons = needs_confirmation(plan)
    target = f"{plan.target_ref} ({plan.target_sha[:7]})"
    leaving = (
        f"{plural(plan.discarded_count, 'commit')} and any uncommitted work go to "
        f"{plan.backup_branch} first."
    )
    waive = plan.database_waiver_needed
    if reasons or waive:
        approve = button(
            "Approve anyway",
            ActionId.ROLLBACK_APPROVE_ANYWAY,
            {**value, "force": bool(reasons), "waive": waive},
            style="danger",
            confirm=confirm(
                "Roll back past the warnings?",
                f"Reset to {target} although: "
                + "; ".join([*reasons, *(["the database stays ahead"] * waive)])
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
    reject = button(
        "Reject",
        ActionId.ROLLBACK_REJECT,
        value,
        confirm=confirm(
            "Reject the rollback?", f"Nothing is reset; the plan to {target} closes.", "Reject"
        ),
    )
    return {
        "type": "actions",
        "block_id": BlockId.INCIDENT_ACTIONS.value,
        "elements": [approve, reject],
    }


def who_approves(
    slack: SlackConfig, fallback: Sequence[str], requester: str, target: str
) -> tuple[str, str]:
    """(who can approve this plan, the terminal's break-glass path), in plain words."""
    who = mention_orchestrators(slack.orchestrators)
    if slack.requester_can_approve:
        can = f"Who can approve: {who}."
    elif sole_orchestrator(slack.orchestrators) == requester:
        can = f"{mention(requester)} asked and is the only orchestrator, so " + (
            f"{mention_orchestrators(fallback)} (escalation.fallback) can approve."
            if fallback
            else "nobody else in Slack can approve: name a second orchestrator, or "
            "use the terminal."
        )
    elif requester in slack.orchestrators:
        others = [entry for entry in slack.orchestrators if entry != requester]
        can = (
            f"Who can approve: {mention_orchestrators(others)}; not {mention(requester)}, "
            "who asked."
        )
    else:
        can = f"Who can approve: {who}."
    glass = (
        "Break-glass, when Slack cannot be used: "
        f"`rollback-bot rollback --to {escape(target)}` on the bot's host (recorded)."
    )
    return can, glass


def build_incident_card_view(
    proposal: Proposal, slack: SlackConfig, *, fallback: Sequence[str] = ()
) -> Message:
    """The incident as opened: what happened, why, the plan and its buttons."""
    incident, plan, record, note = proposal.incident, proposal.plan, proposal.record, proposal.note
    blocks: list[dict[str, Any]] = [header(incident_title(incident)), incident_summary(incident)]
    who = mention_orchestrators(slack.orchestrators)
    assert plan is not None and record is not None, "a card without a plan is drawn elsewhere"
    if incident.decision.get("action") == "fix_window_then_rollback":
        window = incident.decision.get("fix_window_min")
        length = f" of {minutes_said(float(window))}" if isinstance(window, int | float) else ""
        blocks.append(
            section(
                f":stopwatch: *The fix window{length} ended without a fix*: the procedure says "
                "roll back now. Approve the rollback below, or resolve the incident if it was "
                "fixed after all."
            )
        )
    if note and note != plan.target_reason:
        blocks.append(context(escape(note)))
    blocks.append(section(_plan_lines(plan, proposal.target_checkpoint), BlockId.INCIDENT_PLAN))
    evidence = _evidence_lines(plan)
    if evidence is not None:
        blocks.append(section(evidence))
    if proposal.diagnostics:
        blocks.append(section(build_diagnostics_text(proposal.diagnostics)))
    blocks.append(section(_commit_lines(plan)))
    blocks.extend(section(warning) for warning in _warnings(plan))
    if incident.scenario == "security":
        blocks.append(section(ROTATE_AFTER))
    blocks.append(_decision_buttons(plan, record))
    can, glass = who_approves(slack, fallback, record.requested_by, plan.target_ref)
    blocks.append(
        context(
            f"{who}: your decision is needed. {can} Expires {record.expires_at:%H:%M} UTC. "
            f"{card_foot(incident, record)}"
        )
    )
    blocks.append(context(glass))
    return message(
        f"{incident_title(incident)}: rollback to {plan.target_ref} awaits approval", blocks
    )


def _kept(plan: RollbackPlan, record: Plan, incident: Incident, facts: Mapping[str, Any]) -> str:
    """What the rollback kept, and where, and what it did not roll back (when it did not)."""
    backup, remote = escape(plan.backup_branch), escape(plan.remote)
    waived = record.waived and plan.database_waiver_needed
    head = (
        f"*Kept*: the commits that left and the uncommitted work, on `{backup}` (also on {remote})."
        if waived
        else f"*Nothing is lost.* The commits that left and the uncommitted work are on "
        f"`{backup}` (also on {remote})."
    )
    lines = [
        head,
        f"See them: `git fetch {remote} {backup} &amp;&amp; git log --stat {remote}/{backup}`",
        f"Bring commits back: `/rollback cherry-pick {incident.id} &lt;commit&gt;…` "
        "(orchestrator-approved) or `git cherry-pick -x &lt;commit&gt;`",
    ]
    if waived:
        count = plural(len(plan.migrations_crossed), "migration")
        lines.insert(
            1,
            f":warning: *The database stays ahead*: its schema is {count} newer than "
            f"`{escape(plan.target_ref)}`, the code's; the database step was waived on approval.",
        )
    removed = [str(path) for path in facts.get("untracked_removed") or []]
    if removed:
        shown = ", ".join(f"`{escape(path)}`" for path in removed[:COMMITS_SHOWN])
        more = f" and {len(removed) - COMMITS_SHOWN} more" if len(removed) > COMMITS_SHOWN else ""
        lines.append(
            f"Removed from the working copy, so it runs exactly the target: "
            f"{plural(len(removed), 'untracked file')} ({shown}{more}), each kept on `{backup}`."
        )
    kept = [str(path) for path in facts.get("untracked_kept") or []]
    if kept:
        lines.append(
            ":warning: Left in place, not like this on the backup: "
            + ", ".join(f"`{escape(path)}`" for path in kept[:COMMITS_SHOWN])
        )
    return "\n".join(lines)


def _outcome_lines(plan: RollbackPlan, progress: Progress) -> str:
    facts = progress.facts
    done = (
        f":rewind: *Rollback done*: `{escape(plan.branch)}` is at `{escape(plan.target_ref)}` "
        f"{short(plan.target_sha)}; {escape(str(facts.get('push', '')))}."
    )
    if progress.healthy:
        checks = plural(int(facts.get("checks") or 0), "check")
        return f"{done}\n:large_green_circle: *Service healthy*: all {checks} pass."
    failing = ", ".join(f"“{escape(str(name))}”" for name in facts.get("failing", []))
    return (
        f"{done}\n:red_circle: *Service NOT healthy*: failing {failing or 'checks'}.\n"
        "*Next*: `/rollback validate` shows what fails now; `/rollback to &lt;older "
        "checkpoint&gt;` goes further back, or fix forward from here."
    )


def build_rollback_progress_view(
    *,
    incident: Incident,
    plan: RollbackPlan,
    progress: Progress,
    orchestrators: Any,
    rotated_by: str | None = None,
) -> Message:
    """The card while steps run, when it ends, and when it stops (with Resume / Abort)."""
    record = progress.plan
    if progress.finished:
        state = "rolled back"
    elif progress.stopped_at:
        state = "rollback stopped"
    else:
        state = "rolling back"
    blocks: list[dict[str, Any]] = [
        header(f"Incident #{incident.id}: {state}"),
        incident_summary(incident, approved_by=approver(record)),
        section(
            f"*Rollback* to `{escape(plan.target_ref)}` {short(plan.target_sha)} from "
            f"{short(plan.head_sha)}\n{step_lines(progress.steps)}",
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
        blocks.append(
            section(_kept(plan, record, incident, progress.facts), BlockId.ROLLBACK_RESTORE)
        )
    database = build_database_result_text(progress.facts)
    if database is not None:
        blocks.append(section(database, BlockId.DATABASE_RESULT))
    if progress.finished:
        blocks.extend(build_rotation_blocks(incident, rotated_by))
    blocks.append(context(card_foot(incident, record)))
    text = f"Incident #{incident.id}: {state}"
    if progress.finished:
        text += ", service " + ("healthy" if progress.healthy else "NOT healthy")
    return message(text, blocks)


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
        incident_summary(incident, approved_by=approver(record)),
        section(f"{marks.get(record.state, ':information_source:')} Rollback{target}: {why}"),
    ]
    if plan is not None and record.state is PlanState.ABORTED and _backup_made(record.result):
        blocks.append(
            section(_kept(plan, record, incident, record.result), BlockId.ROLLBACK_RESTORE)
        )
    blocks.append(context(card_foot(incident, record)))
    return message(f"{incident_title(incident)}: rollback {record.state.value}", blocks)


def _backup_made(result: Mapping[str, Any]) -> bool:
    return bool(result.get("backup_branch"))
