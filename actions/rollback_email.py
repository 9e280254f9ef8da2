"""Scenario 3's target: the commit just before the first email-removal commit on the branch.

The procedure finds it with `git log --grep`; here git's grep only narrows the walk, and the
subject itself must name email and a removal, so a commit that merely mentions both in its
body is not taken for the removal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import git

from actions.errors import GitError
from actions.gitrun import Deadline, run_git
from actions.refs import require_ref_name
from actions.rollback_git import require_commit_id

_REFUSED = "No rollback was planned and nothing was changed."
_EMAIL_RE = re.compile(r"e-?mail", re.IGNORECASE)
# "remove", "removal", "removed", "clean up", "cleanup", "delete", "deleted", "deletion".
_REMOVAL_RE = re.compile(r"remov|clean[\s-]?up|delet", re.IGNORECASE)


def find_commit_before_email_removal(
    *, repo: git.Repo, branch: str, base: str | None = None, timeout_s: float = 30.0
) -> tuple[str, str] | None:
    """Scenario 3's target: the parent of the oldest commit on ``branch`` (after ``base``) whose
    subject mentions email and a removal; returns (parent sha, "sha subject") or None."""
    require_ref_name(branch, what="branch name")
    revisions = [f"refs/heads/{branch}"]
    if base is not None:
        revisions.append("^" + require_ref_name(base, what="base"))
    deadline = Deadline(timeout_s)
    # git's --grep narrows the walk cheaply (whole message); the subject is then checked here.
    call = run_git(
        repo,
        [
            "log",
            "--topo-order",
            "--reverse",
            "--no-show-signature",
            "--regexp-ignore-case",
            "--extended-regexp",
            "--all-match",
            "--grep=e-?mail",
            "--grep=remov|clean[[:space:]-]?up|delet",
            "--format=%H%x00%P%x00%s",
            "--end-of-options",
            *revisions,
        ],
        deadline.left("searching the history"),
    )
    if not call.ok:
        raise GitError(f"Could not search {branch}'s history: {call.complaint()}. {_REFUSED}")
    for line in call.out.splitlines():
        sha, parents, subject = line.split("\x00")
        if not (_EMAIL_RE.search(subject) and _REMOVAL_RE.search(subject)):
            continue
        if not parents:
            raise GitError(
                f"The first email-removal commit ({sha[:7]} {subject}) is the repository's "
                f"first commit: there is nothing before it to roll back to. {_REFUSED}"
            )
        return parents.split()[0], f"{sha} {subject}"
    return None


def is_email_path(path: str) -> bool:
    """An email file, as the procedure's scenario 3 means it: "email" anywhere in its path."""
    return bool(_EMAIL_RE.search(path))


@dataclass(frozen=True)
class EmailEvidence:
    """Why the procedure's target is that commit: what matched, and which email files went."""

    matched: tuple[str, ...]  # "sha subject" of each commit whose subject names email and removal
    removed: tuple[str, ...]  # email files deleted between the target and HEAD


_EVIDENCE_SHOWN = 20


def email_evidence(
    *, repo: git.Repo, target_sha: str, head_sha: str, timeout_s: float = 30.0
) -> EmailEvidence:
    """The email-removal commits between the target and HEAD, and the email files removed."""
    require_commit_id(target_sha, what="target commit")
    require_commit_id(head_sha, what="HEAD commit")
    deadline = Deadline(timeout_s)
    logged = run_git(
        repo,
        [
            "log",
            "--reverse",
            "--no-show-signature",
            "--format=%H%x00%s",
            "--end-of-options",
            f"{target_sha}..{head_sha}",
        ],
        deadline.left("reading the commits"),
    )
    removed = run_git(
        repo,
        ["diff", "--name-only", "-z", "--no-renames", "--diff-filter=D", target_sha, head_sha],
        deadline.left("listing the removed files"),
    )
    if not (logged.ok and removed.ok):
        raise GitError(f"Could not read the email evidence. {_REFUSED}")
    matched = []
    for line in logged.out.splitlines():
        sha, _, subject = line.partition("\x00")
        if _EMAIL_RE.search(subject) and _REMOVAL_RE.search(subject):
            matched.append(f"{sha} {subject}")
    paths = [path for path in removed.out.split("\0") if path and is_email_path(path)]
    return EmailEvidence(tuple(matched[:_EVIDENCE_SHOWN]), tuple(paths[:_EVIDENCE_SHOWN]))
