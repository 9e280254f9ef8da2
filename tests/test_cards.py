"""Cards that tell the truth in the team's words, through the real path.

Who asked, who approved and who forced; "Nothing is lost" only when nothing is; forced
checkpoints marked; a terminal rollback shown on Slack; checklists that count checks; no line
said twice; a next step on every failure; and the ids only a machine reads kept out of sight.
"""

from __future__ import annotations

import re

from bot.config import load_config
from bot.local.demo.sandbox import TAG_T8, Sandbox
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from bot.views.blocks import unescape
from store import IncidentState
from tests.gitrepo import git
from tests.servehelp import bot_env, run_cli
from tests.test_edge_delivery import _click, _wait
from tests.test_rollback_flow import CHANNEL, card_with

ENGINEER, ORCHESTRATOR = "U0ENG", "U0ORCH"
APPROVE = "rollback_approve_anyway"
RUN_S = 40


def _local(sandbox: Sandbox) -> LocalSlack:
    return LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False)


def _shown(message: Message) -> str:
    return unescape(message.text + "\n" + str(message.blocks))


def _private(local: LocalSlack, user: str = ENGINEER) -> list[str]:
    return [_shown(m) for m in local.emulator.messages() if m.ephemeral_to == user]


def _ask(local: LocalSlack, command: str, text: str, words: str, user: str = ENGINEER) -> str:
    """Send a command; what the asker is privately told, once it says ``words``."""
    local.sender.slash_command(command, text, user_id=user)
    _wait(local.emulator, words, lambda e: any(words in s for s in _private(local, user)), 60)
    return next(s for s in _private(local, user) if words in s)


def _rolled_back(local: LocalSlack, card: Message) -> Message:
    _wait(
        local.emulator,
        "rolled back",
        lambda e: "rolled back" in (e.message(CHANNEL, card.ts) or card).text,
        RUN_S,
    )
    local.deps.work.wait_idle(30)
    done = local.emulator.message(CHANNEL, card.ts)
    assert done is not None
    return done


def test_status_names_who_asked_and_who_approved(sandbox: Sandbox) -> None:
    with _local(sandbox) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
        _click(local, card_with(local.emulator, "awaits approval"), APPROVE)
        _rolled_back(local, card_with(local.emulator, "rolled back", RUN_S))
        said = _ask(local, "/rollback", "status", "Open incidents")
    assert f"asked by <@{ENGINEER}>, approved by <@{ORCHESTRATOR}>" in said, said


def test_nothing_is_lost_is_said_only_when_no_step_was_waived(sandbox: Sandbox) -> None:
    # The migration commit itself: nothing newer than it is a migration, so nothing is waived.
    target = git(sandbox.repo, "log", "--format=%H", "--grep=add deal stage column")
    with _local(sandbox) as local:
        local.sender.slash_command("/rollback", f"to {target}", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
        assert "schema migration" not in _shown(card)
        _click(local, card, APPROVE)
        done = _shown(_rolled_back(local, card))
    assert "Nothing is lost." in done and "database stays ahead" not in done


def test_a_forced_checkpoint_is_marked_in_the_list_status_and_a_plan_to_it(
    sandbox: Sandbox,
) -> None:
    with _local(sandbox) as local:
        local.sender.slash_command("/checkpoint", "T+10h email work", user_id=ENGINEER)
        refused = card_with(local.emulator, "refused", 60)
        _click(local, refused, "checkpoint_force")
        card_with(local.emulator, "phase2-checkpoint-T+10h created", 60)
        # One more commit, so that the forced checkpoint is something to roll back to.
        git(sandbox.repo, "commit", "-q", "--allow-empty", "-m", "feat(phase2): after T+10h")
        listed = _ask(local, "/checkpoint", "list", "Checkpoints")
        status = _ask(local, "/rollback", "status", "Last checkpoints")
        local.sender.slash_command("/rollback", "to T+10h", user_id=ENGINEER)
        plan_card = _shown(card_with(local.emulator, "awaits approval"))
        records = local.store.checkpoint_records(["phase2-checkpoint-T+10h", TAG_T8])
    mark = f"forced past a failing checklist by <@{ORCHESTRATOR}>"
    t10 = next(line for line in listed.split("\\n") if "T+10h" in line)
    assert mark in t10 and mark in status, (listed, status)
    assert (
        "T+10h" in plan_card and "This checkpoint was forced past a failing checklist" in plan_card
    )
    assert records["phase2-checkpoint-T+10h"].forced_by == ORCHESTRATOR
    assert records["phase2-checkpoint-T+10h"].requested_by == ENGINEER
    assert TAG_T8 not in records  # made before the bot knew: no record, no mark


def test_checklist_counts_checks_and_says_each_line_once(sandbox: Sandbox) -> None:
    with _local(sandbox) as local:
        local.sender.slash_command("/rollback", "validate", user_id=ENGINEER)
        first = card_with(local.emulator, "Validation: failing", 60)
        local.deps.work.wait_idle(30)
        card = local.emulator.message(CHANNEL, first.ts) or first
        shown = _shown(card)
    assert "“login, inbox, new deal, search”" in shown  # one flow, its commas quoted
    lines = [
        line
        for block in card.blocks
        for line in str(block.get("text", {}).get("text", "")).splitlines()
    ]
    (slow,) = [line for line in lines if line.startswith(":x: *customers*")]
    assert len(re.findall(r"\d+\.\d\d s", slow)) == 1, slow  # its time said once
    assert "*Next*: open an incident with `/rollback scenario" in shown


def test_a_refusal_says_nothing_was_changed_once(sandbox: Sandbox) -> None:
    git(sandbox.repo, "checkout", "-q", "--detach", "HEAD")
    with _local(sandbox) as local:
        _ask(local, "/rollback", "scenario critical 5 down", "changed")
        (said,) = [m.text for m in local.emulator.messages() if m.ephemeral_to == ENGINEER]
    assert said.lower().count("nothing was changed") == 1, said


def test_cards_keep_machine_ids_out_of_the_way(sandbox: Sandbox) -> None:
    (sandbox.repo / "README.md").write_text("edited\n")
    (sandbox.repo / "notes.md").write_text("new\n")
    with _local(sandbox) as local:
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        card = card_with(local.emulator, "awaits approval")
    blocks = [b for b in card.blocks if b["type"] != "context"]
    readable = unescape(str(blocks))
    assert "fingerprint" not in unescape(str(card.blocks)).lower()
    assert "severity-4-plus" not in readable  # the rule's id is in the small print only
    assert "severity-4-plus" in unescape(str(card.blocks))
    assert "commit(s)" not in readable and "path(s)" not in readable
    assert "changed README.md" in readable and "new notes.md" in readable
    assert "?? " not in readable and " M README" not in readable


def test_near_misses_get_a_suggestion_and_labels_name_checkpoints(sandbox: Sandbox) -> None:
    with _local(sandbox) as local:
        said = _ask(local, "/rollback", "stauts", "Did you mean")
        assert "Did you mean `/rollback status`?" in said
        local.sender.slash_command("/rollback", "to T+8h", user_id=ENGINEER)
        card_with(local.emulator, "awaits approval")
        (incident,) = local.store.list_incidents(states=list(IncidentState))
        (plan,) = local.store.plans_of(incident.id)
    assert plan.body["target_ref"] == TAG_T8


def test_a_terminal_rollback_shows_on_slack_and_retires_the_slack_plan(
    sandbox: Sandbox,
) -> None:
    with _local(sandbox) as local:
        # A plan asked for in Slack, still awaiting approval, when Slack goes quiet...
        local.sender.slash_command("/rollback", "scenario critical 5 down", user_id=ENGINEER)
        stale = card_with(local.emulator, "awaits approval")
        local.deps.work.wait_idle(30)
        # ...and a rollback run from a terminal, with Slack's token and API at hand.
        environ = bot_env(
            SLACK_BOT_TOKEN=local.emulator.bot_token, SLACK_API_URL=local.emulator.api_url
        )
        environ.pop("DATABASE_URL", None)
        cli = [
            "rollback",
            "--to",
            TAG_T8,
            "--yes",
            "--approve-anyway",
            "--config",
            str(sandbox.config_path),
        ]
        result = run_cli(cli, environ, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Its card is posted in Slack" in result.stdout
        posted = [m for m in local.emulator.messages(CHANNEL) if "rolled back" in m.text]
        retired = local.emulator.message(CHANNEL, stale.ts)
    assert len(posted) == 1 and "run from a terminal by os:" in unescape(str(posted[0].blocks))
    assert retired is not None and "replaced: the rollback of incident" in _shown(retired)
    assert "Approve" not in str(retired.blocks)
