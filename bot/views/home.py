"""The App Home tab: the same facts as ``/rollback status``, always one click away."""

from __future__ import annotations

from typing import Any

from bot.flows.status import StatusReport
from bot.views.blocks import context
from bot.views.status import build_status_view


def build_home_view(report: StatusReport) -> dict[str, Any]:
    """The home view, with where to find the commands."""
    blocks = build_status_view(report)["blocks"]
    blocks.append(context("Type `/rollback help` in any channel for the commands."))
    return {"type": "home", "blocks": blocks}
