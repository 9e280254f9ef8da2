"""Plans as the store keeps them: JSON bodies that turn back into the exact dataclasses shown.

An approval carries out the plan that was on the card, so what execution reads back must be
field for field what planning produced; :func:`rollback_plan_from_body` rebuilds it and
re-checks its fingerprint, so a body edited in the database is refused rather than obeyed.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from actions.cherry_pick import CherryPickPlan, PickedCommit, pick_fingerprint
from actions.database_plan import DataAtRisk, DatabasePlan, DownMigration, DownScript
from actions.errors import StoreError
from actions.removal import RemovalPlan, removal_fingerprint
from actions.rollback_plan import DiscardedCommit, RollbackPlan, plan_fingerprint
from bot.deps import Deps
from store import Incident, Plan, Surface, TimelineAction

ROLLBACK = "rollback"
CHERRY_PICK = "cherry_pick"
REMOVAL = "removal"
_PLANNED = {
    ROLLBACK: TimelineAction.ROLLBACK_PLANNED,
    CHERRY_PICK: TimelineAction.CHERRY_PICK_PLANNED,
    REMOVAL: TimelineAction.REMOVAL_PLANNED,
}


def store_plan(
    deps: Deps,
    incident: Incident,
    plan: RollbackPlan | CherryPickPlan | RemovalPlan,
    *,
    actor: str,
    surface: Surface,
    channel: str,
) -> Plan:
    """Keep a plan for an orchestrator's decision, expiring, replacing the incident's older one;
    the timeline says what was planned."""
    kind, body, planned = _stored(plan)
    expiry = timedelta(minutes=deps.settings.config.slack.approval_expiry_min)
    record = deps.store.propose_plan(
        incident_id=incident.id,
        kind=kind,
        body=body,
        fingerprint=plan.fingerprint,
        requested_by=actor,
        expires_at=deps.clock() + expiry,
        channel=channel,
    )
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=_PLANNED[kind],
        incident_id=incident.id,
        details={"plan": record.id, **planned},
    )
    return record


def _stored(
    plan: RollbackPlan | CherryPickPlan | RemovalPlan,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(the plan's kind, its body for the store, what the timeline says was planned)."""
    if isinstance(plan, RollbackPlan):
        return ROLLBACK, rollback_plan_body(plan), _rollback_planned(plan)
    if isinstance(plan, RemovalPlan):
        planned = {"head": plan.head_sha, "paths": list(plan.paths), "email": len(plan.email_paths)}
        return REMOVAL, removal_body(plan), planned
    return CHERRY_PICK, cherry_pick_body(plan), _picks_planned(plan)


def _rollback_planned(plan: RollbackPlan) -> dict[str, Any]:
    return {
        "target": plan.target_ref,
        "target_sha": plan.target_sha,
        "head": plan.head_sha,
        "remote_head": plan.remote_head,
        "discarded": plan.discarded_count,
        "dirty": len(plan.dirty_paths),
        "backup_branch": plan.backup_branch,
    }


def _picks_planned(plan: CherryPickPlan) -> dict[str, Any]:
    return {
        "backup_branch": plan.backup_branch,
        "commits": [commit.sha for commit in plan.commits],
        "head": plan.head_sha,
        "remote_head": plan.remote_head,
    }


def incident_of(deps: Deps, record: Plan) -> Incident:
    """The incident a plan belongs to; a plan without one is a damaged store."""
    incident = deps.store.get_incident(record.incident_id)
    if incident is None:
        raise StoreError(f"Plan #{record.id}'s incident #{record.incident_id} is missing.")
    return incident


def rollback_plan_body(plan: RollbackPlan) -> dict[str, Any]:
    body = asdict(plan)
    body["discarded"] = [
        {**asdict(commit), "committed_at": commit.committed_at.isoformat()}
        for commit in plan.discarded
    ]
    for key in ("dirty_paths", "migrations_crossed", "email_matches", "email_files_removed"):
        body[key] = list(body[key])
    return body


def rollback_plan_from_body(body: dict[str, Any]) -> RollbackPlan:
    try:
        plan = RollbackPlan(
            **{
                **body,
                "discarded": tuple(
                    DiscardedCommit(
                        sha=item["sha"],
                        author=item["author"],
                        subject=item["subject"],
                        committed_at=datetime.fromisoformat(item["committed_at"]),
                    )
                    for item in body["discarded"]
                ),
                "dirty_paths": tuple(body["dirty_paths"]),
                "migrations_crossed": tuple(body["migrations_crossed"]),
                "database": _database_from_body(body.get("database")),
                "email_matches": tuple(body.get("email_matches", ())),
                "email_files_removed": tuple(body.get("email_files_removed", ())),
            }
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StoreError(f"The stored rollback plan cannot be read ({error}).") from None
    expected = plan_fingerprint(plan.branch, plan.head_sha, plan.remote_head, plan.target_sha)
    if plan.fingerprint != expected:
        raise StoreError("The stored rollback plan does not match its fingerprint; not used.")
    return plan


def _database_from_body(body: dict[str, Any] | None) -> DatabasePlan | None:
    if body is None:
        return None
    return DatabasePlan(
        table=body["table"],
        migrations=tuple(DownMigration(**item) for item in body["migrations"]),
        scripts=tuple(
            DownScript(path=item["path"], sql=item["sql"], covers=tuple(item["covers"]))
            for item in body["scripts"]
        ),
        command=tuple(body["command"]),
        applied_before=tuple(body["applied_before"]),
        at_risk=tuple(DataAtRisk(**item) for item in body["at_risk"]),
        unavailable=body.get("unavailable", ""),
    )


def cherry_pick_body(plan: CherryPickPlan) -> dict[str, Any]:
    body = asdict(plan)
    body["commits"] = [asdict(commit) for commit in plan.commits]
    return body


def cherry_pick_from_body(body: dict[str, Any]) -> CherryPickPlan:
    try:
        plan = CherryPickPlan(
            **{**body, "commits": tuple(PickedCommit(**item) for item in body["commits"])}
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StoreError(f"The stored cherry-pick plan cannot be read ({error}).") from None
    shas = [commit.sha for commit in plan.commits]
    expected = pick_fingerprint(plan.branch, plan.head_sha, plan.remote_head, plan.backup_sha, shas)
    if plan.fingerprint != expected:
        raise StoreError("The stored cherry-pick plan does not match its fingerprint; not used.")
    return plan


def removal_body(plan: RemovalPlan) -> dict[str, Any]:
    body = asdict(plan)
    for key in ("asked", "paths", "email_paths"):
        body[key] = list(body[key])
    return body


def removal_from_body(body: dict[str, Any]) -> RemovalPlan:
    try:
        plan = RemovalPlan(
            **{
                **body,
                **{key: tuple(body[key]) for key in ("asked", "paths", "email_paths")},
            }
        )
    except (KeyError, TypeError, ValueError) as error:
        raise StoreError(f"The stored removal plan cannot be read ({error}).") from None
    expected = removal_fingerprint(plan.branch, plan.head_sha, plan.remote_head, plan.paths)
    if plan.fingerprint != expected:
        raise StoreError("The stored removal plan does not match its fingerprint; not used.")
    return plan


def body_of(record: Plan) -> RollbackPlan | CherryPickPlan | RemovalPlan:
    """The plan a stored record describes, whichever kind it is."""
    if record.kind == CHERRY_PICK:
        return cherry_pick_from_body(record.body)
    if record.kind == REMOVAL:
        return removal_from_body(record.body)
    return rollback_plan_from_body(record.body)
