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
    _make_append_only(db, "timeline")


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


@migrations()
def m005_plans_and_journal(db: Database) -> None:
    # What a rollback decided and did, on the incident itself, so status and the post-mortem
    # read one row. healthy stays NULL until validation after the rollback has run.
    incidents = db.table("incidents")
    incidents.add_column("decision", str, not_null_default="{}")
    for column in ("from_sha", "to_sha", "target_ref", "backup_branch"):
        incidents.add_column(column, str)
    incidents.add_column("healthy", int)
    _create_plans(db)
    _create_journal(db)


def _create_plans(db: Database) -> None:
    # A plan is what an orchestrator approves. Approval is a compare-and-set on state (and
    # expires_at), so exactly one click wins across threads, processes and replicas.
    plans = db.table("plans")
    plans.create(
        {
            "id": int,
            "incident_id": int,
            "kind": str,
            "body": str,
            "fingerprint": str,
            "requested_by": str,
            "created_at": str,
            "expires_at": str,
            "state": str,
            "approved_by": str,
            "approved_at": str,
            "waived": int,
            "forced": int,
            "attempt": int,
            "channel": str,
            "message_ts": str,
            "result": str,
        },
        pk="id",
        not_null={
            "incident_id",
            "kind",
            "body",
            "fingerprint",
            "requested_by",
            "created_at",
            "expires_at",
            "state",
            "waived",
            "forced",
            "attempt",
            "result",
        },
        defaults={"waived": 0, "forced": 0, "attempt": 0, "result": "{}"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    plans.create_index(["incident_id"])
    plans.create_index(["state"])


def _create_journal(db: Database) -> None:
    # The journal says which steps of which attempt ran, so a crashed rollback can be resumed
    # and audited. Like the timeline, the database itself refuses edits and deletions.
    journal = db.table("journal")
    journal.create(
        {
            "id": int,
            "plan_id": int,
            "attempt": int,
            "step": str,
            "status": str,
            "at": str,
            "before": str,
            "after": str,
            "message": str,
        },
        pk="id",
        not_null={"plan_id", "attempt", "step", "status", "at", "before", "after", "message"},
        defaults={"before": "{}", "after": "{}", "message": ""},
        foreign_keys=[("plan_id", "plans", "id")],
    )
    journal.create_index(["plan_id"])
    _make_append_only(db, "journal")


@migrations()
def m006_checkpoints(db: Database) -> None:
    # Whether each checkpoint the bot made was healthy, and who forced it if not: git keeps
    # the tag, only the bot knows the checklist's verdict behind it.
    db.table("checkpoints").create(
        {
            "tag": str,
            "commit_sha": str,
            "created_at": str,
            "healthy": int,
            "requested_by": str,
            "forced_by": str,
            "failing": str,
        },
        pk="tag",
        not_null={"commit_sha", "created_at", "healthy", "requested_by", "failing"},
        defaults={"failing": "[]"},
    )


@migrations()
def m007_ratings_and_notices(db: Database) -> None:
    # Who set an incident's rating (only an orchestrator lowers an orchestrator's), whether it
    # is a blocker, and how it ended with the lesson it taught.
    incidents = db.table("incidents")
    incidents.add_column("source", str, not_null_default="scenario")
    for column in ("rated_by", "resolution", "resolved_by", "lesson"):
        incidents.add_column(column, str)
    # The messages sent to people about an incident (pages, rating requests), so a decision
    # can retire their buttons wherever they are.
    notices = db.table("notices")
    notices.create(
        {
            "id": int,
            "incident_id": int,
            "kind": str,
            "user": str,
            "channel": str,
            "ts": str,
            "at": str,
        },
        pk="id",
        not_null={"incident_id", "kind", "user", "channel", "ts", "at"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    notices.create_index(["incident_id"])
    # Incidents opened before m007 were rated by whoever opened them.
    db.execute("UPDATE incidents SET rated_by = requester WHERE severity IS NOT NULL")


@migrations()
def m008_postmortems_freezes_retries(db: Database) -> None:
    # One post-mortem per incident: its thread (the card's ts), the summary reply edited as
    # the fields are filled, the fields as JSON (their full text; views cut it), and the
    # checks that were failing before the rollback (its impact, as the log reports it).
    db.table("postmortems").create(
        {
            "incident_id": int,
            "channel": str,
            "thread_ts": str,
            "summary_ts": str,
            "fields": str,
            "impact": str,
            "opened_at": str,
            "updated_at": str,
            "updated_by": str,
            "notified_at": str,
        },
        pk="incident_id",
        not_null={"channel", "fields", "impact", "opened_at", "updated_at"},
        defaults={"fields": "{}", "impact": "[]"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("postmortems").create_index(["channel", "thread_ts"])
    # A rollback freezes the phase once per incident; lifting is a compare-and-set on
    # lifted_at, so two approvals cannot both lift it.
    db.table("freezes").create(
        {
            "id": int,
            "phase": str,
            "incident_id": int,
            "frozen_at": str,
            "frozen_by": str,
            "lifted_at": str,
            "lifted_by": str,
        },
        pk="id",
        not_null={"phase", "incident_id", "frozen_at", "frozen_by"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("freezes").create_index(["incident_id"], unique=True)
    db.table("retries").create(
        {
            "id": int,
            "incident_id": int,
            "requested_by": str,
            "requested_at": str,
            "channel": str,
            "message_ts": str,
            "ticked": str,
            "approved_by": str,
            "approved_at": str,
        },
        pk="id",
        not_null={"incident_id", "requested_by", "requested_at", "ticked"},
        defaults={"ticked": "[]"},
        foreign_keys=[("incident_id", "incidents", "id")],
    )
    db.table("retries").create_index(["incident_id"])


@migrations()
def m009_drills_and_watch(db: Database) -> None:
    # Each practice run of the rollback, in an isolated clone: the confidence table is
    # computed from these, and a high-risk removal needs a recent passing one.
    db.table("drills").create(
        {
            "id": int,
            "scenario": str,
            "started_at": str,
            "finished_at": str,
            "ok": int,
            "duration_s": float,
            "commit_sha": str,
            "verified_by": str,
            "exercised": str,
            "problem": str,
            "actor": str,
        },
        pk="id",
        not_null={
            "scenario",
            "started_at",
            "finished_at",
            "ok",
            "duration_s",
            "exercised",
            "actor",
        },
        defaults={"exercised": "[]"},
    )
    db.table("drills").create_index(["scenario", "id"])
    # The watch's verdict on each commit it checked: the newest green one is where a rollback
    # it proposes goes back to.
    db.table("commit_checks").create(
        {"sha": str, "ok": int, "failing": str, "at": str, "runs": int},
        pk="sha",
        not_null={"ok", "failing", "at", "runs"},
        defaults={"failing": "[]", "runs": 1},
    )


def _make_append_only(db: Database, table: str) -> None:
    """Triggers with which the database itself refuses to edit or delete ``table``'s rows.

    ``table`` is one of this file's literals, never input.
    """
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
