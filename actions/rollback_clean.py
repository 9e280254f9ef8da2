"""After the reset: take out the untracked files the backup holds, so the service runs exactly
the target.

``git reset --hard`` leaves untracked files where they are, so a half-written module can still
be imported by the code that was rolled back to. Each untracked, not ignored file is removed
only when the backup commit holds it with the same content (compared by blob id), so nothing
leaves the working copy that cannot be restored from the backup branch. A file that differs,
or is not a regular file, is kept and named. Ignored files (``node_modules``, logs) are never
touched. Run again, it finds nothing left to do.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import git

from actions.errors import GitError
from actions.gitrun import Deadline, git_ok, run_git
from actions.rollback_git import require_commit_id

_MAX_FILES = 10_000
_CHUNK = 500


@dataclass(frozen=True)
class Cleaned:
    removed: tuple[str, ...]  # paths relative to the repository
    kept: tuple[str, ...]  # untracked, but not (or not like this) in the backup


def remove_untracked_kept_in(
    *, repo: git.Repo, backup_sha: str, timeout_s: float = 60.0
) -> Cleaned:
    """Remove the untracked files that ``backup_sha`` holds byte for byte; keep the others."""
    require_commit_id(backup_sha, what="backup commit")
    deadline = Deadline(timeout_s)
    root = Path(repo.working_tree_dir or "").resolve()
    listed = git_ok(
        repo,
        ["ls-files", "-z", "--others", "--exclude-standard"],
        deadline.left("listing the untracked files"),
    )
    paths = [path for path in listed.split("\0") if path][:_MAX_FILES]
    if not paths:
        return Cleaned((), ())
    regular = [path for path in paths if _is_regular_inside(root, path)]
    in_backup = _backup_blobs(repo, backup_sha, regular, deadline)
    here = _worktree_blobs(repo, regular, deadline)
    removed, kept = [], [path for path in paths if path not in regular]
    for path in regular:
        if in_backup.get(path) is not None and in_backup.get(path) == here.get(path):
            (root / path).unlink()
            _remove_empty_parents(root, root / path)
            removed.append(path)
        else:
            kept.append(path)
    return Cleaned(tuple(removed), tuple(sorted(kept)))


def _is_regular_inside(root: Path, path: str) -> bool:
    full = root / path
    if ".." in Path(path).parts or Path(path).is_absolute() or ".git" in Path(path).parts:
        return False
    try:
        mode = full.lstat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and full.resolve().is_relative_to(root)


def _backup_blobs(
    repo: git.Repo, sha: str, paths: list[str], deadline: Deadline
) -> dict[str, str | None]:
    """path -> blob id in the backup commit (None when it is not there)."""
    found: dict[str, str | None] = dict.fromkeys(paths)
    for start in range(0, len(paths), _CHUNK):  # argv stays well under the system's limit
        chunk = paths[start : start + _CHUNK]
        listed = run_git(
            repo,
            ["ls-tree", "-z", "--full-tree", "-r", "--end-of-options", sha, "--", *chunk],
            deadline.left("reading the backup"),
            env={"GIT_LITERAL_PATHSPECS": "1"},  # a file named ":(glob)*" is just a name
        )
        if not listed.ok:
            raise GitError(f"The backup {sha[:12]} cannot be read: {listed.complaint()}.")
        for line in filter(None, listed.out.split("\0")):
            meta, _, path = line.partition("\t")
            mode, kind, blob = meta.split()
            # Only the exact paths asked for count, whatever a pathspec may have matched.
            if kind == "blob" and mode in ("100644", "100755") and path in found:
                found[path] = blob
    return found


def _worktree_blobs(repo: git.Repo, paths: list[str], deadline: Deadline) -> dict[str, str]:
    """path -> the blob id of the working tree file's exact bytes. No filters: a file that a
    clean filter or autocrlf would change is stored otherwise in the backup, so it is kept."""
    blobs: list[str] = []
    for start in range(0, len(paths), _CHUNK):
        chunk = paths[start : start + _CHUNK]
        out = git_ok(
            repo,
            ["hash-object", "--no-filters", "--", *chunk],
            deadline.left("hashing the files"),
        )
        blobs += out.split("\n")
    return dict(zip(paths, blobs, strict=True))


def _remove_empty_parents(root: Path, removed: Path) -> None:
    parent = removed.parent
    while parent != root and parent.is_relative_to(root):
        try:
            os.rmdir(parent)
        except OSError:
            return  # not empty (or not ours to remove): stop here
        parent = parent.parent
