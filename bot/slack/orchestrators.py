"""Who may do what: orchestrators are named in the config by user ID or user group ID.

Identity is Slack's user ID of whoever clicked (``body["user"]["id"]``), never a display
name. A user group is expanded through ``usergroups.users.list`` at the moment of the check, so
a change of rota in Slack takes effect at once; if Slack cannot answer, the answer is "no".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger("rollback_bot.auth")


def is_orchestrator(user_id: str, *, orchestrators: Sequence[str], client: WebClient) -> bool:
    if user_id in orchestrators:
        return True
    for group in (entry for entry in orchestrators if entry.startswith("S")):
        try:
            members = client.usergroups_users_list(usergroup=group).get("users") or []
        except (SlackApiError, SlackClientError) as error:
            log.warning(
                "could not read user group %s (%s); not counting it", group, type(error).__name__
            )
            continue
        if user_id in members:
            return True
    return False
