"""The post-mortem in Slack: its thread under the incident card, the summary edited in place,
the reminders, and the stakeholder notice.

The store decides what happens once (a post-mortem opens once, stakeholders are told once);
this module only shows it. A thread that cannot be posted (the card is gone, Slack refuses)
leaves the post-mortem in the store, and the next change tries again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient

from actions.errors import InputError
from bot.deps import Deps
from bot.flows.bisect import BisectReport
from bot.flows.postmortem import (
    log_entry_of,
    missing_fields,
    reminder_timer,
    thread_of,
    write_rollback_log,
)
from bot.flows.postmortem_doc import PostmortemFile
from bot.slack.messages import SLACK_FAILURES, LiveMessage, slack_problem
from bot.views.bisect import build_bisect_report_view
from bot.views.postmortem import (
    build_postmortem_summary_view,
    build_reminder_view,
    build_stakeholder_notice_view,
)
from store import Incident, IncidentState, Surface, TimelineAction, Timer

log = logging.getLogger("rollback_bot.postmortem")

REMINDER_KIND = "postmortem_reminder"
#: After the configured reminders, one a day until the fields are filled.
REPEAT_EVERY = timedelta(days=1)


def open_thread(deps: Deps, client: WebClient, incident_id: int) -> bool:
    """Post the summary as the first reply under the incident's card, once; start reminders
    and write ROLLBACK_LOG.md. True when the thread is there (now or before)."""
    incident = deps.store.get_incident(incident_id)
    postmortem = deps.store.get_postmortem(incident_id)
    if incident is None or postmortem is None:
        return False
    if postmortem.summary_ts is not None:
        return True
    card_ts = incident.message_ts
    view = _summary(deps, incident)
    live = LiveMessage(client, incident.channel)
    if not live.start({**view, **({"thread_ts": card_ts} if card_ts else {})}) or live.ts is None:
        log.warning("incident #%d: the post-mortem thread could not be opened", incident_id)
        return False
    thread_ts = card_ts or live.ts
    deps.store.set_postmortem_summary(incident_id, thread_ts=thread_ts, summary_ts=live.ts)
    deps.store.append_event(
        actor="bot",
        surface=Surface.BOT,
        action=TimelineAction.POSTMORTEM_OPENED,
        incident_id=incident_id,
        details={"thread_ts": thread_ts, "summary_ts": live.ts},
    )
    if incident.state is IncidentState.ROLLED_BACK:
        _schedule_first_reminder(deps, incident_id)
        write_rollback_log(deps, actor="bot", surface=Surface.BOT)
    return True


def _summary(deps: Deps, incident: Incident) -> dict[str, object]:
    postmortem = deps.store.get_postmortem(incident.id)
    assert postmortem is not None
    entry = log_entry_of(deps, incident, postmortem)
    channel = deps.settings.config.postmortem.stakeholder_channel
    return build_postmortem_summary_view(incident, postmortem, entry, stakeholder_channel=channel)


def refresh_summary(deps: Deps, client: WebClient, incident_id: int) -> None:
    """Draw the summary again after a change (a saved field, a close, a notice)."""
    incident = deps.store.get_incident(incident_id)
    postmortem = deps.store.get_postmortem(incident_id)
    if incident is None or postmortem is None:
        return
    if postmortem.summary_ts is None:
        open_thread(deps, client, incident_id)
        return
    LiveMessage.existing(client, postmortem.channel, postmortem.summary_ts).finish(
        _summary(deps, incident)
    )


def show_closed(deps: Deps, client: WebClient, incident: Incident) -> Incident:
    """A closed incident: its summary loses its buttons and says who closed it, and the log is
    written. The card keeps the rollback's outcome, which is still what happened."""
    refresh_summary(deps, client, incident.id)
    write_rollback_log(deps, actor=incident.resolved_by or "bot", surface=Surface.SLACK)
    return incident


def post_bisect_report(deps: Deps, client: WebClient, report: BisectReport) -> BisectReport:
    """The bisect's report in the incident's post-mortem thread (under the card without one)."""
    incident = report.incident
    thread = thread_of(incident, deps.store.get_postmortem(incident.id))
    view = build_bisect_report_view(report)
    if not LiveMessage(client, incident.channel).start(
        {**view, **({"thread_ts": thread} if thread else {})}
    ):
        raise InputError(f"Slack would not post the bisect's report in #{incident.channel}.")
    return report


def upload_postmortem(deps: Deps, client: WebClient, file: PostmortemFile) -> PostmortemFile:
    """The Markdown post-mortem as a file in the incident's thread (files.uploadV2)."""
    incident = file.incident
    thread = thread_of(incident, deps.store.get_postmortem(incident.id))
    try:
        client.files_upload_v2(
            channel=incident.channel,
            thread_ts=thread,
            content=file.text,
            filename=file.filename,
            title=f"Post-mortem of incident #{incident.id}",
        )
    except SLACK_FAILURES as error:
        raise InputError(
            f"Slack would not take the post-mortem file ({slack_problem(error)}). "
            f"`rollback-bot postmortem {incident.id}` prints it in a terminal."
        ) from None
    return file


# -- reminders ------------------------------------------------------------------------------------


def _schedule_first_reminder(deps: Deps, incident_id: int) -> None:
    hours = deps.settings.config.postmortem.remind_after_h
    postmortem = deps.store.get_postmortem(incident_id)
    if not hours or postmortem is None:
        return
    deps.store.schedule_timer(
        reminder_timer(incident_id),
        kind=REMINDER_KIND,
        due_at=postmortem.opened_at + timedelta(hours=hours[0]),
        payload={"incident": incident_id, "step": 0},
    )


def run_reminder(deps: Deps, client: WebClient, timer: Timer) -> None:
    """A reminder fell due: say what the procedure asks by now, unless it is done."""
    incident_id = int(timer.payload.get("incident", 0))
    step = int(timer.payload.get("step", 0))
    incident = deps.store.get_incident(incident_id)
    postmortem = deps.store.get_postmortem(incident_id)
    if incident is None or postmortem is None or incident.state is not IncidentState.ROLLED_BACK:
        return
    if not missing_fields(incident, postmortem):
        return  # filled in: no more reminders
    hours = deps.settings.config.postmortem.remind_after_h
    elapsed = timer.due_at - postmortem.opened_at
    view = build_reminder_view(
        incident, _people(deps, incident), day=elapsed >= timedelta(hours=24)
    )
    thread = {"thread_ts": postmortem.thread_ts} if postmortem.thread_ts else {}
    if LiveMessage(client, postmortem.channel).start({**view, **thread}):
        deps.store.append_event(
            actor="bot",
            surface=Surface.SCHEDULER,
            action=TimelineAction.REMINDER_SENT,
            incident_id=incident_id,
            details={"step": step + 1, "hours_after": round(elapsed.total_seconds() / 3600, 3)},
        )
    following = (
        postmortem.opened_at + timedelta(hours=hours[step + 1])
        if step + 1 < len(hours)
        else timer.due_at + REPEAT_EVERY
    )
    deps.store.schedule_timer(
        reminder_timer(incident_id),
        kind=REMINDER_KIND,
        due_at=max(following, deps.clock()),
        payload={"incident": incident_id, "step": step + 1},
        replace=True,
    )


def _people(deps: Deps, incident: Incident) -> list[str]:
    approvers = [p.approved_by for p in deps.store.plans_of(incident.id) if p.approved_by]
    return [incident.requester, *approvers[-1:]]


# -- the stakeholder notice -----------------------------------------------------------------------


def notify_stakeholders(deps: Deps, client: WebClient, incident_id: int, *, actor: str) -> str:
    """Post the notice in ``postmortem.stakeholder_channel``, once; where it went."""
    channel = deps.settings.config.postmortem.stakeholder_channel
    incident = deps.store.get_incident(incident_id)
    postmortem = deps.store.get_postmortem(incident_id)
    if channel is None:
        raise InputError("No postmortem.stakeholder_channel is configured; nobody was told.")
    if incident is None or postmortem is None:
        raise InputError(f"Incident #{incident_id} has no post-mortem; nobody was told.")
    if incident.to_sha is None:
        raise InputError(
            f"Incident #{incident_id} was not rolled back: there is no new timeline to announce."
        )
    if missing_fields(incident, postmortem):
        raise InputError(
            "Fill in the post-mortem first: the notice carries the new ETA and the lessons."
        )
    if not deps.store.mark_stakeholders_notified(incident_id):
        raise InputError(f"The stakeholders already heard about incident #{incident_id}.")
    try:
        client.chat_postMessage(
            channel=channel, **build_stakeholder_notice_view(incident, postmortem)
        )
    except SLACK_FAILURES as error:
        deps.store.mark_stakeholders_notified(incident_id, undo=True)
        raise InputError(
            f"Slack would not post in #{channel} ({slack_problem(error)}); nobody was told. "
            "Invite the bot there, then press it again."
        ) from None
    deps.store.append_event(
        actor=actor,
        surface=Surface.SLACK,
        action=TimelineAction.STAKEHOLDERS_NOTIFIED,
        incident_id=incident_id,
        details={"channel": channel},
    )
    return channel
