"""Block Kit for the post-mortem: the summary reply in the incident's thread, and its modal.

The summary is the ROLLBACK_LOG entry as the bot knows it, then the open fields. Whatever a
person typed is escaped (no mention, no link, no markup) and cut to Slack's limits; the store
and ROLLBACK_LOG.md keep the full text.
"""

from __future__ import annotations

import json
from typing import Any

from actions.rollback_log import LogEntry
from bot.flows.postmortem import FIELD_LIMIT, Field, fields_for, missing_fields, shown_digest
from bot.flows.postmortem_doc import PostmortemFile
from bot.ids import ActionId, BlockId, InputId, ViewId
from bot.views.blocks import (
    Message,
    button,
    confirm,
    context,
    cut_mrkdwn,
    escape,
    header,
    mention,
    message,
    section,
)
from store import Incident, IncidentState, Postmortem

#: What the summary shows of one field; the full text is in the store and the log.
SHOWN_PER_FIELD = 700
_TITLE_LIMIT = 24


def field_block_id(field: Field) -> str:
    return f"postmortem_{field.key}"


def _target(entry: LogEntry) -> str:
    # A ref name may hold <, > and & (git allows them): escaped, so it can mention nobody.
    short = f"`{entry.to_sha[:7]}`"
    return f"`{escape(entry.to_ref)}` ({short})" if entry.to_ref else short


def _entry_text(entry: LogEntry) -> str:
    lines = [
        f"*Rollback:* {entry.at:%Y-%m-%d %H:%M} UTC",
        f"*Trigger:* {escape(entry.trigger)}",
        f"*Severity:* {escape(entry.severity)}",
        f"*Rollback from:* `{entry.from_sha[:7]}`",
        f"*Rollback to:* {_target(entry)}",
    ]
    if entry.backup_branch:
        lines.append(f"*Backup branch:* `{escape(entry.backup_branch)}`")
    lines.append("*Impact:*")
    lines += [f"• {escape(item)}" for item in entry.impact]
    return "\n".join(lines)


def _field_text(field: Field, postmortem: Postmortem) -> str:
    text = postmortem.fields.get(field.key, "").strip()
    if not text:
        shown = "_not filled in yet_" if field.required else "_optional_"
    else:
        shown = cut_mrkdwn(escape(text), SHOWN_PER_FIELD)
        if len(text) > SHOWN_PER_FIELD:
            shown += f" _({len(text)} characters in all; the post-mortem file has every one)_"
    return f"*{field.label}*\n{shown}"


def build_postmortem_summary_view(
    incident: Incident,
    postmortem: Postmortem,
    entry: LogEntry | None,
    *,
    stakeholder_channel: str | None,
) -> Message:
    """The first reply of the thread, edited in place whenever a field is saved."""
    missing = missing_fields(incident, postmortem)
    blocks: list[dict[str, Any]] = [header(f"Post-mortem: incident #{incident.id}")]
    if entry is not None:
        blocks.append(section(_entry_text(entry), BlockId.POSTMORTEM_ENTRY))
    else:
        blocks.append(
            section(
                f"*Fixed forward*, no rollback. {escape(incident.lesson or '')}".strip(),
                BlockId.POSTMORTEM_ENTRY,
            )
        )
    blocks += [section(_field_text(f, postmortem)) for f in fields_for(incident)]
    actions = _actions(incident, postmortem, filled=not missing, stakeholders=stakeholder_channel)
    if actions:
        blocks.append(
            {"type": "actions", "block_id": BlockId.POSTMORTEM_ACTIONS, "elements": actions}
        )
    blocks.append(context(_foot(incident, postmortem, missing)))
    return message(f"Post-mortem of incident #{incident.id}", blocks)


def _actions(
    incident: Incident, postmortem: Postmortem, *, filled: bool, stakeholders: str | None
) -> list[dict[str, Any]]:
    if incident.state is IncidentState.CLOSED:
        return []
    value = {"incident": incident.id}
    elements = [button("Fill in post-mortem", ActionId.POSTMORTEM_FILL, value, style="primary")]
    rolled_back = incident.state is IncidentState.ROLLED_BACK
    # The notice tells of a rollback and a freeze: a fix forward has neither to announce.
    if filled and stakeholders and postmortem.notified_at is None and rolled_back:
        elements.append(button("Notify stakeholders", ActionId.POSTMORTEM_NOTIFY, value))
    if filled and incident.state is IncidentState.ROLLED_BACK:
        elements.append(
            button(
                "Close",
                ActionId.POSTMORTEM_CLOSE,
                value,
                confirm=confirm(
                    f"Close incident #{incident.id}?",
                    "Its reminders stop and it leaves status. The post-mortem stays readable.",
                    "Close",
                ),
            )
        )
    return elements


def _foot(incident: Incident, postmortem: Postmortem, missing: list[Field]) -> str:
    parts = []
    if postmortem.updated_by:
        parts.append(f"Last edited by {mention(postmortem.updated_by)}")
    if incident.state is IncidentState.CLOSED:
        parts.append(f"Closed by {mention(incident.resolved_by or 'someone')}")
    elif missing:
        names = ", ".join(field.label.lower() for field in missing)
        parts.append(f"Still to fill in: {names}. Replies in this thread go to the timeline")
    elif incident.state is IncidentState.ROLLED_BACK:
        parts.append("Every field is filled in. An orchestrator can close the incident")
    else:
        parts.append("Every field is filled in")
    if postmortem.notified_at is not None:
        parts.append(f"stakeholders told at {postmortem.notified_at:%H:%M} UTC")
    return ". ".join(parts) + "."


def build_postmortem_modal_view(incident: Incident, postmortem: Postmortem) -> dict[str, Any]:
    """The fields as inputs, each holding what is saved so far; the incident travels in
    ``private_metadata``."""
    blocks = []
    for field in fields_for(incident):
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": InputId.POSTMORTEM_FIELD.value,
            "multiline": field.key != "retry_eta",
            "max_length": FIELD_LIMIT,
            "placeholder": {"type": "plain_text", "text": field.hint[:150]},
        }
        current = postmortem.fields.get(field.key, "")
        if current:
            element["initial_value"] = current[:FIELD_LIMIT]
        blocks.append(
            {
                "type": "input",
                "block_id": field_block_id(field),
                "optional": True,
                "label": {"type": "plain_text", "text": field.label[:2000]},
                "element": element,
            }
        )
    shown = {f.key: shown_digest(postmortem.fields.get(f.key, "")) for f in fields_for(incident)}
    return {
        "type": "modal",
        "callback_id": ViewId.POSTMORTEM.value,
        "private_metadata": json.dumps({"incident": incident.id, "shown": shown}),
        "title": {"type": "plain_text", "text": f"Post-mortem #{incident.id}"[:_TITLE_LIMIT]},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def build_reminder_view(incident: Incident, people: list[str], *, day: bool) -> Message:
    """The procedure's "within 1 hour" or "within 1 day" list, to the requester and approver."""
    who = " ".join(mention(person) for person in dict.fromkeys(people))
    items: tuple[str, ...]
    if day:
        items = (
            "Fix the root cause in isolation",
            "Create a comprehensive test for the failure case",
            "Validate the fix in a separate branch",
            "Document the new safeguards",
        )
        when = "Within 1 day"
    else:
        items = (
            "What was rolled back?",
            "Why did it fail?",
            "What was the impact?",
        )
        when = "Within 1 hour"
    listed = "\n".join(f"• {item}" for item in items)
    return message(
        f"Incident #{incident.id}: the post-mortem is not filled in yet",
        [
            section(
                f":memo: {who} *{when}* of the rollback, the procedure asks:\n{listed}\n"
                "Press *Fill in post-mortem* on the summary above."
            )
        ],
    )


def build_stakeholder_notice_view(incident: Incident, postmortem: Postmortem) -> Message:
    """Post-rollback, "Notify stakeholders": the adjusted timeline, the new ETA, the lessons."""
    fields = postmortem.fields

    def shown(key: str) -> str:
        return cut_mrkdwn(escape(fields.get(key, "").strip()), 900) or "_not given_"

    return message(
        f"Migration update: incident #{incident.id} was rolled back",
        [
            header(f"Migration update: incident #{incident.id}"),
            section(
                f"*Timeline adjusted*: the phase was rolled back on "
                f"{postmortem.opened_at:%Y-%m-%d at %H:%M} UTC and is frozen until a retry "
                "is approved.\n"
                f"*New ETA*: {shown('retry_eta')}"
            ),
            section(f"*Lessons learned*\n{shown('differently')}\n{shown('prevention')}"),
            context(f"Root cause: {shown('root_cause')}"),
        ],
    )


#: Entries one /rollback log answer shows; a message holds at most 50 blocks.
LOG_SHOWN_MAX = 45


def build_rollback_log_view(entries: list[LogEntry], *, asked: int, path: str) -> Message:
    """``/rollback log [N]``: the newest entries, each as the log tells it."""
    if not entries:
        return message(
            "No rollbacks yet",
            [section(f":scroll: No rollbacks yet, so `{escape(path)}` has no entries.")],
        )
    shown = entries[:LOG_SHOWN_MAX]
    blocks: list[dict[str, Any]] = [header(f"Rollback log: the last {len(shown)}")]
    for entry in shown:
        rest = "\n".join(
            f"*{title}:* {cut_mrkdwn(escape(text), 300) if text else '_not filled in yet_'}"
            for title, text in (
                ("Root cause", entry.root_cause),
                ("Prevention", entry.prevention),
                ("Retry ETA", entry.retry_eta),
            )
        )
        blocks.append(section(f"*Incident #{entry.incident_id}*\n{_entry_text(entry)}\n{rest}"))
    more = f"{asked - len(shown)} more not shown here. " if asked > len(shown) else ""
    blocks.append(
        context(f"{more}The whole log: `{escape(path)}`, or `rollback-bot log` in a terminal.")
    )
    return message(f"Rollback log: the last {len(shown)}", blocks)


def build_closed_view(incident: Incident) -> Message:
    return message(
        f"Incident #{incident.id} is closed",
        [
            section(
                f":white_check_mark: Incident #{incident.id} is closed: its reminders are "
                "stopped, and it leaves `/rollback status`. Its post-mortem stays in its thread."
            )
        ],
    )


def build_uploaded_view(file: PostmortemFile) -> Message:
    return message(
        f"The post-mortem of incident #{file.incident.id} is in its thread",
        [
            section(
                f":page_facing_up: `{escape(file.filename)}` is in incident "
                f"#{file.incident.id}'s thread: the timeline, the plan, the steps with their "
                "timings, the checks, the replies and the post-mortem fields."
            )
        ],
    )
