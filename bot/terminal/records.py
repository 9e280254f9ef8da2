"""``rollback-bot log`` and ``rollback-bot postmortem``: the written records, from a terminal.

The same documents as ``/rollback log`` and ``/rollback postmortem``, made from the same store,
for when Slack is down or someone wants the file itself.
"""

from __future__ import annotations

from actions.rollback_log import render_log
from bot.deps import Deps
from bot.flows.drill import confidence_table
from bot.flows.postmortem import LOG_ENTRIES_MAX, log_entries, log_path, write_rollback_log
from bot.flows.postmortem_doc import postmortem_file
from store import Surface


def print_log(deps: Deps, *, count: int | None, write: bool, actor: str) -> str:
    """ROLLBACK_LOG.md as text (the newest ``count`` entries); ``write`` writes the file too."""
    if write:
        changed = write_rollback_log(deps, actor=actor, surface=Surface.TERMINAL)
        said = "written" if changed else "already up to date"
        return f"{log_path(deps)}: {said}\n"
    return render_log(log_entries(deps, limit=count or LOG_ENTRIES_MAX))


def print_postmortem(deps: Deps, *, incident_id: int) -> str:
    return postmortem_file(deps, incident_id).text


def print_confidence(deps: Deps) -> str:
    """The confidence table as the procedure lays it out, from the drills on record."""
    table = confidence_table(deps)
    rows = [("Scenario", "Confidence", "Tested?", "Documentation")]
    for row in table:
        tested = "Yes" if row.tested else "No"
        if row.drill is not None:
            result = "passed" if row.drill.ok else "failed"
            tested += f" ({result} {row.drill.finished_at:%Y-%m-%d})"
        rows.append((row.scenario, row.level, tested, row.documentation))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    untested = [row.scenario for row in table if row.level != "HIGH"]
    if untested:
        lines.append(f"\nAction required: drill {', '.join(untested)} (rollback drill <scenario>).")
    return "\n".join(lines) + "\n"
