"""Who may do what, and who to tell: orchestrators are named by user ID or user group ID.

Identity is Slack's user ID of whoever clicked (``body["user"]["id"]``), never a display
name. A user group is expanded through ``usergroups.users.list`` at the moment of the check, so
a change of rota in Slack takes effect at once; if Slack cannot answer, the answer is "no".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk import WebClient

from bot.slack.messages import SLACK_FAILURES, slack_problem

log = logging.getLogger("rollback_bot.orchestrators")


def _group_members(client: WebClient, group: str) -> list[str]:
    try:
        members = client.usergroups_users_list(usergroup=group).get("users") or []
    except SLACK_FAILURES as error:
        log.warning(
            "could not read user group %s (%s); not counting it", group, slack_problem(error)
        )
        return []
    return [str(member) for member in members]


def is_orchestrator(user_id: str, *, orchestrators: Sequence[str], client: WebClient) -> bool:
    if user_id in orchestrators:
        return True
    groups = (entry for entry in orchestrators if entry.startswith("S"))
    return any(user_id in _group_members(client, group) for group in groups)


def people_of(entries: Sequence[str], *, client: WebClient) -> list[str]:
    """The user IDs behind a list of user IDs and user group IDs, each once, in order."""
    found: list[str] = []
    for entry in entries:
        for user in _group_members(client, entry) if entry.startswith("S") else [entry]:
            if user not in found:
                found.append(user)
    return found
