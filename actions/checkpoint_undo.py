"""Taking a failed checkpoint back: exactly what this run changed, and nothing else.

Every step is conditional on the repository still being as we left it: the branch moves back
by compare-and-swap from our commit, the tag is deleted only while it is our tag object, and
the index is restored only when the branch is back where the index belongs.
"""

from __future__ import annotations

from dataclasses import dataclass

import git

from actions.gitrun import UNDO_TIMEOUT_S, IndexCopy, restore_index, run_git


@dataclass
class Progress:
    """What has been changed so far, i.e. what an undo has to take back."""

    index: IndexCopy | None = None
    commit: str | None = None
    tag_object: str | None = None


def undo(repo: git.Repo, branch: str, tag: str, previous: str, progress: Progress) -> list[str]:
    """Take back exactly what this run changed; the problems met (empty when all went back)."""
    problems = []
    branch_back = True
    if progress.commit is not None:
        moved = run_git(
            repo,
            [
                "update-ref",
                "-m",
                f"rollback-bot: undo checkpoint {tag}",
                "--end-of-options",
                f"refs/heads/{branch}",
                previous,
                progress.commit,
            ],
            UNDO_TIMEOUT_S,
        )
        if not moved.ok:
            branch_back = False
            problems.append(
                f"{branch} could not be moved back to {previous[:12]} ({moved.complaint()})"
            )
    if progress.index is not None:
        if not branch_back:
            problems.append("the index was left with all changes staged")
        else:
            problem = restore_index(repo, progress.index, UNDO_TIMEOUT_S)
            if problem:
                problems.append(f"the index could not be restored: {problem}")
    if progress.tag_object is not None:
        deleted = run_git(
            repo,
            ["update-ref", "-d", "--end-of-options", f"refs/tags/{tag}", progress.tag_object],
            UNDO_TIMEOUT_S,
        )
        if not deleted.ok:
            problems.append(f"tag {tag} could not be deleted ({deleted.complaint()})")
    return problems


def describe_state(progress: Progress, problems: list[str], remote: str, remote_sure: bool) -> str:
    """What the repository and the remote look like now, in words."""
    there = (
        f"{remote} was not changed"
        if remote_sure
        else f"whether {remote} received the push could not be confirmed"
    )
    if problems:
        return (
            f"Undoing the local changes did not fully work: {'; '.join(problems)}. Your "
            f"working-tree files are untouched; {there}. Check `git log -1` and `git tag -l` "
            "in the working copy and finish the undo by hand before anything else."
        )
    undone = []
    if progress.commit is not None:
        undone.append(f"the checkpoint commit was taken back ({progress.commit[:12]})")
    if progress.tag_object is not None:
        undone.append("the tag was deleted again")
    if progress.index is not None:
        undone.append("the index is as it was")
    detail = f": {', '.join(undone)}" if undone else ""
    return f"Nothing was changed locally{detail}; your uncommitted work is untouched, and {there}."
