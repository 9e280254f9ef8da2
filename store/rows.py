"""How the store reads rows and writes JSON: shared by every table's code."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from actions.redact import redact


def dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def to_json(value: Mapping[str, Any] | None, *, secrets: tuple[str, ...]) -> str:
    """JSON for the store, scrubbed of secrets: details may echo command output or a URL."""
    return redact(json.dumps(dict(value or {}), default=str), secrets=secrets)
