"""The post-mortem thread after a real rollback, through the real Bolt app and the emulator:
the summary under the card, the modal, replies and pins in the timeline, ROLLBACK_LOG.md in
the procedure's format, the reminders on an injected clock, and closing."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.emulator import (
    Message,
    message_changed_event,
    message_deleted_event,
    message_event,
    reaction_added_event,
)
from bot.local.loopback import LocalSlack
from bot.views.blocks import unescape
from store import IncidentState
from tests.gitrepo import git
from tests.servehelp import bot_env, run_cli
from tests.test_edge_delivery import _click
from tests.test_escalation import Clock, running, settled_card, tick
from tests.test_rollback_flow import CHANNEL, button, told

ENGINEER, ORCHESTRATOR, LEAD = "U0ENG", "U0ORCH", "U0LEAD"
APPROVE = "rollback_approve_anyway"
FILLED = {
    "root_cause": "The deal stage migration dropped a NOT NULL default.",
    "differently": "Run the migration on a copy of production data first.",
    "prevention": "A check in validate:phase2 that inserts a deal without a stage.",
    "retry_eta": "Tomorrow 10:00 UTC",
    "user_impact": "Deals could not be saved for 20 minutes.",
}


def rolled_back(local: LocalSlack) -> tuple[Message, int]:
    local.sender.slash_command("/rollback", "scenario critical 5 deals API 500", user_id=ENGINEER)
    card = settled_card(local, "awaits approval")
    _click(local, card, APPROVE)
    assert local.emulator.wait_for(
        lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text, timeout=90
    )
    local.deps.work.wait_idle(60)
    (incident,) = local.store.list_incidents(states=list(IncidentState))
    return card, incident.id


def summary_of(local: LocalSlack, card: Message) -> Message:
    def found() -> list[Message]:
        return [
            m
            for m in local.emulator.messages(CHANNEL)
            if m.thread_ts == card.ts and "Post-mortem: incident" in str(m.blocks)
        ]

    assert local.emulator.wait_for(lambda e: bool(found()), timeout=30)
    (summary,) = found()
    return local.emulator.message(CHANNEL, summary.ts) or summary


def submit(local: LocalSlack, user: str, view: dict[str, Any], fields: dict[str, str]) -> Any:
    values = {
        f"postmortem_{key}": {"postmortem_field_text": {"type": "plain_text_input", "value": text}}
        for key, text in fields.items()
    }
    return local.sender.view_submission(user_id=user, view=view, values=values)


def fill_in(local: LocalSlack, summary: Message, fields: dict[str, str]) -> None:
    before = len(local.emulator.open_views())
    _click(local, summary, "postmortem_fill", user=ENGINEER)
    assert local.emulator.wait_for(lambda e: len(e.open_views()) > before, timeout=30)
    view = local.emulator.open_views()[-1]
    sent = submit(local, ENGINEER, view, fields)
    assert sent.status == 200 and not sent.body, sent
    local.deps.work.wait_idle(60)


def entries_by_heading(text: str) -> list[dict[str, str]]:
    """ROLLBACK_LOG.md read back by the procedure's own headings, entry by entry."""
    entries = []
    for chunk in re.split(r"^## Rollback: ", text, flags=re.MULTILINE)[1:]:
        when, _, body = chunk.partition("\n")
        entry = {"when": when.strip()}
        for name in ("Trigger", "Severity", "Rollback From", "Rollback To", "Backup Branch"):
            match = re.search(rf"^\*\*{name}:\*\* (.*)$", body, flags=re.MULTILINE)
            if match:
                entry[name] = match.group(1)
        for name in ("Impact", "Root Cause", "Prevention", "Retry ETA"):
            match = re.search(rf"^\*\*{name}:\*\*\n(.*?)(?=\n\n\*\*|\Z)", body, re.M | re.S)
            if match:
                entry[name] = match.group(1).strip()
        entries.append(entry)
    return entries


def test_postmortem_thread_opens_under_the_card_and_the_modal_fills_the_log(
    sandbox: Sandbox,
) -> None:
    checkpoint = git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")
    head = git(sandbox.repo, "rev-parse", "HEAD")
    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        text = unescape(str(summary.blocks))
        assert summary.thread_ts == card.ts
        assert "Rollback to" in text and TAG_T8 in text and checkpoint[:7] in text
        assert "Root cause" in text and "not filled in yet" in text
        fill_in(local, summary, FILLED)
        edited = local.emulator.message(CHANNEL, summary.ts)
        assert edited is not None and edited.edited
        assert FILLED["root_cause"] in unescape(str(edited.blocks))
        assert "postmortem_close" in str(edited.blocks)  # filled in: it can be closed
        events = local.store.timeline(incident_id=incident_id, limit=500)
        postmortem = local.store.get_postmortem(incident_id)
    updated = [e for e in events if e.action == "postmortem_updated"]
    assert updated and updated[-1].actor == ENGINEER
    assert set(updated[-1].details["fields"]) == set(FILLED)
    assert postmortem is not None and postmortem.fields == FILLED
    (entry,) = entries_by_heading((sandbox.repo / "ROLLBACK_LOG.md").read_text())
    assert entry["Trigger"] == "deals API 500"
    assert entry["Severity"] == "Critical"
    assert entry["Rollback From"] == f"`{head[:7]}`"
    assert entry["Rollback To"] == f"`{TAG_T8}` (`{checkpoint[:7]}`)"
    assert entry["Backup Branch"].startswith("`phase2-broken-")
    assert entry["Root Cause"] == FILLED["root_cause"]
    assert (
        FILLED["differently"] in entry["Prevention"] and FILLED["prevention"] in entry["Prevention"]
    )
    assert entry["Retry ETA"] == FILLED["retry_eta"]
    assert "User-facing impact: Deals could not be saved" in entry["Impact"]


def test_thread_replies_edits_deletions_and_pins_reach_the_timeline(sandbox: Sandbox) -> None:
    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary_of(local, card)
        reply = local.emulator.post_as(LEAD, CHANNEL, "the default was dropped", thread_ts=card.ts)
        local.sender.event(message_event(reply))
        edited = replace(reply, text="the NOT NULL default was dropped")
        local.sender.event(message_changed_event(reply, edited))
        local.sender.event(message_deleted_event(edited))
        # Ignored: a bot's own reply, and a thread that is no incident's.
        bot_reply = {**message_event(reply), "bot_id": "B0OTHER", "ts": "1.000001"}
        local.sender.event(bot_reply)
        stray = local.emulator.post_as(LEAD, CHANNEL, "lunch?", thread_ts="1700000000.000001")
        local.sender.event(message_event(stray))
        said = local.emulator.post_as(ORCHESTRATOR, CHANNEL, "decision: retry tomorrow")
        local.sender.event(reaction_added_event(LEAD, "pushpin", said))
        local.sender.event(reaction_added_event(LEAD, "eyes", said))
        local.deps.work.wait_idle(60)
        events = local.store.timeline(incident_id=incident_id, limit=500)
        everything = local.store.timeline(limit=1000)
    kinds = [e.action.value for e in events]
    assert kinds.count("thread_reply") == 1 and kinds.count("thread_reply_edited") == 1
    assert kinds.count("thread_reply_deleted") == 1 and kinds.count("message_pinned") == 1
    (posted,) = [e for e in events if e.action == "thread_reply"]
    assert (posted.actor, posted.details["text"]) == (LEAD, "the default was dropped")
    (changed,) = [e for e in events if e.action == "thread_reply_edited"]
    assert changed.details["text"] == "the NOT NULL default was dropped"
    (pinned,) = [e for e in events if e.action == "message_pinned"]
    assert (pinned.actor, pinned.details["text"]) == (LEAD, "decision: retry tomorrow")
    assert not any("lunch?" in str(e.details) for e in everything)


def test_modal_for_a_closed_or_unknown_incident_gets_an_error_in_the_modal(
    sandbox: Sandbox,
) -> None:
    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        _click(local, summary, "postmortem_fill", user=ENGINEER)
        assert local.emulator.wait_for(lambda e: bool(e.open_views()), timeout=30)
        (view,) = local.emulator.open_views()
        forged = {**view, "private_metadata": '{"incident": 999, "shown": {}}'}
        refused = submit(local, ENGINEER, forged, {"root_cause": "x"})
        assert refused.json["response_action"] == "errors", refused
        assert "no post-mortem" in str(refused.json["errors"])
        local.deps.work.wait_idle(60)
        refusals = [e for e in local.store.timeline(limit=500) if e.action == "postmortem_refused"]
        assert refusals and refusals[-1].actor == ENGINEER
        fill_in(local, summary, FILLED)
        local.sender.slash_command("/rollback", f"close {incident_id}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "Only an orchestrator can close")
        local.sender.slash_command("/rollback", f"close {incident_id} done", user_id=ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "is closed")
        # The card still tells the rollback; it grows no fix-forward buttons when closed.
        closed_card = local.emulator.message(CHANNEL, card.ts)
        assert closed_card is not None and "rolled back" in closed_card.text
        assert "fix_resolved" not in str(closed_card.blocks)
        local.deps.work.wait_idle(60)
        late = submit(local, ENGINEER, view, {"root_cause": "changed after closing"})
        incident = local.store.get_incident(incident_id)
        postmortem = local.store.get_postmortem(incident_id)
        open_now = local.store.list_incidents()
    assert late.json["response_action"] == "errors" and "closed" in str(late.json["errors"])
    assert incident is not None and incident.state is IncidentState.CLOSED
    assert postmortem is not None and postmortem.fields["root_cause"] == FILLED["root_cause"]
    assert open_now == []  # status lists only open incidents


def test_hour_reminder_fires_through_the_clock_and_stops_once_filled(sandbox: Sandbox) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)

        def reminders() -> list[Message]:
            return [
                m
                for m in local.emulator.messages(CHANNEL)
                if m.thread_ts == card.ts and "not filled in yet" in m.text
            ]

        clock.advance(minutes=59)
        assert tick(local, scheduler) == 0
        clock.advance(minutes=1, seconds=1)
        assert tick(local, scheduler) == 1
        (first,) = reminders()
        assert "<@U0ENG>" in str(first.blocks) and "<@U0ORCH>" in str(first.blocks)
        assert "Within 1 hour" in str(first.blocks)
        fill_in(local, summary, FILLED)
        clock.advance(hours=24)
        tick(local, scheduler)
        clock.advance(hours=48)
        tick(local, scheduler)
        sent = [
            e for e in local.store.timeline(incident_id=incident_id) if e.action == "reminder_sent"
        ]
    assert len(reminders()) == 1 and len(sent) == 1


def test_postmortem_file_goes_to_the_thread_and_the_terminal_prints_the_same(
    sandbox: Sandbox,
) -> None:
    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        fill_in(local, summary, FILLED)
        reply = local.emulator.post_as(LEAD, CHANNEL, "seen in the logs too", thread_ts=card.ts)
        local.sender.event(message_event(reply))
        local.deps.work.wait_idle(60)
        local.sender.slash_command("/rollback", f"postmortem {incident_id}", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "is in its thread")
        (shared,) = [m for m in local.emulator.messages(CHANNEL) if m.files]
        uploaded = local.emulator.uploaded(shared.files[0]["id"])
        local.sender.slash_command("/rollback", "log 3", user_id=ENGINEER)
        assert told(local.emulator, ENGINEER, "Rollback log: the last 1")
    assert shared.thread_ts == card.ts
    assert shared.files[0]["name"] == f"postmortem-incident-{incident_id}.md"
    assert uploaded is not None
    document = uploaded.decode()
    for heading in ("## Rollback log entry", "## Steps", "## Checks", "## Thread replies"):
        assert heading in document
    assert "| reset |" in document and "seen in the logs too" in document
    assert FILLED["root_cause"] in document
    printed = run_cli(
        ["postmortem", str(incident_id), "--config", str(sandbox.config_path)], bot_env()
    )
    assert printed.returncode == 0, printed.stderr
    # The same document, apart from the steps' recording of this very command.
    assert printed.stdout.split("## Timeline")[0] == document.split("## Timeline")[0]
    log = run_cli(["log", "1", "--config", str(sandbox.config_path)], bot_env())
    assert log.returncode == 0 and "**Root Cause:**" in log.stdout
    assert entries_by_heading(log.stdout)[0]["Retry ETA"] == FILLED["retry_eta"]
    (sandbox.repo / "ROLLBACK_LOG.md").unlink()
    wrote = run_cli(["log", "--write", "--config", str(sandbox.config_path)], bot_env())
    assert wrote.returncode == 0 and "written" in wrote.stdout
    assert entries_by_heading((sandbox.repo / "ROLLBACK_LOG.md").read_text())[0]["Severity"] == (
        "Critical"
    )


def test_commit_log_puts_the_log_on_the_branch_after_the_rollback(sandbox: Sandbox) -> None:
    config = sandbox.config_path.read_text()
    sandbox.config_path.write_text(config + "\n[postmortem]\ncommit_log = true\n")
    with running(sandbox, Clock()) as (local, _):
        _, incident_id = rolled_back(local)
        local.deps.work.wait_idle(60)
        written = [e for e in local.store.timeline(limit=500) if e.action == "rollback_log_written"]
    branch = git(sandbox.repo, "rev-parse", "--abbrev-ref", "HEAD")
    on_origin = git(sandbox.origin, "show", f"refs/heads/{branch}:ROLLBACK_LOG.md")
    assert f"<!-- rollback-bot incident {incident_id} -->" in on_origin
    assert written and written[-1].details["committed"] is True
    assert git(sandbox.repo, "status", "--porcelain", "--", "ROLLBACK_LOG.md") == ""


HOSTILE_FIELD = (
    "<!channel> <@U0ORCH> ```rm -rf``` \n## Rollback: 2020-01-01 00:00 UTC\n**Trigger:** fake\n"
) * 120  # about 10,000 characters


def test_hostile_ten_thousand_character_fields_render_safely_and_stay_whole(
    sandbox: Sandbox,
) -> None:
    from markdown_it import MarkdownIt

    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        fill_in(local, summary, {**FILLED, "root_cause": HOSTILE_FIELD})
        shown = local.emulator.message(CHANNEL, summary.ts)
        postmortem = local.store.get_postmortem(incident_id)
        calls = [c for c in local.emulator.calls("chat.update") if not c.ok]
    assert len(HOSTILE_FIELD) > 9_000 and calls == []
    assert shown is not None and shown.edited
    text = str(shown.blocks)
    assert "<!channel>" not in text and "<@U0ORCH> ```" not in text
    assert "characters in all" in text
    assert postmortem is not None and postmortem.fields["root_cause"] == HOSTILE_FIELD.strip()
    log = (sandbox.repo / "ROLLBACK_LOG.md").read_text()
    tokens = [t.type for t in MarkdownIt("commonmark").parse(log)]
    assert tokens.count("heading_open") == 2  # the title and the one entry
    assert "fence" not in tokens and "<!channel>" not in log
    assert len(entries_by_heading(log)) == 1


def test_stakeholders_are_told_once_the_fields_are_filled_and_only_once(sandbox: Sandbox) -> None:
    config = sandbox.config_path.read_text()
    stakeholders = "C0STAKEHOLDERS"
    sandbox.config_path.write_text(
        config + f'\n[postmortem]\nstakeholder_channel = "{stakeholders}"\n'
    )
    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        assert "postmortem_notify" not in str(summary.blocks)  # offered once filled in
        fill_in(local, summary, FILLED)
        filled = local.emulator.message(CHANNEL, summary.ts)
        assert filled is not None and "postmortem_notify" in str(filled.blocks)
        _click(local, filled, "postmortem_notify", user=LEAD)
        assert told(local.emulator, LEAD, "Only whoever reported it or an orchestrator")
        _click(local, filled, "postmortem_notify", user=ENGINEER)
        assert told(local.emulator, ENGINEER, "have the new ETA")
        # The button is gone from the summary; a click on the old copy is still refused.
        local.sender.block_action(
            user_id=ORCHESTRATOR,
            action=button(filled, "postmortem_notify"),
            message=local.emulator.message_payload(filled),
        )
        assert told(local.emulator, ORCHESTRATOR, "already heard")
        local.deps.work.wait_idle(60)
        notices = local.emulator.messages(stakeholders)
        after = local.emulator.message(CHANNEL, summary.ts)
        events = local.store.timeline(incident_id=incident_id, limit=500)
    (notice,) = notices
    shown = unescape(str(notice.blocks))
    assert FILLED["retry_eta"] in shown and FILLED["differently"] in shown
    assert "frozen until a retry is approved" in shown
    assert after is not None and "postmortem_notify" not in str(after.blocks)
    assert [e.actor for e in events if e.action == "stakeholders_notified"] == [ENGINEER]


def test_two_forms_at_once_never_erase_each_other_and_a_clash_is_refused_in_the_form(
    sandbox: Sandbox,
) -> None:
    with running(sandbox, Clock()) as (local, _):
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        views = []
        for user in (ENGINEER, LEAD):  # both open the form before either saves
            before = len(local.emulator.open_views())
            _click(local, summary, "postmortem_fill", user=user)
            assert local.emulator.wait_for(lambda e, n=before: len(e.open_views()) > n, timeout=30)
            views.append(local.emulator.open_views()[-1])
        first, second = views
        assert submit(local, LEAD, second, {"prevention": "B's safeguard"}).status == 200
        local.deps.work.wait_idle(60)
        assert submit(local, ENGINEER, first, {"root_cause": "A's root cause"}).status == 200
        local.deps.work.wait_idle(60)
        clash = submit(local, ENGINEER, first, {"prevention": "A's other safeguard"})
        local.deps.work.wait_idle(60)
        fields = local.store.get_postmortem(incident_id).fields  # type: ignore[union-attr]
    assert fields["prevention"] == "B's safeguard" and fields["root_cause"] == "A's root cause"
    assert clash.json["response_action"] == "errors"
    assert "postmortem_prevention" in clash.json["errors"]
