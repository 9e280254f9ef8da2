"""Drills on record, mixed into :class:`store.sqlite.SqliteStore`: what the confidence table
and the high-risk removal's gate are computed from."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from actions.redact import redact
from store.models import DrillRecord
from store.parts import StorePart
from store.rows import dicts
from store.stamps import parse_stamp, stamp


class DrillStore(StorePart):
    def record_drill(
        self,
        *,
        scenario: str,
        started_at: datetime,
        ok: bool,
        duration_s: float,
        commit_sha: str | None,
        verified_by: str,
        exercised: Sequence[str],
        problem: str,
        actor: str,
    ) -> DrillRecord:
        with self._guard("record a drill"):
            cursor = self._db().execute(
                "INSERT INTO drills (scenario, started_at, finished_at, ok, duration_s, "
                "commit_sha, verified_by, exercised, problem, actor) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    scenario,
                    stamp(started_at),
                    stamp(self._clock()),
                    int(ok),
                    duration_s,
                    commit_sha,
                    verified_by,
                    json.dumps(list(exercised)),
                    redact(problem, secrets=self._secrets)[:2000],
                    actor,
                ],
            )
            rows = dicts(
                self._db().execute("SELECT * FROM drills WHERE id = ?", [cursor.lastrowid])
            )
        return _drill(rows[0])

    def latest_drills(self) -> dict[str, DrillRecord]:
        """The newest drill of each scenario, by scenario."""
        with self._guard("read drills"):
            rows = dicts(
                self._db().execute(
                    "SELECT * FROM drills WHERE id IN "
                    "(SELECT MAX(id) FROM drills GROUP BY scenario)"
                )
            )
        return {row["scenario"]: _drill(row) for row in rows}


def _drill(row: Mapping[str, Any]) -> DrillRecord:
    return DrillRecord(
        id=row["id"],
        scenario=row["scenario"],
        started_at=parse_stamp(row["started_at"]),
        finished_at=parse_stamp(row["finished_at"]),
        ok=bool(row["ok"]),
        duration_s=float(row["duration_s"]),
        commit_sha=row["commit_sha"],
        verified_by=row["verified_by"] or "git",
        exercised=tuple(json.loads(row["exercised"] or "[]")),
        problem=row["problem"] or "",
        actor=row["actor"],
    )
