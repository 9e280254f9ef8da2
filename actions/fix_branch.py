"""Scenario 4's fix branch: ``fix/<phase>-performance-optimization`` from HEAD, never forced.

The quick fix of a performance problem happens on its own branch, so the phase branch stays
where a rollback expects it. Created locally (only if absent) and pushed create-only (an empty
lease); a branch of that name already elsewhere, here or on the remote, is left as it is.
"""

from __future__ import annotations

import git

from actions.errors import GitError
from actions.gitrun import NETWORK_ENV, Deadline, run_git
from actions.refs import require_ref_name
from actions.rollback_git import remote_branch_head, require_commit_id, short


def create_fix_branch(
    *, repo: git.Repo, remote: str, name: str, head_sha: str, timeout_s: float = 60.0
) -> bool:
    """Branch ``name`` at ``head_sha`` here and on ``remote``; False when both already were."""
    require_ref_name(remote, what="remote name")
    require_ref_name(name, what="fix branch name")
    require_commit_id(head_sha, what="HEAD commit")
    ref = f"refs/heads/{name}"
    deadline = Deadline(timeout_s)
    local = run_git(repo, ["rev-parse", "--verify", "--quiet", ref], deadline.left("reading"))
    if local.ok and local.out.strip() != head_sha:
        raise GitError(
            f"{name} already exists here at {short(local.out.strip())}; it is left as it is "
            "(never moved). Work on it, or rename it first."
        )
    there = remote_branch_head(repo, remote, ref, deadline)
    if there is not None and there != head_sha:
        raise GitError(
            f"{remote} already has {name} at {short(there)}; it is left as it is (never "
            "forced). Work on it, or delete it there first."
        )
    made = False
    if not local.ok:
        # The empty old value: create only, never overwrite a branch made meanwhile.
        created = run_git(
            repo, ["update-ref", ref, head_sha, ""], deadline.left("creating the branch")
        )
        if not created.ok:
            raise GitError(f"Could not create {name}: {created.complaint()}.")
        made = True
    if there is None:
        pushed = run_git(
            repo,
            [
                "push",
                "--porcelain",
                "--no-follow-tags",
                # An empty lease: create only. A branch made there meanwhile, even at an
                # ancestor that a plain push would fast-forward, is left as it is.
                f"--force-with-lease={ref}:",
                "--end-of-options",
                remote,
                f"{head_sha}:{ref}",
            ],
            deadline.left("pushing"),
            env=NETWORK_ENV,
        )
        if remote_branch_head(repo, remote, ref, deadline) != head_sha:
            raise GitError(f"{remote} did not take {name}: {pushed.complaint()}.")
        made = True
    return made
