"""What every part of the store (incidents, plans, journal, locks, timers, checkpoints) expects
from :class:`store.sqlite.SqliteStore`, the one class they are mixed into."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlite_utils import Database


class StorePart:
    """``_db()``, ``_guard()``, ``_clock`` and ``_secrets``, supplied by ``SqliteStore``."""

    _clock: Callable[[], datetime]
    _secrets: tuple[str, ...]

    def _db(self) -> Database:
        raise NotImplementedError

    def _guard(self, doing: str) -> AbstractContextManager[None]:
        raise NotImplementedError
