"""Publishing the App Home: to whoever opens it, and again to everyone who looked in the last
day whenever the store has changed since the last publish (a timer checks every few seconds).

The threads' permalinks come from ``chat.getPermalink`` once each and are kept in the store:
a permalink never changes, and asking Slack for five of them on every publish would be slow.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.deps import Deps
from bot.flows.home import (
    HomeReport,
    changed_since_published,
    collect_home,
    mark_published,
    recent_viewers,
)
from bot.slack.messages import SLACK_FAILURES, slack_problem
from bot.views.home import build_home_view

log = logging.getLogger("rollback_bot.home")

PERMALINK_KEY = "permalink:{}:{}"


def publish_home(deps: Deps, client: WebClient, users: list[str]) -> int:
    """Build the Home once and publish it to each of ``users``; how many got it."""
    if not users:
        return 0
    report = collect_home(deps)
    view = build_home_view(report, links=_links(deps, client, report))
    published = 0
    for user in users:
        try:
            client.views_publish(user_id=user, view=view)
            published += 1
        except SLACK_FAILURES as error:
            log.warning("could not publish the App Home for %s: %s", user, slack_problem(error))
    return published


def refresh_homes(deps: Deps, client: WebClient) -> int:
    """Re-publish for the day's viewers if anything happened since the last publish."""
    changed = changed_since_published(deps)
    if changed is None:
        return 0
    published = publish_home(deps, client, recent_viewers(deps))
    mark_published(deps, changed)
    return published


def _links(deps: Deps, client: WebClient, report: HomeReport) -> dict[int, str]:
    links = {}
    for rollback in report.rollbacks:
        where = rollback.thread
        if where is None:
            continue
        key = PERMALINK_KEY.format(*where)
        link = deps.store.read_value(key)
        if link is None:
            try:
                found = client.chat_getPermalink(channel=where[0], message_ts=where[1])
                link = str(found["permalink"])
            except (*SLACK_FAILURES, KeyError) as error:
                log.info("no permalink for incident #%d: %s", rollback.incident.id, error)
                continue
            deps.store.write_value(key, link)
        links[rollback.incident.id] = link
    return links
