"""Nothing happens in silence: when Slack will not take a card or an edit, people are told.

Each test runs a real rollback on the demo sandbox (real repository, bare origin and service)
through the real app, with the loopback Slack refusing, failing or answering late exactly where
Slack would. The person who asked or clicked, the orchestrators, the repository, the origin and
the store are all checked.
"""

from __future__ import annotations

import json
import re

from bot.config import load_config
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from bot.views.blocks import unescape
from store import IncidentState, PlanState
from tests.gitrepo import git
from tests.test_rollback_flow import CHANNEL, button, card_with

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
ORCHESTRATOR_DM = "D0ORCH"  # the emulator's DM with U0ORCH
APPROVE = "rollback_approve_anyway"  # the sandbox's history crosses a schema migration
RUN_TIMEOUT_S = 40  # a rollback takes seconds; two waits stay inside the 120 s test timeout


def _set_slack_key(sandbox: Sandbox, line: str) -> None:
    text = sandbox.config_path.read_text()
    changed = re.sub(r"(?m)^\[slack\]$", f"[slack]\n{line}", text, count=1)
    assert changed != text
    sandbox.config_path.write_text(changed)


def _head(sandbox: Sandbox) -> tuple[str, str]:
    branch = load_config(sandbox.config_path).git.branch
    return git(sandbox.repo, "rev-parse", "HEAD"), git(sandbox.origin, "rev-parse", branch)


def _private(emulator: SlackEmulator, user: str) -> list[str]:
    return [unescape(m.text) + str(m.blocks) for m in emulator.messages() if m.ephemeral_to == user]


def _dms(emulator: SlackEmulator, channel: str = ORCHESTRATOR_DM) -> list[Message]:
    return [m for m in emulator.messages(channel) if not m.deleted]


def _wait(emulator: SlackEmulator, what: str, check: object, timeout: float = 30) -> None:
    assert emulator.wait_for(lambda e: bool(check(e)), timeout=timeout), what  # type: ignore[operator]


def _events(local: LocalSlack) -> list[str]:
    local.deps.work.wait_idle(RUN_TIMEOUT_S)
    return [e.action for e in local.store.timeline(limit=500)]


def _click(local: LocalSlack, card: Message, action_id: str, user: str = ORCHESTRATOR) -> None:
    now = local.emulator.message(card.channel, card.ts) or card
    sent = local.sender.block_action(
        user_id=user,
        action=button(now, action_id),
        message=local.emulator.message_payload(now),
        channel_id=card.channel,
    )
    assert sent.status == 200, sent


# -- 7. a card the channel refuses ---------------------------------------------------------------


def test_refused_card_reaches_the_orchestrator_directly_and_the_requester_with_why(
    sandbox: Sandbox,
) -> None:
    before = _head(sandbox)
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.emulator.refuse("chat.postMessage", "not_in_channel", channel=CHANNEL)
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        emulator = local.emulator
        _wait(emulator, "the requester is told", lambda e: _private(e, ENGINEER))
        (said,) = _private(emulator, ENGINEER)
        assert "I am not a member of" in said and "/invite @rollback-bot" in said, said
        assert f"I sent it directly to <@{ORCHESTRATOR}>" in said and "awaits approval" in said
        _wait(emulator, "the orchestrator gets the card", lambda e: _dms(e))
        (card,) = _dms(emulator)
        assert "awaits approval" in card.text and APPROVE in str(card.blocks)
        assert [m for m in emulator.messages(CHANNEL) if not m.ephemeral] == []
        assert _head(sandbox) == before  # nothing was changed by asking
        assert "delivery_failed" in _events(local)

        # The orchestrator decides from the direct message; the run is shown there.
        _click(local, card, APPROVE)
        _wait(
            emulator,
            "the DM card shows the outcome",
            lambda e: "rolled back" in (e.message(card.channel, card.ts) or card).text,
            RUN_TIMEOUT_S,
        )
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.state is PlanState.DONE and plan.channel == ORCHESTRATOR_DM
    assert incident.state is IncidentState.ROLLED_BACK
    assert _head(sandbox)[0] == git(sandbox.repo, "rev-parse", f"{TAG_T8}^{{commit}}")


# -- 6. a channel lost after the card was posted --------------------------------------------------


def test_channel_lost_mid_rollback_tells_the_clicker_and_messages_the_people_concerned(
    sandbox: Sandbox,
) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        emulator = local.emulator
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        card = card_with(emulator, "awaits approval")
        # The bot is removed from the channel between the card and the click.
        emulator.refuse("chat.update", "channel_not_found", channel=CHANNEL)
        emulator.refuse("chat.postMessage", "channel_not_found", channel=CHANNEL)
        _click(local, card, APPROVE)
        _wait(
            emulator,
            "the clicker hears the outcome",
            lambda e: any("rolled back" in said for said in _private(e, ORCHESTRATOR)),
            RUN_TIMEOUT_S,
        )
        said = _private(emulator, ORCHESTRATOR)
        assert any("I can no longer edit the incident's card" in s for s in said), said
        assert any("I cannot see" in s and "Invite me there" in s for s in said), said
        # The requester and the orchestrator get the outcome directly as well.
        events = _events(local)  # the run and its notices are over
        assert "rolled back" in _dms(emulator, "D0ENG")[-1].text
        assert any("rolled back" in m.text for m in _dms(emulator))
        stale = emulator.message(CHANNEL, card.ts)
        assert stale is not None and "awaits approval" in stale.text  # the card could not change
        (incident,) = local.store.list_incidents(states=list(IncidentState))
    assert incident.state is IncidentState.ROLLED_BACK and "delivery_failed" in events
    assert _head(sandbox)[0] == _head(sandbox)[1]  # origin moved with the branch


# -- a single 500, and a slow Slack --------------------------------------------------------------


def test_a_single_500_from_slack_is_retried_once_and_the_card_posted_once(
    sandbox: Sandbox,
) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.emulator.fail_http("chat.postMessage", 500, times=1)
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        card_with(local.emulator, "awaits approval")
        local.deps.work.wait_idle(30)
        # The card's posts: the critical incident's page (in its thread and directly) comes after.
        posts = [
            c
            for c in local.emulator.calls("chat.postMessage")
            if c.args.get("channel") == CHANNEL and not c.args.get("thread_ts")
        ]
        cards = [m for m in local.emulator.messages(CHANNEL) if "awaits approval" in m.text]
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert [call.ok for call in posts] == [False, True]
    assert len(cards) == 1 and plan.message_ts == cards[0].ts
    assert _private(local.emulator, ENGINEER) == []


def test_slack_answering_after_the_timeout_is_reported_and_the_card_still_works(
    sandbox: Sandbox,
) -> None:
    _set_slack_key(sandbox, "api_timeout_s = 1")
    before = _head(sandbox)
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        emulator = local.emulator
        emulator.slow("chat.postMessage", 2.5, times=1)
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        _wait(emulator, "the requester is told", lambda e: _private(e, ENGINEER))
        (said,) = _private(emulator, ENGINEER)
        assert "did not answer in time" in said and "unexpected error" not in said, said
        # Slack did post it, late: the public card, not the copy the requester was shown.
        (card,) = [m for m in emulator.messages(CHANNEL) if "awaits" in m.text and not m.ephemeral]
        assert _head(sandbox) == before
        _click(local, card, APPROVE)
        _wait(
            emulator,
            "the card shows the outcome",
            lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text,
            RUN_TIMEOUT_S,
        )
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.message_ts == card.ts  # the clicked card became the plan's card
    assert plan.state is PlanState.DONE


# -- 9. button values carry ids, and Slack's refusals reach the person ----------------------------


def test_a_long_checkpoint_message_gives_a_force_button_within_slack_s_limit(
    sandbox: Sandbox,
) -> None:
    message = "\N{FIRE}" * 199
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command("/checkpoint", f"T+10h {message}", user_id=ENGINEER)
        card = card_with(local.emulator, "refused", timeout=60)
        force = button(card, "checkpoint_force")
        assert len(force["value"]) < 100 and message not in force["value"]
        _click(local, card, "checkpoint_force")
        done = card_with(local.emulator, "Checkpoint phase2-checkpoint-T+10h created", 60)
        assert done.ts == card.ts
        local.deps.work.wait_idle(30)
        forced = [e for e in local.store.timeline(limit=100) if e.action == "checkpoint"]
    tag = git(sandbox.origin, "for-each-ref", "--format=%(contents)", "refs/tags/*T+10h")
    assert tag.strip() == "Phase 2 Checkpoint: 10 hours"
    assert [e.details.get("forced_by") for e in forced] == [ORCHESTRATOR]


def test_a_card_slack_refuses_to_draw_is_explained_to_the_person_privately(
    sandbox: Sandbox,
) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.emulator.refuse("chat.postMessage", "invalid_blocks", channel=CHANNEL)
        local.sender.slash_command("/rollback", "validate", user_id=ENGINEER)
        _wait(local.emulator, "told", lambda e: _private(e, ENGINEER), 60)
        local.deps.work.wait_idle(60)
        said = _private(local.emulator, ENGINEER)
    assert any("Slack refused my message in" in s and "invalid_blocks" in s for s in said), said
    assert any("Validation checklist" in s for s in said), said


def test_reply_tells_in_plain_words_when_slack_refuses_the_private_answer() -> None:
    from bot.slack.replies import Reply

    sent: list[dict[str, object]] = []

    class Refused:
        status_code = 400

    def respond(**message: object) -> Refused:
        sent.append(message)
        return Refused()

    reply = Reply("U0ENG", "C0INCIDENTS", respond, client=None)  # type: ignore[arg-type]
    assert reply.tell({"text": "x", "blocks": [{"type": "bogus"}]}) is False
    assert len(sent) == 2 and "Slack would not show my answer" in str(sent[1]["text"])
    assert json.dumps(sent[1]).count("blocks") == 0
