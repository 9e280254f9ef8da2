"""Cache clearing after a rollback (the procedure's `rm -rf node_modules/.cache`), kept inside
the working copy: every path is resolved, symlinks included, before anything is removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from actions.errors import InputError, RollbackBotError


def clear_caches(*, repo_root: Path, paths: Sequence[Path]) -> tuple[str, ...]:
    """Remove each cache path strictly inside ``repo_root``; returns the removed ones (relative).

    Every path is checked (symlinks resolved) before any is removed, so one bad entry removes
    nothing. Missing paths are skipped.
    """
    root = repo_root.resolve()
    checked = []
    for path in paths:
        real = (path if path.is_absolute() else root / path).resolve()
        if real == root or not real.is_relative_to(root):
            raise InputError(
                f"Cache path {str(path)!r} resolves to {real}, which is not inside the "
                f"repository {root}. Nothing was removed.",
                valid_forms=("a path inside the repository, e.g. node_modules/.cache",),
            )
        relative = real.relative_to(root)
        if ".git" in relative.parts:
            raise InputError(
                f"Cache path {str(path)!r} is inside git's own data. Nothing was removed.",
                valid_forms=("a path inside the repository, e.g. node_modules/.cache",),
            )
        checked.append((real, relative.as_posix()))
    removed: list[str] = []
    for real, shown in checked:
        try:
            if real.is_dir():
                shutil.rmtree(real)  # symlinks inside are unlinked, never followed
            elif real.exists():
                real.unlink()
            else:
                continue
        except OSError as error:
            raise RollbackBotError(
                f"Could not remove cache {shown}: {error.strerror}. Removed so far: "
                f"{', '.join(removed) or 'nothing'}."
            ) from None
        removed.append(shown)
    return tuple(removed)
