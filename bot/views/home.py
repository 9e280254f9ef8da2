"""The App Home tab: the whole story at a glance, within Slack's limits for a Home view.

The phase and T+ now, the freeze, open incidents with their state, severity and age, the
locks and the last checkpoints, the last rollbacks with links to their threads, the last
closed incidents, and the confidence table. Long lists are cut, with a count of the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.flows.home import HomeReport
from bot.flows.postmortem import severity_word
from bot.views.blocks import age, context, cut_list, escape, header, section
from bot.views.drill import build_confidence_text
from bot.views.incident import state_words
from bot.views.status import lock_line
from store import Incident

HOME_BLOCKS_MAX = 100
INCIDENTS_SHOWN = 15
LOCKS_SHOWN = 10
CHECKPOINTS_SHOWN = 8


def _incident_line(incident: Incident, report: HomeReport) -> str:
    state = state_words(incident)
    severity = severity_word(incident)
    since = age(incident.created_at, report.status.now)
    return f"• *#{incident.id}* {escape(incident.scenario)} · {severity} · {state} · {since}"


def _rollback_line(rollback: Any, links: Mapping[int, str], report: HomeReport) -> str:
    incident = rollback.incident
    target = incident.target_ref or (incident.to_sha or "")[:7]
    link = links.get(incident.id)
    # A permalink Slack gave: the bot's own link, its "&" escaped as mrkdwn wants.
    thread = f" · <{escape(link)}|post-mortem thread>" if link else ""
    when = age(
        rollback.postmortem.opened_at if rollback.postmortem else incident.updated_at,
        report.status.now,
    )
    state = incident.state.value.replace("_", " ")
    return f"• *#{incident.id}* to `{escape(target)}` · {when} · {state}{thread}"


def build_home_view(
    report: HomeReport, *, links: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """The Home view; ``links`` are the permalinks of the rollbacks' threads, by incident."""
    status, links = report.status, links or {}
    hours = max(0, int((status.now - status.phase_started_at).total_seconds() // 3600))
    frozen = (
        f":ice_cube: *Frozen*: {escape(status.frozen)}"
        if status.frozen
        else ":large_green_circle: *Not frozen*: the phase may go on."
    )
    newest = status.open_incidents[-INCIDENTS_SHOWN:]  # the report holds them oldest first
    incidents = [_incident_line(i, report) for i in newest]
    locks = [lock_line(lock, status.now) for lock in status.locks]
    tags = status.repo.checkpoints if status.repo is not None else ()
    checkpoints = [
        f"• `{escape(tag.name)}` at `{tag.commit[:7]}`, {age(tag.created_at, status.now)}"
        for tag in tags
    ]
    rollbacks = [_rollback_line(r, links, report) for r in report.rollbacks]
    closed = [
        f"• #{i.id} {escape(i.scenario)} · {i.state.value.replace('_', ' ')} · "
        f"{age(i.updated_at, status.now)}"
        for i in report.closed
    ]
    blocks = [
        header(f"{status.project} · {status.phase} · T+{hours}h"),
        section(frozen),
        section(
            "*Open incidents*\n"
            + (cut_list(incidents, INCIDENTS_SHOWN, "open", status.open_count) or "none")
        ),
        section("*Locks*\n" + (cut_list(locks, LOCKS_SHOWN, "locks") or "none held")),
        section(
            "*Last checkpoints*\n"
            + (cut_list(checkpoints, CHECKPOINTS_SHOWN, "checkpoints") or "none yet")
        ),
        section("*Last rollbacks*\n" + ("\n".join(rollbacks) or "none")),
        section("*Recently closed*\n" + ("\n".join(closed) or "none")),
        section(_confidence(report)),
        context("Type `/rollback help` in any channel for the commands."),
    ]
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS_MAX]}


def _confidence(report: HomeReport) -> str:
    if not report.status.confidence:  # a report made without drills in mind
        return "*Confidence*: no drills yet, so no scenario is tested."
    return build_confidence_text(report.status.confidence)
