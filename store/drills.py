"""Drills and the watch's verdicts, mixed into :class:`store.sqlite.SqliteStore`: what the
confidence table, the removal's gate and the watch's rollback target are computed from."""

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

    def record_commit_check(self, sha: str, *, ok: bool, failing: Sequence[str]) -> int:
        """The watch's verdict on ``sha`` (the latest run's); how many runs it has had."""
        with self._guard("record a commit's checklist"):
            self._db().execute(
                "INSERT INTO commit_checks (sha, ok, failing, at, runs) VALUES (?, ?, ?, ?, 1) "
                "ON CONFLICT(sha) DO UPDATE SET ok = excluded.ok, failing = excluded.failing, "
                "at = excluded.at, runs = runs + 1",
                [sha, int(ok), json.dumps(list(failing)), stamp(self._clock())],
            )
            row = self._db().execute("SELECT runs FROM commit_checks WHERE sha = ?", [sha])
            return int(row.fetchone()[0])

    def commit_verdicts(self, shas: Sequence[str]) -> dict[str, bool]:
        """The recorded verdict (green True) of each of ``shas`` that has one."""
        if not shas:
            return {}
        marks = ", ".join("?" for _ in shas)
        with self._guard("read commit verdicts"):
            rows = (
                self._db()
                .execute(
                    f"SELECT sha, ok FROM commit_checks WHERE sha IN ({marks})",  # noqa: S608
                    list(shas),
                )
                .fetchall()
            )
        return {str(sha): bool(ok) for sha, ok in rows}


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
