"""Four eyes, always possible: who can approve a rollback that an orchestrator asked for.

With ``slack.requester_can_approve`` off, whoever asks never approves their own rollback. With one
orchestrator, that would leave a rollback they ask for with nobody in Slack to approve it, so
``escalation.fallback`` may approve exactly those plans, and the terminal (``rollback-bot
rollback``, on the bot's host) stays the break-glass path. Start-up warns when neither exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.config.model import Config

BREAK_GLASS = "rollback-bot rollback --to <target>"


def sole_orchestrator(orchestrators: Sequence[str]) -> str | None:
    """The one orchestrator, when the list names exactly one person; None for several or for a
    user group (whose members only Slack knows)."""
    people = set(orchestrators)
    if len(people) != 1 or any(entry.startswith("S") for entry in people):
        return None
    return next(iter(people))


def fallback_may_approve(config: Config, requester: str) -> bool:
    """escalation.fallback stands in for the second pair of eyes: the requester is the only
    orchestrator and may not approve their own."""
    if config.slack.requester_can_approve or not config.escalation.fallback:
        return False
    return sole_orchestrator(config.slack.orchestrators) == requester


def second_approver_warning(config: Config) -> str | None:
    """Why a rollback the orchestrator asks for could not be approved in Slack, if it could not."""
    if config.slack.requester_can_approve:
        return None
    sole = sole_orchestrator(config.slack.orchestrators)
    if sole is None or any(person != sole for person in config.escalation.fallback):
        return None
    return (
        f"slack.orchestrators names only {sole} and slack.requester_can_approve is off: a "
        f"rollback {sole} asks for can be approved by nobody in Slack, only from a terminal on "
        f"this host ({BREAK_GLASS}). Name a second orchestrator, or set escalation.fallback."
    )
