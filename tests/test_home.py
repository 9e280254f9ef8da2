"""The App Home through the real Bolt app: published on ``app_home_opened`` with the freeze, the
open incidents and the rollback's thread link, and published again when the state changes, for
whoever opened it in the last day."""

from __future__ import annotations

from typing import Any

from bot.jobs import HOME_TIMER, ensure_timers
from bot.local.demo.sandbox import Sandbox
from bot.local.loopback import LocalSlack
from tests.test_escalation import Clock, running, tick
from tests.test_postmortem import FILLED, fill_in, rolled_back, summary_of
from tests.test_rollback_flow import told

ENGINEER, ORCHESTRATOR, LEAD = "U0ENG", "U0ORCH", "U0LEAD"


def home_of(local: LocalSlack, user: str, version: int = 0) -> dict[str, Any]:
    def published() -> bool:
        view = local.emulator.home_view(user)
        return (
            view is not None
            and int(str(view.get("hash", "0")).split(".")[0] or 0) >= 0
            and (version == 0 or _publishes(local, user) > version)
        )

    assert local.emulator.wait_for(lambda e: published(), timeout=30)
    view = local.emulator.home_view(user)
    assert view is not None
    return view


def texts(view: dict[str, Any]) -> str:
    return "\n".join(str((block.get("text") or {}).get("text", "")) for block in view["blocks"])


def _publishes(local: LocalSlack, user: str) -> int:
    return sum(1 for c in local.emulator.calls("views.publish") if c.args.get("user_id") == user)


def test_home_shows_the_freeze_and_the_rollback_and_follows_changes(sandbox: Sandbox) -> None:
    clock = Clock()
    with running(sandbox, clock) as (local, scheduler):
        ensure_timers(local.deps)
        card, incident_id = rolled_back(local)
        summary = summary_of(local, card)
        local.sender.event({"type": "app_home_opened", "user": LEAD, "tab": "home"})
        first = texts(home_of(local, LEAD))
        assert "*Frozen*" in first and f"*#{incident_id}*" in first
        assert "post-mortem thread" in first and "slack.com/archives/C0INCIDENTS" in first
        assert "no drills yet" in first
        assert local.emulator.calls("chat.getPermalink")
        fill_in(local, summary, FILLED)
        local.sender.slash_command("/rollback", f"close {incident_id}", user_id=ORCHESTRATOR)
        assert told(local.emulator, ORCHESTRATOR, "is closed")
        local.deps.work.wait_idle(60)
        published = _publishes(local, LEAD)
        clock.advance(seconds=11)
        tick(local, scheduler)
        after = texts(home_of(local, LEAD, published))
        # Nothing changed since: the next tick publishes nothing.
        again = _publishes(local, LEAD)
        clock.advance(seconds=11)
        tick(local, scheduler)
        assert _publishes(local, LEAD) == again
        permalinks = len(local.emulator.calls("chat.getPermalink"))
        timer = local.store.get_timer(HOME_TIMER)
    assert "*Recently closed*\n• #1" in after and "*Open incidents*\nnone" in after
    assert permalinks == 1  # kept in the store after the first time
    assert timer is not None and timer.interval_s == 10.0
