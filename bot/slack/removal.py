"""The high-risk removal's thread: one reply under its card per file, as each file's test
ends, and the report at the end.

Each reply is posted once: a key in the store remembers it, so a resumed run (or a card
redrawn after a restart) never repeats one. The card itself is edited by the runner like any
plan's; the thread is what notifies the people following it.
"""

from __future__ import annotations

from slack_sdk import WebClient

from actions.removal import RemovalPlan
from bot.deps import Deps
from bot.flows.removal_steps import BROKE_AT
from bot.flows.rollback_run import Progress
from bot.slack.messages import LiveMessage
from bot.views.blocks import Message, message, section
from bot.views.removal import build_removal_file_view, removal_report

_REPLY_KEY = "removal-reply:{}:{}"
_REPORT_KEY = "removal-report:{}"


class RemovalThread:
    """The replies under one removal's card."""

    def __init__(self, deps: Deps, client: WebClient, plan: RemovalPlan, card: LiveMessage):
        self._deps, self._client, self._plan, self._card = deps, client, plan, card

    def show(self, progress: Progress) -> None:
        """A reply for each file whose outcome is now known and not yet told."""
        for index in range(len(self._plan.paths)):
            if self._settled(progress, index):
                key = _REPLY_KEY.format(progress.plan.id, index)
                self._once(key, build_removal_file_view(self._plan, progress, index))

    def finish(self, progress: Progress) -> None:
        if not progress.finished:
            return
        self.show(progress)
        report = removal_report(self._plan, progress.facts)
        view = message("The removal's report", [section(report)])
        self._once(_REPORT_KEY.format(progress.plan.id), view)

    def _settled(self, progress: Progress, index: int) -> bool:
        facts = progress.facts
        if f"failing:{index}" not in facts:
            return False
        if facts.get(BROKE_AT) != index:
            return True
        # A breaking file is told once it is restored and the service checked again.
        return any(s.name == f"confirm:{index}" and s.status == "done" for s in progress.steps)

    def _once(self, key: str, view: Message) -> None:
        store = self._deps.store
        if store.read_value(key) is not None or self._card.ts is None:
            return
        reply = LiveMessage(self._client, self._card.channel)
        if reply.start({**view, "thread_ts": self._card.ts}):
            store.write_value(key, "1")
