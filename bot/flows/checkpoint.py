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
from dataclasses import dataclass
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
from bot.flows.validation import ValidationReport, run_validation
from store import Surface, TimelineAction

Kind = Literal["checkpoint", "complete", "before"]


@dataclass(frozen=True)
class CheckpointRequest:
    kind: Kind
    hours: int | None
    message: str

    def as_value(self) -> dict[str, Any]:
        """This request as JSON data, kept in the store for a button (see remember_request)."""
        return {"kind": self.kind, "hours": self.hours, "message": self.message}

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
        return cls(kind=kind, hours=hours, message=message)


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
    names = checkpoint_names(
        phase=config.project.phase,
        kind=request.kind,
        hours=request.hours,
        message=request.message,
        started_at=config.project.started_at,
        now=deps.clock(),
    )
    lock = repo_lock_name(deps)
    if not deps.store.acquire_lock(lock, owner=actor, reason=f"checkpoint {names.tag}"):
        held = deps.store.get_lock(lock)
        who = f"{held.reason} by {held.owner}" if held else "another operation"
        raise GitError(f"The repository is busy ({who}); try again when it is done.")
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
            refused = remember_request(deps, request)
            return CheckpointOutcome(request, names, validation, None, None, request_id=refused)
        result = create_checkpoint(
            repo=open_repo(config.git.path),
            remote=config.git.remote,
            branch=config.git.branch,
            names=names,
        )
        _record(
            deps, actor, surface, TimelineAction.CHECKPOINT, names, validation, result, forced_by
        )
        return CheckpointOutcome(request, names, validation, result, forced_by)
    finally:
        deps.store.release_lock(lock, owner=actor)


def checkpoint_now(
    deps: Deps, request: grammar.CheckpointCreate, asker: Asker
) -> CheckpointOutcome:
    """``/checkpoint [T+Nh|complete|before …] [message]``, as the person typed it."""
    wanted = CheckpointRequest(kind=request.kind, hours=request.hours, message=request.message)
    return take_checkpoint(deps, wanted, actor=asker.actor, surface=asker.surface)


def checkpoint_list(deps: Deps) -> tuple[tuple[CheckpointInfo, ...], str | None]:
    config = deps.settings.config
    return list_checkpoints_with_remote_status(
        repo=open_repo(config.git.path), remote=config.git.remote, phase=config.project.phase
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
