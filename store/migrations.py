"""Versioned schema migrations, applied in order and recorded by sqlite-utils.

Never edit a migration that has shipped: add a new one. Each runs in a transaction with its
record, so a failed migration leaves the database as it was.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("rollback-bot")


@migrations()
def m001_incidents_and_timeline(db: Database) -> None:
    db.table("incidents").create(
        {
            "id": int,
            "scenario": str,
            "severity": str,
            "trigger": str,
            "requester": str,
            "channel": str,
            "state": str,
            "created_at": str,
            "updated_at": str,
            "message_ts": str,
        },
        pk="id",
        not_null={"scenario", "trigger", "requester", "channel", "state", "created_at"},
    )
    db.table("incidents").create_index(["state"])
    db.table("timeline").create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "surface": str,
            "action": str,
            "incident_id": int,
            "details": str,
        },
        pk="id",
        not_null={"at", "actor", "surface", "action", "details"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("timeline").create_index(["incident_id"])
    # The timeline is an audit trail: the database itself refuses edits and deletions.
    db.execute(
        "CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline "
        "BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline "
        "BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END"
    )


@migrations()
def m002_deliveries(db: Database) -> None:
    # One row per Slack delivery the bot has accepted, keyed by what Slack repeats on a retry.
    deliveries = db.table("deliveries")
    deliveries.create({"key": str, "first_seen": str}, pk="key", not_null={"first_seen"})
    deliveries.create_index(["first_seen"])


@migrations()
def m003_timers_and_values(db: Database) -> None:
    # Timers survive restarts: the scheduler claims a due timer with a compare-and-set on due_at,
    # so each firing happens once even with several replicas polling.
    timers = db.table("timers")
    timers.create(
        {
            "name": str,
            "kind": str,
            "due_at": str,
            "interval_s": float,
            "payload": str,
            "fired_count": int,
            "last_fired_at": str,
        },
        pk="name",
        not_null={"kind", "due_at", "payload", "fired_count"},
        defaults={"fired_count": 0, "payload": "{}"},
    )
    timers.create_index(["due_at"])
    # Small named facts the bot carries between runs: last validation verdict, log offsets.
    values = db.table("bot_values")
    values.create({"key": str, "value": str, "updated_at": str}, pk="key", not_null={"value"})


@migrations()
def m004_locks(db: Database) -> None:
    # One destructive operation per repository at a time; the row is the lock, taken by an
    # INSERT that only one writer can win, and visible (owner, reason, since) in status.
    db.table("locks").create(
        {"name": str, "owner": str, "reason": str, "acquired_at": str},
        pk="name",
        not_null={"owner", "reason", "acquired_at"},
    )
