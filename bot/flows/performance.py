"""Scenario 4, step 1: what is slow, found out when the performance incident opens.

The procedure looks at three things before fixing: which endpoints are slow (timed), which
queries are slow (pg_stat_statements, mean over ``database.slow_query_ms``), and the slow,
timeout and error lines of the log. The checklist measures all three, so it runs once (without a
restart) and its figures are kept with the incident, for its card to show while the fix window
runs and after the bot restarts.
"""

from __future__ import annotations

import json
import re

from bot.deps import Deps
from bot.flows.asker import Asker
from bot.flows.validation import run_validation

_KEY = "diagnostics:{}"
_LOG_WORDS = re.compile(r"slow|timeout|timed out|error", re.IGNORECASE)
MAX_LINES = 12


def diagnose(deps: Deps, incident_id: int, asker: Asker) -> tuple[str, ...]:
    """Run the checklist, keep the performance figures with the incident, and return them."""
    report = run_validation(deps, actor=asker.actor, surface=asker.surface, restart=False)
    lines: list[str] = []
    for result in report.checklist.results:
        if result.kind == "endpoint":
            verdict = "" if result.ok else f": {result.reason}"
            lines.append(f"endpoint {result.name}: {result.duration_s:.2f} s{verdict}")
    for result in (*report.checklist.results, *report.diagnostics):
        if result.kind == "slow_queries":
            lines += [f"query {line}" for line in result.details[:5]]
        if result.kind == "log":
            lines += [f"log {line}" for line in result.details if _LOG_WORDS.search(line)][:5]
    kept = tuple(lines[:MAX_LINES])
    deps.store.write_value(_KEY.format(incident_id), json.dumps(list(kept)))
    return kept


def diagnostics_of(deps: Deps, incident_id: int) -> tuple[str, ...]:
    stored = deps.store.read_value(_KEY.format(incident_id))
    return tuple(json.loads(stored)) if stored else ()
