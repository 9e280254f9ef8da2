"""What people say in an incident's thread, kept in its timeline: replies, their edits and
deletions, and any message in the incident channel pinned with a 📌 reaction.

The text is kept (cut to the audit's limit and scrubbed of secrets by the store); a message
from a bot never counts, so the bot's own summary and reminders are not recorded twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.afterack import MAX_AUDIT_TEXT
from bot.deps import Deps
from store import IncidentState, Surface, TimelineAction

PINNED = "pushpin"


class Change(Enum):
    POSTED = TimelineAction.THREAD_REPLY
    EDITED = TimelineAction.THREAD_REPLY_EDITED
    DELETED = TimelineAction.THREAD_REPLY_DELETED


@dataclass(frozen=True)
class Posted:
    """One reply in a thread, as a ``message`` event (or its edit or deletion) tells it."""

    change: Change
    channel: str
    thread_ts: str
    ts: str
    user: str  # "" for a deletion, which does not say who
    text: str


def record_thread_event(deps: Deps, posted: Posted) -> bool:
    """Add the reply to its incident's timeline; False when the thread is not an incident's."""
    postmortem = deps.store.postmortem_of_thread(posted.channel, posted.thread_ts)
    if postmortem is None:
        return False
    details: dict[str, object] = {"ts": posted.ts, "thread_ts": posted.thread_ts}
    if posted.change is not Change.DELETED:
        details["text"] = posted.text[:MAX_AUDIT_TEXT]
        if len(posted.text) > MAX_AUDIT_TEXT:
            details["text_length"] = len(posted.text)
    deps.store.append_event(
        actor=posted.user or "slack",
        surface=Surface.SLACK,
        action=posted.change.value,
        incident_id=postmortem.incident_id,
        details=details,
    )
    return True


@dataclass(frozen=True)
class Pinned:
    """A message someone reacted to with 📌, as Slack returned it (None when it could not)."""

    channel: str
    ts: str
    by: str
    thread_ts: str | None
    author: str | None
    text: str | None


def record_pin(deps: Deps, pinned: Pinned) -> int | None:
    """Add the pinned message to the timeline of its incident; that incident's id.

    The incident is the one whose thread (or card) it is in; otherwise, in the incident
    channel, the newest open incident. Elsewhere a pin means nothing to the bot.
    """
    incident_id = _incident_of(deps, pinned)
    if incident_id is None:
        return None
    text = pinned.text or ""
    deps.store.append_event(
        actor=pinned.by,
        surface=Surface.SLACK,
        action=TimelineAction.MESSAGE_PINNED,
        incident_id=incident_id,
        details={
            "channel": pinned.channel,
            "ts": pinned.ts,
            "author": pinned.author,
            "text": text[:MAX_AUDIT_TEXT],
        },
    )
    return incident_id


def _incident_of(deps: Deps, pinned: Pinned) -> int | None:
    for ts in (pinned.thread_ts, pinned.ts):
        if ts:
            postmortem = deps.store.postmortem_of_thread(pinned.channel, ts)
            if postmortem is not None:
                return postmortem.incident_id
    if pinned.channel != deps.settings.config.slack.channel:
        return None
    found = deps.store.recent_incidents(states=[s for s in IncidentState if s.is_open], limit=50)
    on_card = [i for i in found if i.message_ts in (pinned.thread_ts, pinned.ts)]
    return on_card[0].id if on_card else found[0].id if found else None
