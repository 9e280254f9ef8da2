"""Checkpoints as the procedure's git strategy: validate, then commit, tag and push, recorded.

The repository lock is held from the checklist to the push, so no rollback can start between
"the service is healthy" and the tag that says so. A failing checklist refuses the checkpoint
unless an orchestrator forces it, and the timeline says who did.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from actions.checkpoint import (
    CheckpointInfo,
    CheckpointNames,
    CheckpointResult,
    checkpoint_names,
    create_checkpoint,
    list_checkpoints_with_remote_status,
)
from actions.checks.result import CheckResult
from actions.errors import GitError, InputError
from actions.git import open_repo
from bot import grammar
from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.retry import refuse_if_frozen
from bot.flows.validation import ValidationReport, run_validation
from store import CheckpointRecord, Surface, TimelineAction

Kind = Literal["checkpoint", "complete", "before"]


@dataclass(frozen=True)
class CheckpointRequest:
    kind: Kind
    hours: int | None
    message: str
    #: Who asked, when it is not whoever runs it (an orchestrator forcing someone's request).
    requested_by: str = ""

    def as_value(self) -> dict[str, Any]:
        """This request as JSON data, kept in the store for a button (see remember_request)."""
        value: dict[str, Any] = {"kind": self.kind, "hours": self.hours, "message": self.message}
        if self.requested_by:
            value["requested_by"] = self.requested_by
        return value

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> CheckpointRequest:
        kind = value.get("kind")
        hours = value.get("hours")
        message = value.get("message", "")
        if kind not in ("checkpoint", "complete", "before") or not isinstance(message, str):
            raise InputError(NOT_A_CHECKPOINT_BUTTON)
        # bool is an int in Python: "hours": true must not become the tag T+Trueh.
        bad_hours = not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 999
        if hours is not None and bad_hours:
            raise InputError(NOT_A_CHECKPOINT_BUTTON)
        requested_by = value.get("requested_by", "")
        if not isinstance(requested_by, str):
            raise InputError(NOT_A_CHECKPOINT_BUTTON)
        return cls(kind=kind, hours=hours, message=message, requested_by=requested_by)


@dataclass(frozen=True)
class CheckpointOutcome:
    request: CheckpointRequest
    names: CheckpointNames
    validation: ValidationReport
    result: CheckpointResult | None  # None: refused because the checklist failed
    forced_by: str | None
    #: What a "Force checkpoint" button on a refusal carries (see remember_request).
    request_id: str | None = None

    @property
    def refused(self) -> bool:
        return self.result is None


_REQUEST_KEY = "checkpoint_request:{}"
_REQUEST_ID_RE = re.compile(r"^[0-9a-f]{16}$")
NOT_A_CHECKPOINT_BUTTON = "That button does not describe a checkpoint; nothing was changed."


def remember_request(deps: Deps, request: CheckpointRequest) -> str:
    """Keep a request for a button to repeat, and return the id the button carries.

    A button's value is limited to 2,000 characters and a checkpoint message is the person's
    text, so buttons carry this id, never the text.
    """
    request_id = secrets.token_hex(8)
    deps.store.write_value(_REQUEST_KEY.format(request_id), json.dumps(request.as_value()))
    return request_id


def recall_request(deps: Deps, value: Mapping[str, Any]) -> CheckpointRequest:
    """The request a button's id stands for; InputError for a forged or unknown one."""
    request_id = value.get("request")
    if not isinstance(request_id, str) or not _REQUEST_ID_RE.fullmatch(request_id):
        raise InputError(NOT_A_CHECKPOINT_BUTTON)
    stored = deps.store.read_value(_REQUEST_KEY.format(request_id))
    if stored is None:
        raise InputError(NOT_A_CHECKPOINT_BUTTON)
    return CheckpointRequest.from_value(json.loads(stored))


def busy_with(deps: Deps, lock: str) -> str:
    """What holds the repository, in words: "a rollback of incident #3", "checkpoint T+8h, by
    @U0ENG"."""
    held = deps.store.get_lock(lock)
    if held is None:
        return "another operation"
    person = lock_holder(held.owner)
    return f"{held.reason}, under way" if person is None else f"{held.reason}, by @{person}"


#: Lock owners that are the bot's own work: a rollback's run, or what a person started.
_BOT_OWNED = ("rollback:",)
_STARTED_BY = ("drill:", "bisect:", "rollback-log:", "watch:")


def lock_holder(owner: str) -> str | None:
    """Who holds a lock, as a person to name: None for a rollback's own run; for a drill or a
    log commit, whoever started it; otherwise the owner itself."""
    if owner.startswith(_BOT_OWNED):
        return None
    for prefix in _STARTED_BY:
        if owner.startswith(prefix):
            return owner.removeprefix(prefix)
    return owner


def repo_lock_name(deps: Deps) -> str:
    return f"repo:{deps.settings.config.git.path}"


def take_checkpoint(
    deps: Deps,
    request: CheckpointRequest,
    *,
    actor: str,
    surface: Surface,
    forced_by: str | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> CheckpointOutcome:
    config = deps.settings.config
    if request.kind == "complete":
        refuse_if_frozen(deps, what="finishing the phase", actor=actor, surface=surface)
    names = checkpoint_names(
        phase=config.project.phase,
        kind=request.kind,
        hours=request.hours,
        message=request.message,
        started_at=config.project.started_at,
        now=deps.clock(),
    )
    lock = repo_lock_name(deps)
    requester = request.requested_by or actor
    if not deps.store.acquire_lock(lock, owner=actor, reason=f"checkpoint {names.label}"):
        raise GitError(
            f"The repository is busy ({busy_with(deps, lock)}); try again when it is done."
        )
    try:
        validation = run_validation(deps, actor=actor, surface=surface, on_result=on_result)
        if not validation.ok and forced_by is None:
            _record(
                deps,
                actor,
                surface,
                TimelineAction.CHECKPOINT_REFUSED,
                names,
                validation,
                None,
                None,
            )
            asked = replace(request, requested_by=requester)
            refused = remember_request(deps, asked)
            return CheckpointOutcome(asked, names, validation, None, None, request_id=refused)
        result = create_checkpoint(
            repo=open_repo(config.git.path),
            remote=config.git.remote,
            branch=config.git.branch,
            names=names,
        )
        _record(
            deps, actor, surface, TimelineAction.CHECKPOINT, names, validation, result, forced_by
        )
        _remember_checkpoint(deps, names, result, validation, requester, forced_by)
        asked = replace(request, requested_by=requester)
        return CheckpointOutcome(asked, names, validation, result, forced_by)
    finally:
        deps.store.release_lock(lock, owner=actor)


def checkpoint_now(
    deps: Deps, request: grammar.CheckpointCreate, asker: Asker
) -> CheckpointOutcome:
    """``/checkpoint [T+Nh|complete|before …] [message]``, as the person typed it."""
    wanted = CheckpointRequest(kind=request.kind, hours=request.hours, message=request.message)
    return take_checkpoint(deps, wanted, actor=asker.actor, surface=asker.surface)


@dataclass(frozen=True)
class CheckpointListing:
    """The phase's checkpoint tags, whether the remote has them, and what the bot knows of each
    (was its checklist green, who forced it)."""

    infos: tuple[CheckpointInfo, ...]
    remote_problem: str | None
    records: Mapping[str, CheckpointRecord]


def checkpoint_list(deps: Deps) -> CheckpointListing:
    config = deps.settings.config
    infos, problem = list_checkpoints_with_remote_status(
        repo=open_repo(config.git.path), remote=config.git.remote, phase=config.project.phase
    )
    records = deps.store.checkpoint_records([info.tag for info in infos])
    return CheckpointListing(infos, problem, records)


def _remember_checkpoint(
    deps: Deps,
    names: CheckpointNames,
    result: CheckpointResult,
    validation: ValidationReport,
    requester: str,
    forced_by: str | None,
) -> None:
    """What only the bot knows of a new checkpoint: its checklist's verdict, who forced it."""
    deps.store.record_checkpoint(
        tag=names.tag,
        commit=result.commit,
        healthy=validation.ok,
        requested_by=requester,
        forced_by=forced_by,
        failing=[r.name for r in validation.checklist.failing],
    )


def _record(
    deps: Deps,
    actor: str,
    surface: Surface,
    action: TimelineAction,
    names: CheckpointNames,
    validation: ValidationReport,
    result: CheckpointResult | None,
    forced_by: str | None,
) -> None:
    details: dict[str, Any] = {
        "label": names.label,
        "tag": names.tag,
        "verdict": "pass" if validation.ok else "fail",
        "failing": [r.name for r in validation.checklist.failing],
    }
    if result is not None:
        details.update(commit=result.commit, committed=result.committed, pushed=result.push_summary)
    if forced_by is not None:
        details["forced_by"] = forced_by
    deps.store.append_event(actor=actor, surface=surface, action=action, details=details)
