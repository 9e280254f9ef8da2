"""Checkpoints: the procedure's `git add . && git commit && git tag -a && git push`, made safe.

Nothing changes until every pre-check has passed. Then the index is staged and committed, the
annotated tag is created, and branch and tag go to the remote in one atomic push. If anything
fails after the first change, the local changes are taken back exactly (branch by
compare-and-swap, index from its saved copy, only our own tag object), so a refused checkpoint
leaves the repository as it found it. The working tree is only ever read.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace

import git

from actions.checkpoint_list import (
    CheckpointInfo,
    list_checkpoints,
    list_checkpoints_with_remote_status,
)
from actions.checkpoint_names import (
    CheckpointNames,
    Kind,
    check_message,
    checkpoint_names,
    hours_since,
    phase_title,
)
from actions.checkpoint_precheck import precheck
from actions.checkpoint_undo import Progress, describe_state, undo
from actions.errors import GitError, InputError, OutOfTime
from actions.gitrun import (
    NETWORK_ENV,
    UNDO_TIMEOUT_S,
    Deadline,
    checkpoint_lock,
    git_ok,
    identity_config,
    index_digest,
    parse_porcelain,
    rejection_reason,
    run_git,
    save_index,
)
from actions.refs import require_ref_name

__all__ = [
    "CheckpointInfo",
    "CheckpointNames",
    "CheckpointResult",
    "Kind",
    "checkpoint_names",
    "create_checkpoint",
    "hours_since",
    "list_checkpoints",
    "list_checkpoints_with_remote_status",
    "phase_title",
]

MAX_LISTED_PATHS = 50
MAX_BUILT_LENGTH = 300  # the longest prefix plus a 200-character message


@dataclass(frozen=True)
class CheckpointResult:
    names: CheckpointNames
    commit: str
    committed: bool
    committed_paths: tuple[str, ...]
    previous_head: str
    remote: str
    branch: str
    push_summary: str


class _StepFailed(Exception):
    """A step after the first change failed: what went wrong, and what the person should do.

    ``remote_sure`` is False when the push broke off without an answer, so nobody can say
    whether the remote applied it.
    """

    def __init__(self, what: str, advice: str, *, remote_sure: bool = True) -> None:
        super().__init__(what)
        self.what = what
        self.advice = advice
        self.remote_sure = remote_sure


def create_checkpoint(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    names: CheckpointNames,
    timeout_s: float = 60.0,
) -> CheckpointResult:
    """Commit what is there (if any), tag it, push branch and tag together; or change nothing."""
    require_ref_name(remote, what="remote name")
    require_ref_name(branch, what="branch name")
    require_ref_name(names.tag, what="checkpoint tag name")
    # Names normally come from checkpoint_names; whoever built them, they must be one line.
    for text in (names.commit_message, names.tag_message):
        if check_message(text, what="text", limit=MAX_BUILT_LENGTH) != text:
            raise InputError("The checkpoint text has surrounding blanks. Nothing was changed.")
    deadline = Deadline(timeout_s)
    with checkpoint_lock(repo, wait_s=timeout_s / 2):
        try:
            previous = precheck(
                repo, remote=remote, branch=branch, tag=names.tag, deadline=deadline
            )
        except OutOfTime as error:
            raise GitError(f"{error.user_message} Nothing was changed; try again.") from None
        progress = Progress()
        try:
            return _make(repo, remote, branch, names, previous, deadline, progress)
        except (_StepFailed, GitError) as error:
            failure = (
                error
                if isinstance(error, _StepFailed)
                else _StepFailed(
                    error.user_message,
                    "Try again; if it keeps failing, look at the working copy with `git status`.",
                )
            )
            problems = undo(repo, branch, names.tag, previous, progress)
            state = describe_state(progress, problems, remote, failure.remote_sure)
            raise GitError(f"{failure.what} {state} {failure.advice}") from None
        except BaseException:
            # Interrupted (or a bug): still take our changes back before letting go.
            undo(repo, branch, names.tag, previous, progress)
            raise


def _make(
    repo: git.Repo,
    remote: str,
    branch: str,
    names: CheckpointNames,
    previous: str,
    deadline: Deadline,
    progress: Progress,
) -> CheckpointResult:
    identity = identity_config(repo, deadline.left("reading the git identity"))
    paths = _stage(repo, previous, deadline, progress)
    target = previous
    if paths:
        target = _commit(repo, branch, names, previous, identity, deadline)
        progress.commit = target
    tag_object = _tag(repo, names, target, identity, deadline)
    progress.tag_object = tag_object
    summary = _push(repo, remote, branch, names.tag, tag_object, deadline)
    return CheckpointResult(
        names=names,
        commit=target,
        committed=progress.commit is not None,
        committed_paths=paths,
        previous_head=previous,
        remote=remote,
        branch=branch,
        push_summary=summary,
    )


def _stage(
    repo: git.Repo, previous: str, deadline: Deadline, progress: Progress
) -> tuple[str, ...]:
    """``git add --all``, keeping a copy of the index to restore; the paths it changed."""
    saved = save_index(repo, deadline.left("saving the index"))
    git_ok(repo, ["add", "--all"], deadline.left("staging changes"))
    # From here on the index is ours to restore (a failed `git add` leaves it as it was); the
    # copy is recorded before its digest so that a failing digest still leaves it restorable.
    progress.index = saved
    progress.index = replace(saved, staged_digest=index_digest(repo, deadline.left("staging")))
    diff = git_ok(
        repo,
        [
            "diff",
            "--cached",
            "--name-status",
            "--no-renames",
            "-z",
            "--end-of-options",
            previous,
            "--",
        ],
        deadline.left("comparing the index with HEAD"),
    )
    return _name_status(diff)


def _tag(
    repo: git.Repo,
    names: CheckpointNames,
    target: str,
    identity: tuple[str, ...],
    deadline: Deadline,
) -> str:
    """The annotated checkpoint tag on ``target``; its tag object's id."""
    tag_call = run_git(
        repo,
        [
            "tag",
            "--annotate",
            "--cleanup=whitespace",
            f"--message={names.tag_message}",
            "--end-of-options",
            names.tag,
            target,
        ],
        deadline.left("creating the tag"),
        config=identity,
    )
    if not tag_call.ok:
        raise _StepFailed(
            f"Could not create tag {names.tag}: {tag_call.complaint()}.",
            "If someone else just created this checkpoint, see `/checkpoint list`; "
            "otherwise try again.",
        )
    return git_ok(
        repo,
        ["rev-parse", "--verify", "--end-of-options", f"refs/tags/{names.tag}"],
        deadline.left("reading the tag"),
    )


def _commit(
    repo: git.Repo,
    branch: str,
    names: CheckpointNames,
    previous: str,
    identity: tuple[str, ...],
    deadline: Deadline,
) -> str:
    """Plumbing rather than `git commit`: no hooks that could edit the working tree, and the
    branch moves only if it is still where the pre-checks saw it (compare-and-swap)."""
    tree = git_ok(repo, ["write-tree"], deadline.left("writing the tree"))
    # The message goes through a file of ours, so it never sits in an argument position.
    fd, message_path = tempfile.mkstemp(prefix="rollback-bot-message-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(names.commit_message + "\n")
        commit = git_ok(
            repo,
            ["commit-tree", "-p", previous, "-F", message_path, "--end-of-options", tree],
            deadline.left("committing"),
            config=identity,
        )
    finally:
        os.unlink(message_path)
    moved = run_git(
        repo,
        [
            "update-ref",
            "-m",
            f"rollback-bot: checkpoint {names.tag}",
            "--end-of-options",
            f"refs/heads/{branch}",
            commit,
            previous,
        ],
        deadline.left("moving the branch"),
    )
    if not moved.ok:
        raise _StepFailed(
            f"{branch} moved while the checkpoint was being made ({moved.complaint()}).",
            "Someone committed meanwhile; look at `git log` and create the checkpoint again.",
        )
    return commit


def _push(
    repo: git.Repo, remote: str, branch: str, tag: str, tag_object: str, deadline: Deadline
) -> str:
    branch_ref = f"refs/heads/{branch}"
    tag_ref = f"refs/tags/{tag}"
    call = run_git(
        repo,
        [
            "push",
            "--porcelain",
            "--atomic",
            "--end-of-options",
            remote,
            f"{branch_ref}:{branch_ref}",
            f"{tag_ref}:{tag_ref}",
        ],
        deadline.left("pushing"),
        env=NETWORK_ENV,
    )
    refs = parse_porcelain(call.out)
    if call.ok:
        pushed = next((ref for ref in refs if ref.destination == branch_ref), None)
        if pushed is None or pushed.flag == "=":
            return f"pushed tag {tag} to {remote} ({branch} was already up to date there)"
        detail = "new branch" if pushed.flag == "*" else pushed.summary
        return f"pushed {branch} ({detail}) and tag {tag} to {remote}"
    if _landed(repo, remote, tag_ref, tag_object):
        # git reported a failure (e.g. the connection dropped after the update), yet the
        # remote has our tag: an atomic push means the branch went with it.
        return f"pushed {branch} and tag {tag} to {remote} (confirmed with ls-remote)"
    reason = rejection_reason(refs)
    hook = "; ".join(call.remote_lines())
    if reason is None:
        raise _StepFailed(
            f"Could not push to {remote}: {call.complaint()}.",
            f"Check that {remote} is reachable and the credentials work, then look at "
            "`/checkpoint list` before trying again.",
            remote_sure=False,
        )
    said = f" ({remote} said: {hook})" if hook else ""
    advice = (
        f"{remote} has commits you don't have: pull or rebase, then create the checkpoint again."
        if "fetch first" in reason or "non-fast-forward" in reason
        else f"Fix what {remote} objects to, then create the checkpoint again."
    )
    raise _StepFailed(f"{remote} refused the push: {reason}{said}.", advice)


def _landed(repo: git.Repo, remote: str, tag_ref: str, tag_object: str) -> bool:
    call = run_git(
        repo,
        ["ls-remote", "--end-of-options", remote, tag_ref],
        UNDO_TIMEOUT_S,
        env=NETWORK_ENV,
    )
    return call.ok and f"{tag_object}\t{tag_ref}" in call.out.splitlines()


def _name_status(output: str) -> tuple[str, ...]:
    fields = [field for field in output.split("\x00") if field]
    entries = [f"{status} {path}" for status, path in zip(fields[::2], fields[1::2], strict=False)]
    if len(entries) > MAX_LISTED_PATHS:
        hidden = len(entries) - MAX_LISTED_PATHS
        return (*entries[:MAX_LISTED_PATHS], f"… and {hidden} more")
    return tuple(entries)
