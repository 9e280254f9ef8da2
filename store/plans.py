"""Plans on SQLite, mixed into :class:`store.sqlite.SqliteStore` (their journal is in
:mod:`store.journal`).

A plan is what an orchestrator approves. Every move of its state is a compare-and-set decided
inside SQLite (``UPDATE ... WHERE state = ...``), so one approval click wins even when Slack
retries, two orchestrators click together, or several replicas share the file. ``attempt``
fences workers: a resume bumps it, and a worker left over from an earlier attempt can no
longer stop or finish the plan.

A plan's move and the matching incident state change happen in one ``BEGIN IMMEDIATE``
transaction (:func:`immediate`), so nobody ever sees an approved plan on an incident that
still says it awaits approval.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from actions.errors import StoreError
from store.models import IncidentState, Plan, PlanState
from store.parts import StorePart
from store.rows import dicts, to_json
from store.stamps import parse_stamp, stamp

PLAN_KINDS = ("rollback", "cherry_pick", "removal")
#: Kinds whose incident moves with the plan (awaiting approval, under way, stopped).
_FOLLOWED = ("rollback", "removal")
# A plan in one of these states has been approved and has not finished: it may hold the
# repository half rolled back, so no new plan may be proposed for its incident.
UNDER_WAY = (PlanState.RUNNING, PlanState.STOPPED)


@contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """One write transaction over several statements; any exception rolls all of it back.

    Not ``db.atomic()``: that issues a plain (deferred) ``BEGIN``, and a deferred transaction
    that reads before it writes cannot wait for the write lock. If another writer commits in
    between, SQLite answers SQLITE_BUSY at once, busy timeout or not. ``BEGIN IMMEDIATE``
    takes the write lock first, waiting up to the busy timeout, so what the transaction reads
    is still true when it writes.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        _rollback(db.conn)
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        _rollback(db.conn)
        raise


def _rollback(connection: sqlite3.Connection) -> None:
    # Some errors (a full disk, an interrupted statement) already ended the transaction.
    if connection.in_transaction:
        connection.execute("ROLLBACK")


class PlanStore(StorePart):
    """Plans from proposal to their end, each move a compare-and-set."""

    # -- plans -----------------------------------------------------------------------------------

    def propose_plan(
        self,
        *,
        incident_id: int,
        kind: str,
        body: Mapping[str, Any],
        fingerprint: str,
        requested_by: str,
        expires_at: datetime,
        channel: str | None = None,
    ) -> Plan:
        """Store a new PROPOSED plan; the incident's earlier proposals can no longer be approved.

        Superseding in the same transaction means an old card's Approve button cannot win
        after a newer plan was shown. Refused while a plan of the incident is under way: its
        repository may be half rolled back, and only Resume or Abort may touch it.
        """
        if kind not in PLAN_KINDS:
            raise ValueError(f"unknown plan kind {kind!r}; expected one of {PLAN_KINDS}")
        encoded = self._json(body)
        now, deadline = stamp(self._clock()), stamp(expires_at)
        with self._guard("propose a plan"), immediate(self._db()) as db:
            exists = db.execute("SELECT 1 FROM incidents WHERE id = ?", [incident_id]).fetchone()
            if exists is None:
                raise StoreError(f"Could not propose a plan: there is no incident {incident_id}.")
            busy = db.execute(
                "SELECT id, state FROM plans WHERE incident_id = ? AND state IN (?, ?) "
                "ORDER BY id LIMIT 1",
                [incident_id, *UNDER_WAY],
            ).fetchone()
            if busy is not None:
                raise StoreError(
                    f"A rollback for incident {incident_id} is already under way "
                    f"(plan {busy[0]} is {busy[1]}); resume or abort it first."
                )
            db.execute(
                "UPDATE plans SET state = ? WHERE incident_id = ? AND state = ?",
                [PlanState.SUPERSEDED, incident_id, PlanState.PROPOSED],
            )
            cursor = db.execute(
                "INSERT INTO plans (incident_id, kind, body, fingerprint, requested_by, "
                "created_at, expires_at, state, channel) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'proposed', ?)",
                [incident_id, kind, encoded, fingerprint, requested_by, now, deadline, channel],
            )
            if kind in _FOLLOWED:
                db.execute(
                    "UPDATE incidents SET state = ?, updated_at = ? WHERE id = ?",
                    [IncidentState.AWAITING_APPROVAL, now, incident_id],
                )
        plan = self.get_plan(int(cursor.lastrowid or 0))
        assert plan is not None
        return plan

    def get_plan(self, plan_id: int) -> Plan | None:
        with self._guard("read a plan"):
            rows = dicts(self._db().execute("SELECT * FROM plans WHERE id = ?", [plan_id]))
        return _plan(rows[0]) if rows else None

    def plans_of(self, incident_id: int) -> list[Plan]:
        """Every plan of the incident, oldest first."""
        with self._guard("read plans"):
            rows = dicts(
                self._db().execute(
                    "SELECT * FROM plans WHERE incident_id = ? ORDER BY id", [incident_id]
                )
            )
        return [_plan(row) for row in rows]

    def unfinished_plans(self) -> list[Plan]:
        """Plans approved and not finished, oldest first: what a restarted bot must offer to
        resume (a RUNNING row after a restart means the bot died mid-way)."""
        with self._guard("read plans"):
            rows = dicts(
                self._db().execute(
                    "SELECT * FROM plans WHERE state IN (?, ?) ORDER BY id", [*UNDER_WAY]
                )
            )
        return [_plan(row) for row in rows]

    def done_plans(self, kind: str) -> list[Plan]:
        """Plans of ``kind`` that finished DONE, oldest first."""
        with self._guard("read plans"):
            rows = dicts(
                self._db().execute(
                    "SELECT * FROM plans WHERE kind = ? AND state = ? ORDER BY id",
                    [kind, PlanState.DONE],
                )
            )
        return [_plan(row) for row in rows]

    def set_plan_message(self, plan_id: int, *, channel: str, ts: str) -> None:
        """Remember the plan's card, so later state changes can update it in place."""
        with self._guard("update a plan"):
            self._db().execute(
                "UPDATE plans SET channel = ?, message_ts = ? WHERE id = ?", [channel, ts, plan_id]
            )

    def approve_plan(
        self,
        plan_id: int,
        *,
        approver: str,
        now: datetime,
        waived: bool = False,
        forced: bool = False,
    ) -> bool:
        """Approve a PROPOSED, unexpired plan; True only for the one caller that won.

        The expiry is checked in the same statement, so a card left open past its expiry can
        never start a rollback on a repository that has moved on since.
        """
        with self._guard("approve a plan"), immediate(self._db()) as db:
            cursor = db.execute(
                "UPDATE plans SET state = ?, attempt = 1, approved_by = ?, approved_at = ?, "
                "waived = ?, forced = ? WHERE id = ? AND state = ? AND expires_at > ?",
                [
                    PlanState.RUNNING,
                    approver,
                    stamp(now),
                    int(waived),
                    int(forced),
                    plan_id,
                    PlanState.PROPOSED,
                    stamp(now),
                ],
            )
            won = cursor.rowcount == 1
            if won:
                self._follow(db, plan_id, IncidentState.ROLLING_BACK)
        return won

    def supersede_proposed(self, *, except_plan_id: int) -> list[Plan]:
        """Retire every other PROPOSED plan: once one runs, they no longer describe the
        repository. Their incidents stay open for a fresh plan; returns the plans retired."""
        with self._guard("retire plans"), immediate(self._db()) as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM plans WHERE state = ? AND id != ?",
                    [PlanState.PROPOSED, except_plan_id],
                ).fetchall()
            ]
            for plan_id in ids:
                db.execute(
                    "UPDATE plans SET state = ? WHERE id = ? AND state = ?",
                    [PlanState.SUPERSEDED, plan_id, PlanState.PROPOSED],
                )
                # A rollback's incident waits for a fresh plan; a removal was only ever its plan.
                kind = db.execute("SELECT kind FROM plans WHERE id = ?", [plan_id]).fetchone()[0]
                after = IncidentState.REJECTED if kind == "removal" else IncidentState.OPEN
                self._follow(db, plan_id, after, only_from=IncidentState.AWAITING_APPROVAL)
        return [plan for plan in (self.get_plan(plan_id) for plan_id in ids) if plan]

    def withdraw_plans(self, incident_id: int) -> list[Plan]:
        """Retire the incident's PROPOSED plans (it was resolved, or its rating no longer calls
        for a rollback); the incident's state is the caller's to set. The plans retired."""
        with self._guard("withdraw plans"):
            rows = self._db().execute(
                "UPDATE plans SET state = ? WHERE incident_id = ? AND state = ? RETURNING id",
                [PlanState.SUPERSEDED, incident_id, PlanState.PROPOSED],
            )
            ids = [row[0] for row in rows.fetchall()]
        return [plan for plan in (self.get_plan(plan_id) for plan_id in ids) if plan]

    def reject_plan(self, plan_id: int, *, by: str, now: datetime) -> bool:
        """Reject a PROPOSED plan; the decider is kept in approved_by/approved_at for the audit."""
        with self._guard("reject a plan"), immediate(self._db()) as db:
            cursor = db.execute(
                "UPDATE plans SET state = ?, approved_by = ?, approved_at = ? "
                "WHERE id = ? AND state = ?",
                [PlanState.REJECTED, by, stamp(now), plan_id, PlanState.PROPOSED],
            )
            won = cursor.rowcount == 1
            if won:
                self._follow(
                    db, plan_id, IncidentState.REJECTED, only_from=IncidentState.AWAITING_APPROVAL
                )
        return won

    def stop_plan(self, plan_id: int, *, attempt: int, result: Mapping[str, Any]) -> bool:
        """Halt the running attempt (a step failed); only Resume or Abort may move it on."""
        encoded = self._json(result)
        with self._guard("stop a plan"), immediate(self._db()) as db:
            cursor = db.execute(
                "UPDATE plans SET state = ?, result = ? WHERE id = ? AND state = ? AND attempt = ?",
                [PlanState.STOPPED, encoded, plan_id, PlanState.RUNNING, attempt],
            )
            won = cursor.rowcount == 1
            if won:
                self._follow(db, plan_id, IncidentState.STOPPED)
        return won

    def resume_plan(self, plan_id: int, *, expected_attempt: int) -> int | None:
        """Start the next attempt; its number, or None if someone else resumed or finished first.

        RUNNING is accepted as well as STOPPED because a bot that crashed mid-way leaves the
        row RUNNING. The result of the last stop is kept until the plan finishes.
        """
        with self._guard("resume a plan"), immediate(self._db()) as db:
            cursor = db.execute(
                "UPDATE plans SET state = ?, attempt = attempt + 1 "
                "WHERE id = ? AND state IN (?, ?) AND attempt = ?",
                [PlanState.RUNNING, plan_id, *UNDER_WAY, expected_attempt],
            )
            won = cursor.rowcount == 1
            if won:
                self._follow(db, plan_id, IncidentState.ROLLING_BACK)
        return expected_attempt + 1 if won else None

    def finish_plan(
        self, plan_id: int, *, attempt: int, state: PlanState, result: Mapping[str, Any]
    ) -> bool:
        """End the plan as DONE or ABORTED; False if another attempt owns it or it already ended.

        The incident is left alone: what the rollback did to it is :meth:`record_rollback`'s.
        """
        if state not in (PlanState.DONE, PlanState.ABORTED):
            raise ValueError(f"a plan finishes as done or aborted, not {state}")
        encoded = self._json(result)
        with self._guard("finish a plan"):
            cursor = self._db().execute(
                "UPDATE plans SET state = ?, result = ? "
                "WHERE id = ? AND state IN (?, ?) AND attempt = ?",
                [state, encoded, plan_id, *UNDER_WAY, attempt],
            )
        return cursor.rowcount == 1

    def record_rollback(
        self,
        incident_id: int,
        *,
        state: IncidentState,
        from_sha: str | None,
        to_sha: str | None,
        target_ref: str | None,
        backup_branch: str | None,
        healthy: bool | None,
    ) -> None:
        """Write what the rollback did on the incident, so status and post-mortems read one row."""
        flag = None if healthy is None else int(healthy)
        now = stamp(self._clock())
        with self._guard("record a rollback"):
            cursor = self._db().execute(
                "UPDATE incidents SET state = ?, from_sha = ?, to_sha = ?, target_ref = ?, "
                "backup_branch = ?, healthy = ?, updated_at = ? WHERE id = ?",
                [state, from_sha, to_sha, target_ref, backup_branch, flag, now, incident_id],
            )
        if cursor.rowcount != 1:
            raise StoreError(f"Could not record a rollback: there is no incident {incident_id}.")

    # -- helpers ---------------------------------------------------------------------------------

    def _json(self, value: Mapping[str, Any] | None) -> str:
        return to_json(value, secrets=self._secrets)

    def _follow(
        self,
        db: Database,
        plan_id: int,
        new: IncidentState,
        *,
        only_from: IncidentState | None = None,
    ) -> None:
        """Move a rollback's or a removal's incident along with the plan; a cherry-pick leaves
        its incident alone."""
        sql = (
            "UPDATE incidents SET state = ?, updated_at = ? "
            "WHERE id = (SELECT incident_id FROM plans WHERE id = ? AND kind IN (?, ?))"
        )
        params: list[Any] = [new, stamp(self._clock()), plan_id, *_FOLLOWED]
        if only_from is not None:
            sql += " AND state = ?"
            params.append(only_from)
        db.execute(sql, params)


def _plan(row: Mapping[str, Any]) -> Plan:
    return Plan(
        id=row["id"],
        incident_id=row["incident_id"],
        kind=row["kind"],
        body=json.loads(row["body"]),
        fingerprint=row["fingerprint"],
        requested_by=row["requested_by"],
        created_at=parse_stamp(row["created_at"]),
        expires_at=parse_stamp(row["expires_at"]),
        state=PlanState(row["state"]),
        approved_by=row["approved_by"],
        approved_at=parse_stamp(row["approved_at"]) if row["approved_at"] else None,
        waived=bool(row["waived"]),
        forced=bool(row["forced"]),
        attempt=row["attempt"],
        channel=row["channel"],
        message_ts=row["message_ts"],
        result=json.loads(row["result"]),
    )
