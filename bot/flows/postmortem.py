"""After the rollback: the post-mortem's fields, its log entry, and closing the incident.

A rollback's record step opens the post-mortem in the store (so a rollback run from the
terminal has one too); the Slack side then opens its thread under the card. The fields are the
procedure's "Create post-mortem" questions, plus the four root-cause questions of the email
scenario. ROLLBACK_LOG.md is generated from the store, never edited in place, so it can always
be written again and says the same.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from actions.errors import GitError, InputError
from actions.git import open_repo
from actions.log_commit import commit_log_file
from actions.rollback_log import LogEntry, render_log, write_log
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.checkpoint import busy_with, repo_lock_name
from bot.flows.escalation import stop_paging
from bot.flows.windows import cancel_window
from bot.views.root_cause import QUESTIONS
from store import Incident, IncidentState, Postmortem, Surface, TimelineAction

log = logging.getLogger("rollback_bot.postmortem")
_LOG_WRITER = threading.Lock()

#: What the modal keeps of one field; the store keeps it all, views cut it for Slack.
FIELD_LIMIT = 3000
#: How many entries ROLLBACK_LOG.md holds: every rollback of a long migration, not unbounded.
LOG_ENTRIES_MAX = 500
_WORDS = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    hint: str
    required: bool = True


FIELDS = (
    Field("root_cause", "Root cause", "The technical explanation: what failed, and why."),
    Field("differently", "What we'll do differently", "The change to how the phase is run."),
    Field("prevention", "How to prevent it", "The safeguard, test or check that stops a repeat."),
    Field("retry_eta", "Retry ETA", "When the phase will be tried again."),
    Field("user_impact", "User-facing impact", "What users saw, if anything.", required=False),
)
EMAIL_FIELDS = tuple(
    Field(f"rca_{number}", f"RCA {number}", question)
    for number, question in enumerate(QUESTIONS, start=1)
)
#: Rolled back and not closed yet: the post-mortem is still being written.
AFTER_ROLLBACK = (IncidentState.ROLLED_BACK,)


def shown_digest(text: str) -> str:
    """A short fingerprint of a field as a form showed it: what a submission is compared to, so
    a field nobody touched in this form is never written back over someone else's save."""
    return hashlib.sha256(text[:FIELD_LIMIT].encode("utf-8")).hexdigest()[:16]


def fields_for(incident: Incident) -> tuple[Field, ...]:
    return FIELDS + (EMAIL_FIELDS if incident.scenario == "email" else ())


def missing_fields(incident: Incident, postmortem: Postmortem | None) -> list[Field]:
    filled = postmortem.fields if postmortem is not None else {}
    return [f for f in fields_for(incident) if f.required and not filled.get(f.key, "").strip()]


def thread_of(incident: Incident, postmortem: Postmortem | None) -> str | None:
    """Where the incident's post-mortem thread is: its own ts, else under the card."""
    return (postmortem.thread_ts if postmortem is not None else None) or incident.message_ts


def severity_word(incident: Incident) -> str:
    level = incident.decision.get("level")
    if isinstance(level, str) and level in _WORDS:
        return _WORDS[level]
    return incident.severity or "Not rated"


# -- the log --------------------------------------------------------------------------------------


def log_entry_of(deps: Deps, incident: Incident, postmortem: Postmortem | None) -> LogEntry | None:
    """The incident's ROLLBACK_LOG entry; None when it was never rolled back."""
    if incident.to_sha is None or incident.from_sha is None:
        return None
    fields = postmortem.fields if postmortem is not None else {}
    prevention = "\n\n".join(
        text for text in (fields.get("differently", ""), fields.get("prevention", "")) if text
    )
    return LogEntry(
        incident_id=incident.id,
        at=postmortem.opened_at if postmortem is not None else incident.updated_at,
        trigger=incident.trigger or incident.scenario,
        severity=severity_word(incident),
        from_sha=incident.from_sha,
        to_sha=incident.to_sha,
        to_ref=incident.target_ref,
        backup_branch=incident.backup_branch,
        impact=impact_of(deps, incident, postmortem),
        root_cause=fields.get("root_cause", ""),
        prevention=prevention,
        retry_eta=fields.get("retry_eta", ""),
    )


def impact_of(deps: Deps, incident: Incident, postmortem: Postmortem | None) -> tuple[str, ...]:
    """What broke and how many endpoints: the checks failing before the rollback."""
    failing = list(postmortem.impact) if postmortem is not None else []
    user_impact = postmortem.fields.get("user_impact", "") if postmortem is not None else ""
    endpoints = [e.name for e in deps.settings.config.checks.endpoints]
    hit = [name for name in failing if name in endpoints]
    broke = f"What broke: {', '.join(failing)}" if failing else f"What broke: {incident.trigger}"
    count = f"Endpoints affected: {len(hit)} of {len(endpoints)}"
    if hit:
        count += f" ({', '.join(hit)})"
    return (broke, count, f"User-facing impact: {user_impact or 'not recorded yet'}")


def failing_before_rollback(deps: Deps, incident_id: int) -> list[str]:
    """The checks the last checklist before the approval found failing ([] when it passed)."""
    approved_at = None
    for event in deps.store.timeline(incident_id=incident_id, limit=500):
        if event.action is TimelineAction.ROLLBACK_APPROVED:
            approved_at = event.at
    for event in reversed(deps.store.timeline(limit=500)):
        if event.action is not TimelineAction.VALIDATION:
            continue
        if approved_at is not None and event.at > approved_at:
            continue
        failing = event.details.get("failing")
        if event.details.get("verdict") == "fail" and isinstance(failing, list):
            return [str(name) for name in failing]
        return []
    return []


def log_entries(deps: Deps, *, limit: int) -> list[LogEntry]:
    """The newest ``limit`` rollbacks, newest first."""
    incidents = deps.store.recent_incidents(
        states=[IncidentState.ROLLED_BACK, IncidentState.CLOSED], limit=limit
    )
    entries = [log_entry_of(deps, i, deps.store.get_postmortem(i.id)) for i in incidents]
    found = [entry for entry in entries if entry is not None]
    return sorted(found, key=lambda entry: (entry.at, entry.incident_id), reverse=True)


def log_path(deps: Deps) -> Path:
    config = deps.settings.config
    return config.git.path / config.postmortem.log_path


def write_rollback_log(deps: Deps, *, actor: str, surface: Surface) -> bool:
    """Write ROLLBACK_LOG.md from the store, and commit it when ``postmortem.commit_log``;
    True when the file changed. A commit that cannot be made leaves the file written."""
    # One writer at a time, reading the store inside: two saves at once could otherwise land
    # the older render last (and commit it).
    with _LOG_WRITER:
        path = log_path(deps)
        changed = write_log(path, render_log(log_entries(deps, limit=LOG_ENTRIES_MAX)))
        details: dict[str, object] = {"path": deps.settings.config.postmortem.log_path}
        # Tried even when the file did not change: a commit that failed before is made now
        # (the commit itself is a no-op when the branch already holds this text).
        if deps.settings.config.postmortem.commit_log:
            details.update(_commit_log(deps, actor=actor))
    if not changed and not details.get("committed"):
        return False
    deps.store.append_event(
        actor=actor, surface=surface, action=TimelineAction.ROLLBACK_LOG_WRITTEN, details=details
    )
    return changed


def _commit_log(deps: Deps, *, actor: str) -> dict[str, object]:
    config = deps.settings.config
    lock, owner = repo_lock_name(deps), f"rollback-log:{actor}"
    if not deps.store.acquire_lock(lock, owner=owner, reason="commit ROLLBACK_LOG.md"):
        return {"committed": False, "problem": f"the repository is busy ({busy_with(deps, lock)})"}
    try:
        done = commit_log_file(
            repo=open_repo(config.git.path),
            remote=config.git.remote,
            branch=config.git.branch,
            path=config.postmortem.log_path,
            message=f"docs({config.project.phase}): update {Path(config.postmortem.log_path).name}",
        )
    except GitError as error:
        log.warning("ROLLBACK_LOG.md was written but not committed: %s", error.user_message)
        return {"committed": False, "problem": error.user_message}
    finally:
        deps.store.release_lock(lock, owner=owner)
    return {
        "committed": done.commit is not None,
        "commit": done.commit,
        "push": done.pushed,
        "index_updated": done.index_updated,
    }


def after_rollback(deps: Deps, incident_id: int, *, actor: str, surface: Surface) -> None:
    """A rollback was recorded: open its post-mortem and freeze the phase (each once)."""
    incident = deps.store.get_incident(incident_id)
    channel = incident.channel if incident is not None else deps.settings.config.slack.channel
    deps.store.open_postmortem(
        incident_id,
        channel=channel,
        thread_ts=incident.message_ts if incident is not None else None,
        impact=failing_before_rollback(deps, incident_id),
    )
    freeze_after_rollback(deps, incident_id, actor=actor, surface=surface)


def freeze_after_rollback(deps: Deps, incident_id: int, *, actor: str, surface: Surface) -> None:
    """Freeze the phase for this incident's rollback, once (a retry's approval lifts it)."""
    phase = deps.settings.config.project.phase
    if deps.store.freeze_phase(phase=phase, incident_id=incident_id, by=actor):
        deps.store.append_event(
            actor=actor,
            surface=surface,
            action=TimelineAction.PHASE_FROZEN,
            incident_id=incident_id,
            details={"phase": phase},
        )


# -- the fields -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    incident: Incident
    postmortem: Postmortem
    changed: tuple[str, ...]


def writable_postmortem(deps: Deps, incident_id: int) -> tuple[Incident, Postmortem]:
    """The incident and its post-mortem, if its fields may still be edited."""
    incident = deps.store.get_incident(incident_id)
    postmortem = deps.store.get_postmortem(incident_id)
    if incident is None or postmortem is None:
        raise InputError(f"Incident #{incident_id} has no post-mortem; nothing was saved.")
    if incident.state is IncidentState.CLOSED:
        raise InputError(f"Incident #{incident_id} is closed; its post-mortem can't change.")
    return incident, postmortem


def save_fields(
    deps: Deps, incident_id: int, fields: dict[str, str], *, actor: str, surface: Surface
) -> Saved:
    incident, _ = writable_postmortem(deps, incident_id)
    known = {f.key for f in fields_for(incident)}
    cleaned = {key: text.strip() for key, text in fields.items() if key in known}
    changed = deps.store.save_postmortem_fields(incident_id, fields=cleaned, by=actor)
    if changed:
        deps.store.append_event(
            actor=actor,
            surface=surface,
            action=TimelineAction.POSTMORTEM_UPDATED,
            incident_id=incident_id,
            details={
                "fields": sorted(changed),
                "lengths": {key: len(new) for key, (_, new) in changed.items()},
            },
        )
    postmortem = deps.store.get_postmortem(incident_id)
    assert postmortem is not None
    return Saved(incident, postmortem, tuple(sorted(changed)))


# -- closing --------------------------------------------------------------------------------------


def close_incident(
    deps: Deps, incident_id: int, *, actor: str, surface: Surface, note: str = ""
) -> Incident:
    """Close a rolled-back incident whose post-mortem is filled in; cancel what it scheduled."""
    incident = deps.store.get_incident(incident_id)
    if incident is None:
        raise InputError(f"There is no incident #{incident_id}.")
    if not incident.state.is_open:
        raise InputError(f"Incident #{incident_id} is already {incident.state.value}.")
    if incident.state not in AFTER_ROLLBACK:
        raise InputError(
            f"Incident #{incident_id} is {incident.state.value.replace('_', ' ')}: only a rolled "
            "back incident is closed this way (a quick fix closes with Resolved: fixed forward)."
        )
    missing = missing_fields(incident, deps.store.get_postmortem(incident_id))
    if missing:
        names = ", ".join(f.label.lower() for f in missing)
        raise InputError(
            f"Incident #{incident_id}'s post-mortem still needs: {names}. Fill it in from its "
            "thread, then close it."
        )
    if not deps.store.resolve_incident(
        incident_id,
        expected=AFTER_ROLLBACK,
        resolution="closed",
        resolved_by=actor,
        lesson=note or incident.lesson,
        state=IncidentState.CLOSED,
    ):
        raise InputError(f"Incident #{incident_id} changed meanwhile; nothing was done.")
    cancel_incident_timers(deps, incident_id)
    stop_paging(deps, incident_id, actor=actor, why="closed")
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.INCIDENT_CLOSED,
        incident_id=incident_id,
        details={"note": note},
    )
    return deps.store.get_incident(incident_id) or incident


def close_requested(deps: Deps, incident_id: int, *, asker: Asker, note: str) -> Incident:
    """``/rollback close``: orchestrators only, as the Close button."""
    if not asker.orchestrator():
        raise InputError("Only an orchestrator can close an incident. Nothing was changed.")
    return close_incident(deps, incident_id, actor=asker.actor, surface=asker.surface, note=note)


def reminder_timer(incident_id: int) -> str:
    return f"postmortem-reminder-{incident_id}"


def cancel_incident_timers(deps: Deps, incident_id: int) -> None:
    cancel_window(deps, incident_id)
    deps.store.cancel_timer(reminder_timer(incident_id))
