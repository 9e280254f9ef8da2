"""The facts of one incident's Markdown post-mortem, gathered from the store.

``/rollback postmortem <incident>`` uploads it to the incident's thread and ``rollback-bot
postmortem <incident>`` prints it; both are the same document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.errors import InputError
from actions.postmortem_doc import DocEvent, DocStep, PostmortemDoc, render_postmortem
from bot.deps import Deps
from bot.flows.postmortem import fields_for, log_entry_of, severity_word
from store import Incident, Plan, TimelineAction, TimelineEvent

TIMELINE_MAX = 2000
_REPLIES = (
    TimelineAction.THREAD_REPLY,
    TimelineAction.THREAD_REPLY_EDITED,
    TimelineAction.THREAD_REPLY_DELETED,
    TimelineAction.MESSAGE_PINNED,
)


@dataclass(frozen=True)
class PostmortemFile:
    incident: Incident
    filename: str
    text: str


def postmortem_file(deps: Deps, incident_id: int) -> PostmortemFile:
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        raise InputError(f"There is no incident #{incident_id}.")
    events = deps.store.timeline(incident_id=incident_id, limit=TIMELINE_MAX)
    plans = [p for p in deps.store.plans_of(incident_id) if p.kind == "rollback"]
    plan = plans[-1] if plans else None
    postmortem = deps.store.get_postmortem(incident_id)
    fields = postmortem.fields if postmortem is not None else {}
    doc = PostmortemDoc(
        incident_id=incident.id,
        title=f"Post-mortem: incident #{incident.id}",
        facts=_facts(incident, plan),
        entry=log_entry_of(deps, incident, postmortem),
        plan=_plan_lines(plan),
        steps=_steps(deps, plan),
        checks=_checks(plan),
        replies=tuple(_event(e) for e in events if e.action in _REPLIES),
        fields=tuple((f.label, fields.get(f.key, "")) for f in fields_for(incident)),
        timeline=tuple(_event(e) for e in events),
    )
    return PostmortemFile(incident, f"postmortem-incident-{incident.id}.md", render_postmortem(doc))


def _facts(incident: Incident, plan: Plan | None) -> tuple[tuple[str, str], ...]:
    facts = [
        ("Scenario", incident.scenario),
        ("Severity", severity_word(incident)),
        ("Trigger", incident.trigger or "none given"),
        ("Reported by", incident.requester),
        ("Opened", f"{incident.created_at:%Y-%m-%d %H:%M} UTC"),
        ("State", incident.state.value.replace("_", " ")),
    ]
    if plan is not None and plan.approved_by:
        facts.append(("Approved by", plan.approved_by))
    if incident.resolved_by:
        facts.append(("Closed by", incident.resolved_by))
    if incident.lesson:
        facts.append(("Lesson", incident.lesson))
    return tuple(facts)


def _plan_lines(plan: Plan | None) -> tuple[str, ...]:
    if plan is None:
        return ()
    body = plan.body
    lines = [
        f"Target: {body.get('target_ref') or body.get('target_sha', '?')}",
        f"From: {str(body.get('head_sha', '?'))[:12]} to {str(body.get('target_sha', '?'))[:12]}",
        f"Backup branch: {body.get('backup_branch', '?')}",
    ]
    discarded = body.get("discarded") or []
    if isinstance(discarded, list):
        lines.append(f"Commits taken off the branch: {len(discarded)}")
    return tuple(lines)


def _steps(deps: Deps, plan: Plan | None) -> tuple[DocStep, ...]:
    if plan is None:
        return ()
    started: dict[tuple[int, str], Any] = {}
    steps = []
    for entry in deps.store.journal(plan.id):
        key = (entry.attempt, entry.step)
        if entry.status == "started":
            started[key] = entry.at
            continue
        began = started.pop(key, None)
        seconds = (entry.at - began).total_seconds() if began is not None else None
        steps.append(
            DocStep(entry.step, entry.status, seconds, " ".join(entry.message.split())[:200])
        )
    steps += [DocStep(step, "interrupted", None) for _, step in started]
    return tuple(steps)


def _checks(plan: Plan | None) -> tuple[str, ...]:
    result = plan.result if plan is not None else {}
    if "checks" not in result:
        return ()
    failing = result.get("failing") or []
    verdict = "all passed" if not failing else f"failing: {', '.join(map(str, failing))}"
    return (f"After the rollback: {result.get('checks')} checks, {verdict}",)


def _event(event: TimelineEvent) -> DocEvent:
    details = event.details
    text = details.get("text")
    if isinstance(text, str):
        summary = text
    else:
        summary = ", ".join(
            f"{key}={value}"
            for key, value in details.items()
            if isinstance(value, str | int | float | bool) and key != "text"
        )
    return DocEvent(event.at, event.actor, event.action.value, summary[:300])
