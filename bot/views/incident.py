"""The parts every incident card shares, in the team's words: what happened, who asked, who
approved, the steps as they run, and what to do when they stop.

Ids a person needs to act on stay (a short commit id, the backup branch, the incident number);
the rest (the rule's id, the plan's number) goes to a small context line at the card's foot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actions.policy import DEFAULT_POLICY
from bot.flows.database_restore import restorable
from bot.flows.plans import CHERRY_PICK, REMOVAL, ROLLBACK
from bot.flows.rollback import EXPLICIT
from bot.flows.rollback_resume import RESET_BEGAN
from bot.flows.rollback_run import RESTORE_STEP, RESTORE_TITLE, Progress, StepState
from bot.flows.run_steps import RESET_STEP
from bot.ids import ActionId, BlockId
from bot.views.blocks import (
    button,
    confirm,
    context,
    escape,
    mention,
    mention_orchestrators,
    section,
)
from store import Incident, Plan, PlanState

_MARKS = {
    "done": ":white_check_mark:",
    "running": ":hourglass_flowing_sand:",
    "pending": ":white_small_square:",
    "failed": ":x:",
}


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 commit', '4 commits', '1 schema migration', '2 files'."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def short(sha: str | None) -> str:
    """A commit id as people say it: its first seven characters, in code."""
    return f"`{sha[:7]}`" if sha else "_none_"


def person(author: str) -> str:
    """'Sam Lee <sam@example>' -> 'Sam Lee': the name, as the team knows them."""
    name = author.split("<", 1)[0].strip()
    return escape(name or author)


def incident_title(incident: Incident) -> str:
    if incident.scenario == EXPLICIT:
        return f"Incident #{incident.id}: rollback requested"
    if incident.source == "blocker":
        return f"Incident #{incident.id}: blocker"
    if incident.is_removal:
        return f"Incident #{incident.id}: high-risk removal"
    scenario = DEFAULT_POLICY.scenarios.get(incident.scenario)
    return f"Incident #{incident.id}: {scenario.title if scenario else incident.scenario}"


_STATE_WORDS = {
    "awaiting_rating": "waiting for an orchestrator's rating",
    "fixing": "in its fix window",
    "awaiting_approval": "rollback awaiting approval",
}
#: A removal moves through the same states as a rollback; its words are its own.
_REMOVAL_WORDS = {
    "awaiting_approval": "removal awaiting approval",
    "rolling_back": "removal under way",
    "stopped": "removal stopped",
    "aborted": "removal aborted",
    "resolved": "removal finished",
}


def state_words(incident: Incident) -> str:
    """Where an incident stands, as status and the App Home say it."""
    state = incident.state.value
    words = _REMOVAL_WORDS if incident.is_removal else _STATE_WORDS
    return words.get(state, state.replace("_", " "))


def incident_summary(incident: Incident, *, approved_by: str | None = None) -> dict[str, Any]:
    """Scenario and severity, the trigger, why the procedure says what it says, and who."""
    decision = incident.decision
    lines = []
    if incident.scenario != EXPLICIT and not incident.is_removal:
        level = decision.get("level")
        severity = f"{incident.severity} ({level})" if level else (incident.severity or "?")
        lines.append(f"*Scenario*: {escape(incident.scenario)} · *Severity*: {severity}")
    if incident.trigger:
        lines.append(f"*Trigger*: {escape(incident.trigger)}")
    if decision.get("rule_text"):
        lines.append(f"*Why*: {escape(str(decision['rule_text']))}")
    who = f"*Asked by* {mention(incident.requester)}"
    if approved_by:
        who += f" · *approved by* {mention(approved_by)}"
    lines.append(who)
    return section("\n".join(lines), BlockId.INCIDENT_SUMMARY)


def approver(record: Plan) -> str | None:
    """Who approved the plan; a rejection keeps its decider in the same field, not an approval."""
    return None if record.state is PlanState.REJECTED else record.approved_by


def card_foot(incident: Incident, record: Plan | None) -> str:
    """The ids nobody reads but an auditor wants, in small print."""
    parts = [f"incident #{incident.id}"]
    if record is not None:
        parts.append(f"plan #{record.id}")
        if (record.approved_by or "").startswith("os:"):
            parts.append(f"run from a terminal by {escape(str(record.approved_by))}")
    if incident.decision.get("rule"):
        parts.append(f"rule {escape(str(incident.decision['rule']))}")
    return " · ".join(parts)


def step_lines(steps: Sequence[StepState]) -> str:
    lines = []
    for step in steps:
        note = f": {escape(step.note)}" if step.note else ""
        lines.append(f"{_MARKS[step.status]} {escape(step.title)}{note}")
    return "\n".join(lines)


#: Steps a card names that are not in a plan's own list of steps.
_OTHER_TITLES = {RESTORE_STEP: RESTORE_TITLE}


def step_title(progress: Progress, name: str | None) -> str:
    """The step a person sees on the card ("Push with lease"), for the name the journal keeps."""
    found = next((step.title for step in progress.steps if step.name == name), None)
    return found or _OTHER_TITLES.get(name or "", name or "?")


def _restore_button(
    record: Plan, progress: Progress, value: dict[str, Any]
) -> list[dict[str, Any]]:
    """Restore database from backup: only while the database step is committed and the code's
    reset has not begun (rebuilt from the journal, or as the live run's steps show it)."""
    if RESET_BEGAN in progress.facts:
        touched = bool(progress.facts[RESET_BEGAN])
    else:
        reset = next((step for step in progress.steps if step.name == RESET_STEP), None)
        touched = reset is not None and reset.status != "pending"
    if not restorable(record, progress.facts, reset_touched=touched):
        return []
    return [
        button(
            "Restore database from backup",
            ActionId.DATABASE_RESTORE,
            value,
            confirm=confirm(
                "Restore the database from the backup?",
                "pg_restore puts back the database as it was before this rollback (writes made "
                "since its backup are lost), then the rollback is aborted: the code is still at "
                "HEAD, so both match again.",
                "Restore",
            ),
        )
    ]


#: What a stopped plan is called on its Resume / Abort, and what an abort leaves behind.
_STOPPED_WORDS = {
    ROLLBACK: ("rollback", "the backup branch, if made, keeps everything"),
    REMOVAL: (
        "removal",
        "each file removed so far is its own commit, and a reset one stays on its backup branch",
    ),
    CHERRY_PICK: (
        "cherry-pick",
        "the commits picked so far stay, and their originals stay on the backup branch",
    ),
}


def stopped_blocks(
    incident: Incident, record: Plan, progress: Progress, orchestrators: Sequence[str]
) -> list[dict[str, Any]]:
    where = step_title(progress, progress.stopped_at)
    value = {"plan": record.id, "attempt": record.attempt}
    what, kept = _STOPPED_WORDS.get(record.kind, _STOPPED_WORDS[ROLLBACK])
    resume = button(
        "Resume",
        ActionId.ROLLBACK_RESUME,
        value,
        style="primary",
        confirm=confirm(
            f"Resume the {what}?",
            f"Go on from “{where}”. Steps already done are not repeated.",
            "Resume",
        ),
    )
    abort = button(
        "Abort",
        ActionId.ROLLBACK_ABORT,
        value,
        style="danger",
        confirm=confirm(
            f"Abort the {what}?",
            f"Stop here and release the lock. The repository stays as it is now; {kept}.",
            "Abort",
        ),
    )
    elements = [resume, abort]
    elements.extend(_restore_button(record, progress, value))
    return [
        section(
            f":octagonal_sign: *Stopped at “{escape(where)}”*: "
            f"{escape(progress.error or 'unknown reason')}"
        ),
        {
            "type": "actions",
            "block_id": BlockId.INCIDENT_ACTIONS.value,
            "elements": elements,
        },
        context(
            f"{mention_orchestrators(orchestrators)}: fix what stopped it, then Resume; or Abort "
            "to leave the repository as it is now."
        ),
    ]
