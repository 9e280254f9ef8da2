"""Driving ``rollback-bot serve`` (a real process) on the demo sandbox from the loopback Slack.

A :class:`Harness` holds the sandbox (a real repository, its bare origin and the demo service),
the emulator, and every ``serve`` started; the helpers send signed requests and wait, bounded,
for what the bot posts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import load_config
from bot.local.demo.sandbox import (
    ORCHESTRATOR,
    TAG_T8,
    Sandbox,
    build_sandbox,
    start_service,
    stop_service,
)
from bot.local.emulator import Message, SlackEmulator, SlackSender
from tests.conftest import SIGNING_SECRET
from tests.gitrepo import git
from tests.servehelp import ServeProcess, bot_env, free_port

CHANNEL = "C0INCIDENTS"
ENGINEER = "U0ENG"
APPROVE = "rollback_approve_anyway"  # the sandbox's history crosses a schema migration
RESUME = "rollback_resume"
WIP_PATH = "server/wip.ts"
WIP_TEXT = "export const halfDone = true\n"
TRACKED_PATH = "docs/migration-status.md"
TRACKED_EXTRA = "- Phase 2 T+10h: deal stages half migrated (not committed)\n"
RUN_TIMEOUT_S = 60  # a whole rollback, service restart and checklist included
KILL_TIMEOUT_S = 60
CLICK_TIMEOUT_S = 15


# -- harness -------------------------------------------------------------------------------------


@dataclass
class Harness:
    """The sandbox, the loopback Slack and every ``serve`` started, all stopped in teardown."""

    sandbox: Sandbox
    emulator: SlackEmulator
    processes: list[ServeProcess] = field(default_factory=list)
    senders: list[SlackSender] = field(default_factory=list)

    def serve(self, **extra_env: str) -> tuple[ServeProcess, SlackSender]:
        env = bot_env(
            SLACK_BOT_TOKEN=self.emulator.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.emulator.api_url,
            **extra_env,
        )
        process = ServeProcess(self.sandbox.config_path, env)
        self.processes.append(process)
        process.wait_healthy(timeout=30)
        sender = SlackSender(
            events_url=process.url + "/slack/events",
            signing_secret=SIGNING_SECRET,
            emulator=self.emulator,
        )
        self.senders.append(sender)
        return process, sender

    def close(self) -> None:
        for sender in self.senders:
            sender.close()
        for process in self.processes:
            process.stop()  # SIGTERM, then SIGKILL after 10 s; a dead one is only reaped


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    sandbox = build_sandbox(tmp_path / "sandbox", service_port=free_port())
    start_service(sandbox)
    try:
        with SlackEmulator() as emulator:
            running = Harness(sandbox, emulator)
            try:
                yield running
            finally:
                running.close()
    finally:
        stop_service(sandbox)


@dataclass(frozen=True)
class Before:
    """The sandbox as it was before the rollback."""

    head: str
    checkpoint: str
    service_pid: int


def dirty_the_sandbox(sandbox: Sandbox) -> Before:
    """An uncommitted change to a tracked file and an untracked file, as an engineer leaves them."""
    work = sandbox.repo
    with (work / TRACKED_PATH).open("a", encoding="utf-8") as tracked:
        tracked.write(TRACKED_EXTRA)
    (work / WIP_PATH).write_text(WIP_TEXT, encoding="utf-8")
    status = git(work, "status", "--porcelain").splitlines()  # git() strips the leading blank
    assert [line.strip() for line in status] == [f"M {TRACKED_PATH}", f"?? {WIP_PATH}"]
    return Before(
        head=git(work, "rev-parse", "HEAD"),
        checkpoint=git(work, "rev-parse", f"{TAG_T8}^{{commit}}"),
        service_pid=service_health(sandbox)["pid"],
    )


# -- Slack helpers -------------------------------------------------------------------------------


def channel_messages(emulator: SlackEmulator) -> list[Message]:
    return [m for m in emulator.messages(CHANNEL) if not m.deleted and not m.ephemeral]


def card_with(emulator: SlackEmulator, words: str, timeout: float = CLICK_TIMEOUT_S) -> Message:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in channel_messages(e) if words in m.text]

    assert emulator.wait_for(lambda e: bool(found(e)), timeout=timeout), [
        m.text for m in emulator.messages()
    ]
    return found(emulator)[-1]


def buttons(message: Message) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def with_button(emulator: SlackEmulator, action_id: str) -> list[Message]:
    return [m for m in channel_messages(emulator) if action_id in buttons(m)]


def told(emulator: SlackEmulator, user: str, words: str, timeout: float = CLICK_TIMEOUT_S) -> bool:
    return emulator.wait_for(
        lambda e: any(m.ephemeral_to == user and words in m.text for m in e.messages()),
        timeout=timeout,
    )


def click(
    emulator: SlackEmulator, sender: SlackSender, message: Message, action_id: str, user: str
) -> None:
    sent = sender.block_action(
        user_id=user,
        action=buttons(message)[action_id],
        message=emulator.message_payload(message),
    )
    assert sent.status == 200, sent


def wait_card_text(
    emulator: SlackEmulator, card: Message, words: str, timeout: float = RUN_TIMEOUT_S
) -> Message:
    def current(e: SlackEmulator) -> Message:
        return e.message(CHANNEL, card.ts) or card

    assert emulator.wait_for(lambda e: words in current(e).text, timeout=timeout), (
        current(emulator).text,
        [m.text for m in emulator.messages()],
    )
    return current(emulator)


def request_rollback(harness: Harness, sender: SlackSender) -> Message:
    """`/rollback scenario critical 4`: severity 4 means roll back now (no fix window first)."""
    sent = sender.slash_command("/rollback", "scenario critical 4", user_id=ENGINEER)
    assert sent.status == 200, sent
    card = card_with(harness.emulator, "awaits approval")
    rendered = str(card.blocks)
    assert "severity-4-plus" in rendered, rendered
    assert TAG_T8 in rendered and f"<@{ORCHESTRATOR}>" in rendered, rendered
    assert WIP_PATH in rendered and TRACKED_PATH in rendered, rendered  # the dirty work is named
    assert set(buttons(card)) == {APPROVE, "rollback_reject"}, buttons(card)
    return card


def service_health(sandbox: Sandbox) -> dict[str, Any]:
    path = load_config(sandbox.config_path).service.health_path
    answer = httpx.get(sandbox.base_url + path, timeout=5)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
