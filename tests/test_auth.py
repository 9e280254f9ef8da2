from __future__ import annotations

from slack_sdk import WebClient

from bot.local.emulator import SlackEmulator
from bot.slack.orchestrators import is_orchestrator


def test_is_orchestrator_by_user_id_and_by_user_group() -> None:
    with SlackEmulator(usergroups={"S0ORCHS": ["U0LEAD"]}) as emulator:
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
        assert is_orchestrator("U0ORCH", orchestrators=["U0ORCH"], client=client)
        assert is_orchestrator("U0LEAD", orchestrators=["U0ORCH", "S0ORCHS"], client=client)
        assert not is_orchestrator("U0ENG", orchestrators=["U0ORCH", "S0ORCHS"], client=client)
        assert [c.method for c in emulator.calls()] == ["usergroups.users.list"] * 2


def test_is_orchestrator_says_no_when_slack_cannot_answer() -> None:
    with SlackEmulator() as emulator:
        client = WebClient(token="xoxb-wrong", base_url=emulator.api_url)
        assert not is_orchestrator("U0LEAD", orchestrators=["S0ORCHS"], client=client)
