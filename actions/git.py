"""Read-only git queries for ``/rollback status`` and friends (GitPython, bounded in time).

Every name that came from outside passes :mod:`actions.refs` first, and every git invocation puts
``--end-of-options`` before revisions, so no value can be read as an option.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git

from actions.errors import GitError
from actions.redact import redact
from actions.refs import require_ref_name

_FIELD = "%00"
_TAG_FORMAT = _FIELD.join(
    [
        "%(refname:strip=2)",
        "%(objectname)",
        "%(*objectname)",
        "%(creatordate:iso-strict)",
        "%(contents:subject)",
    ]
)


@dataclass(frozen=True)
class CheckpointTag:
    name: str
    commit: str
    created_at: datetime | None
    message: str
    #: What the ref points at: the tag object for an annotated tag, else the commit.
    object_id: str = ""


@dataclass(frozen=True)
class RepoStatus:
    branch: str | None
    expected_branch: str
    head: str
    head_subject: str
    remote_head: str | None
    remote_problem: str | None
    dirty_paths: int
    operation_in_progress: str | None
    checkpoints: tuple[CheckpointTag, ...]

    @property
    def on_expected_branch(self) -> bool:
        return self.branch == self.expected_branch

    @property
    def in_sync_with_remote(self) -> bool:
        return self.remote_head is not None and self.remote_head == self.head


def checkpoint_tag_patterns(phase: str) -> tuple[str, ...]:
    """The tag families the procedure creates for a phase, newest conventions first."""
    return (
        f"refs/tags/{phase}-checkpoint-*",
        f"refs/tags/{phase}-complete-*",
        "refs/tags/checkpoint-*",
    )


def open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(f"{path} is not a git repository") from None


def read_repo_status(
    *,
    repo: git.Repo,
    remote: str,
    branch: str,
    phase: str,
    checkpoint_count: int = 5,
    timeout_s: float = 10.0,
) -> RepoStatus:
    """Branch, HEAD, remote head and recent checkpoints; the remote is asked, not guessed."""
    require_ref_name(branch, what="branch name")
    require_ref_name(remote, what="remote name")
    head = _run(repo, ["rev-parse", "--verify", "--end-of-options", "HEAD^{commit}"], timeout_s)
    remote_head, remote_problem = _remote_head(repo, remote, branch, timeout_s)
    return RepoStatus(
        branch=_current_branch(repo, timeout_s),
        expected_branch=branch,
        head=head,
        head_subject=_run(repo, ["log", "-1", "--format=%s", head], timeout_s),
        remote_head=remote_head,
        remote_problem=remote_problem,
        dirty_paths=_count_dirty(repo, timeout_s),
        operation_in_progress=operation_in_progress(repo),
        checkpoints=list_checkpoint_tags(
            repo=repo, phase=phase, limit=checkpoint_count, timeout_s=timeout_s
        ),
    )


def list_checkpoint_tags(
    *, repo: git.Repo, phase: str, limit: int | None = None, timeout_s: float = 10.0
) -> tuple[CheckpointTag, ...]:
    """Checkpoint tags, newest first, resolved to the commits they point at."""
    args = ["for-each-ref", "--sort=-creatordate", f"--format={_TAG_FORMAT}"]
    if limit is not None:
        args.append(f"--count={limit}")
    output = _run(repo, [*args, *checkpoint_tag_patterns(phase)], timeout_s)
    tags = []
    for line in output.splitlines():
        name, target, peeled, created, subject = line.split("\x00")
        tags.append(
            CheckpointTag(
                name=name,
                commit=peeled or target,
                created_at=datetime.fromisoformat(created) if created else None,
                message=subject,
                object_id=target,
            )
        )
    return tuple(tags)


#: How to end each half-done operation, for the refusal that names it.
ABORT_HINTS = {
    "merge": "git merge --abort",
    "rebase": "git rebase --abort",
    "cherry-pick": "git cherry-pick --abort",
    "revert": "git revert --abort",
    "bisect": "git bisect reset",
}


def operation_in_progress(repo: git.Repo) -> str | None:
    """A merge, rebase, cherry-pick, revert or bisect left half-done in the working copy."""
    git_dir = Path(repo.git_dir)
    markers = {
        "MERGE_HEAD": "merge",
        "rebase-merge": "rebase",
        "rebase-apply": "rebase",
        "CHERRY_PICK_HEAD": "cherry-pick",
        "REVERT_HEAD": "revert",
        "BISECT_LOG": "bisect",
    }
    for marker, name in markers.items():
        if (git_dir / marker).exists():
            return name
    return None


def require_no_operation(repo: git.Repo, consequence: str) -> None:
    """A half-done merge, rebase, cherry-pick, revert or bisect: GitError saying how to end it."""
    operation = operation_in_progress(repo)
    if operation is not None:
        raise GitError(
            f"A {operation} is in progress in the working copy. {consequence} Finish it, or "
            f"abort it with `{ABORT_HINTS.get(operation, 'git status')}`, then try again."
        )


def require_index_unlocked(repo: git.Repo, consequence: str) -> None:
    """GitError while another git process holds ``.git/index.lock``: a reset or a commit would
    fail half way through, after the work before it (a pushed backup) was already done."""
    if (Path(repo.git_dir) / "index.lock").exists():
        raise GitError(
            "Another git process holds .git/index.lock in the working copy (a git command is "
            f"running there, or one crashed and left the lock). {consequence} When no git "
            "command is running, remove .git/index.lock, then try again."
        )


def _current_branch(repo: git.Repo, timeout_s: float) -> str | None:
    try:
        return _run(repo, ["symbolic-ref", "--quiet", "--short", "HEAD"], timeout_s) or None
    except GitError:
        return None  # detached HEAD


def _remote_head(
    repo: git.Repo, remote: str, branch: str, timeout_s: float
) -> tuple[str | None, str | None]:
    try:
        output = _run(
            repo, ["ls-remote", "--end-of-options", remote, f"refs/heads/{branch}"], timeout_s
        )
    except GitError as error:
        return None, error.user_message
    if not output:
        return None, f"{remote} has no branch {branch}"
    return output.split()[0], None


def _count_dirty(repo: git.Repo, timeout_s: float) -> int:
    output = _run(repo, ["status", "--porcelain=v1", "-z", "--untracked-files=all"], timeout_s)
    return sum(1 for entry in output.split("\x00") if entry[:2].strip())


def _run(repo: git.Repo, args: list[str], timeout_s: float) -> str:
    try:
        output: str = repo.git.execute(
            ["git", *args], kill_after_timeout=timeout_s, strip_newline_in_stdout=True
        )
    except git.GitCommandError as error:
        raise GitError(f"git {args[0]} failed: {_first_complaint(error)}") from None
    return output


def _first_complaint(error: git.GitCommandError) -> str:
    # git's stderr may quote a remote URL with credentials in it: redact before it goes anywhere.
    lines = [line.strip() for line in str(error.stderr or "").splitlines()]
    lines = [line.removeprefix("stderr: ").strip("'").strip() for line in lines if line]
    complaints = [line for line in lines if line.startswith(("fatal:", "error:"))]
    chosen = (complaints or lines or [f"exit status {error.status}"])[0]
    return redact(chosen)
