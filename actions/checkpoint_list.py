"""The bot's `/checkpoint list`: local checkpoint tags, newest first, and which the remote has.

Two git commands whatever the number of tags: one `for-each-ref` for the local tags (the same
format and patterns as :mod:`actions.git`) and one `ls-remote --tags` for the remote. A remote
that cannot be asked is reported as a problem string, not an exception: the local list is still
worth showing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import git

from actions.errors import GitError
from actions.git import checkpoint_tag_patterns, list_checkpoint_tags
from actions.gitrun import NETWORK_ENV, Deadline, run_git
from actions.refs import require_ref_name


@dataclass(frozen=True)
class CheckpointInfo:
    tag: str
    commit: str
    created_at: datetime | None
    message: str
    on_remote: bool


def list_checkpoints(
    *, repo: git.Repo, remote: str, phase: str, timeout_s: float = 30.0
) -> tuple[CheckpointInfo, ...]:
    """The phase's checkpoints, newest first; on_remote is False for all if the remote is down."""
    checkpoints, _ = list_checkpoints_with_remote_status(
        repo=repo, remote=remote, phase=phase, timeout_s=timeout_s
    )
    return checkpoints


def list_checkpoints_with_remote_status(
    *, repo: git.Repo, remote: str, phase: str, timeout_s: float = 30.0
) -> tuple[tuple[CheckpointInfo, ...], str | None]:
    """Checkpoints, newest first, and why the remote could not be asked (None when it was)."""
    require_ref_name(remote, what="remote name")
    deadline = Deadline(timeout_s)
    patterns = checkpoint_tag_patterns(phase)
    local = list_checkpoint_tags(repo=repo, phase=phase, timeout_s=deadline.left("listing tags"))
    remote_tags: dict[str, str] = {}
    problem: str | None = None
    try:
        call = run_git(
            repo,
            ["ls-remote", "--tags", "--end-of-options", remote, *patterns],
            deadline.left(f"asking {remote} for its tags"),
            env=NETWORK_ENV,
        )
    except GitError as error:
        problem = error.user_message
    else:
        if call.ok:
            for line in call.out.splitlines():
                sha, _, ref = line.partition("\t")
                if ref.startswith("refs/tags/") and not ref.endswith("^{}"):
                    remote_tags[ref[len("refs/tags/") :]] = sha
        else:
            problem = f"Could not ask {remote} for its tags: {call.complaint()}"
    checkpoints = [
        CheckpointInfo(
            tag=tag.name,
            commit=tag.commit,
            created_at=tag.created_at,
            message=tag.message,
            on_remote=remote_tags.get(tag.name) == tag.object_id,
        )
        for tag in local
    ]
    return tuple(checkpoints), problem
