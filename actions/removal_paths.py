"""What `/rollback remove <path>...` may remove: tracked files inside the repository, named
one by one, by a directory, or by a glob; every other path is refused before anything runs.

Paths are checked here as the repository sees them, whatever the grammar let through:
- never outside the repository (absolute paths, ``..``, a symlink that leads out);
- tracked at HEAD (a file that does not exist, or exists untracked, is named as such);
- a glob or a directory must match at least one tracked file;
- at most :data:`MAX_PATHS` files in all, so one removal stays one reviewable list.

Git answers with pathspec magic (``:(literal)``, ``:(glob)``), so no name a person types is
read as an option or as another pattern.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import git

from actions.errors import InputError
from actions.gitrun import Deadline, git_ok
from actions.redact import redact

MAX_PATHS = 50
_GLOB_CHARS = frozenset("*?[")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REFUSED = "Nothing was removed."


def expand_paths(*, repo: git.Repo, asked: Sequence[str], deadline: Deadline) -> tuple[str, ...]:
    """The tracked files ``asked`` names, in the order asked, each once; InputError naming
    the first path that cannot be removed, and why."""
    if not asked:
        raise InputError(f"Name at least one path to remove. {_REFUSED}")
    if len(asked) > MAX_PATHS:
        raise InputError(
            f"{len(asked)} paths is more than {MAX_PATHS}; remove them in smaller lists. {_REFUSED}"
        )
    root = Path(repo.working_tree_dir or ".").resolve()
    found: dict[str, None] = {}
    for path in asked:
        for file in _files_of(repo, root, _plain(path), deadline):
            found[file] = None
    if len(found) > MAX_PATHS:
        raise InputError(
            f"Those paths name {len(found)} tracked files, more than {MAX_PATHS}; remove them "
            f"in smaller lists. {_REFUSED}"
        )
    for file in found:
        _require_inside(root, file)
    return tuple(found)


def _shown(path: str) -> str:
    """A path as a message may quote it: cut, and a token typed into it redacted."""
    return redact(path[:120])


def is_glob(path: str) -> bool:
    return any(char in _GLOB_CHARS for char in path)


def _plain(path: str) -> str:
    """``path`` as a relative path inside the repository, or InputError."""
    shown = _shown(path)
    if not path or _CONTROL_RE.search(path) or "\\" in path:
        raise InputError(f"`{shown}` is not a path git can name. {_REFUSED}")
    parts = path.split("/")
    if path.startswith(("/", "-", "~")) or ".." in parts:
        raise InputError(f"`{shown}` must be a path inside the repository. {_REFUSED}")
    cleaned = "/".join(part for part in parts if part not in ("", "."))
    if not cleaned or cleaned == ".git" or cleaned.startswith(".git/"):
        raise InputError(f"`{shown}` is not a file the repository tracks. {_REFUSED}")
    return cleaned


def _files_of(repo: git.Repo, root: Path, path: str, deadline: Deadline) -> tuple[str, ...]:
    magic = ":(glob)" if is_glob(path) else ":(literal)"
    listed = git_ok(
        repo,
        ["ls-files", "-z", "--cached", "--full-name", "--", magic + path],
        deadline.left("listing tracked files"),
    )
    files = tuple(name for name in listed.split("\x00") if name)
    if files:
        return files
    if is_glob(path):
        raise InputError(f"`{_shown(path)}` matches no tracked file. {_REFUSED}")
    on_disk = root / path
    if on_disk.is_symlink() or on_disk.exists():
        _require_inside(root, path)
        raise InputError(
            f"`{_shown(path)}` is not tracked by git, so there is no commit to remove it in. "
            f"{_REFUSED}"
        )
    raise InputError(f"`{_shown(path)}` does not exist in the repository. {_REFUSED}")


def _require_inside(root: Path, path: str) -> None:
    """Refuse a path that leads out of the repository, through a symlink on its way or as
    the symlink itself."""
    real = Path(os.path.realpath(root / path))
    if real != root and root not in real.parents:
        raise InputError(
            f"`{_shown(path)}` is a symlink, or lies under one, that leads outside the repository. "
            f"{_REFUSED}"
        )
