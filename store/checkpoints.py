"""What the bot knows of each checkpoint it made, mixed into :class:`store.sqlite.SqliteStore`.

git holds the tags; the store holds what git cannot: whether the checklist passed before the
tag was made, who asked for it, and who forced it past a failing checklist. So a forced
checkpoint is marked wherever it is listed, and a rollback can prefer one that was healthy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from store.models import CheckpointRecord
from store.parts import StorePart
from store.stamps import parse_stamp, stamp


class CheckpointStore(StorePart):
    """What the bot knows of the checkpoints it made: healthy, who asked, who forced."""

    def record_checkpoint(
        self,
        *,
        tag: str,
        commit: str,
        healthy: bool,
        requested_by: str,
        forced_by: str | None,
        failing: Iterable[str] = (),
    ) -> CheckpointRecord:
        """Keep what a new checkpoint was made from; a tag is recorded once (tags never move)."""
        at = self._clock()
        with self._guard("record a checkpoint"):
            self._db().execute(
                "INSERT OR IGNORE INTO checkpoints "
                "(tag, commit_sha, created_at, healthy, requested_by, forced_by, failing) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    tag,
                    commit,
                    stamp(at),
                    int(healthy),
                    requested_by,
                    forced_by,
                    _json(failing),
                ],
            )
        found = self.checkpoint_records([tag])
        return found[tag]

    def checkpoint_records(self, tags: Iterable[str] | None = None) -> dict[str, CheckpointRecord]:
        """The records of these tags (all of them when None), by tag; unknown tags are absent."""
        wanted = None if tags is None else list(tags)
        if wanted == []:
            return {}
        where, params = "", []
        if wanted is not None:
            where = f"WHERE tag IN ({', '.join('?' for _ in wanted)})"
            params = wanted
        columns = "tag, commit_sha, created_at, healthy, requested_by, forced_by, failing"
        query = f"SELECT {columns} FROM checkpoints {where}"  # noqa: S608 - placeholders only
        with self._guard("read checkpoints"):
            rows = self._db().execute(query, params).fetchall()
        return {
            tag: CheckpointRecord(
                tag=tag,
                commit=commit,
                created_at=parse_stamp(created),
                healthy=bool(healthy),
                requested_by=requested_by,
                forced_by=forced_by,
                failing=tuple(json.loads(failing)),
            )
            for tag, commit, created, healthy, requested_by, forced_by, failing in rows
        }


def _json(values: Iterable[str]) -> str:
    return json.dumps(list(values))
