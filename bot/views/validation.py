"""Block Kit for the validation checklist: the verdict first, then a line per check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actions.checks.result import CheckResult
from bot.views.blocks import Message, context, escape, header, mention, message, section

DETAIL_LINES = 6
DETAIL_CHARS = 300


def _line(result: CheckResult) -> str:
    mark = ":white_check_mark:" if result.ok else ":x:"
    why = "" if result.ok else f": {escape(result.reason)}"
    took = f"{result.duration_s:.2f} s"
    # A check that failed on time already says how long it took ("2.50 s, over the 2 s limit").
    timing = "" if took in why else f" ({took})"
    return f"{mark} *{escape(result.name)}*{why}{timing}"


def _quoted(names: Sequence[str]) -> str:
    # Quoted, since a name may hold commas ("login, inbox, new deal, search" is one flow).
    return ", ".join(f"“{escape(name)}”" for name in names)


def _details(result: CheckResult) -> str:
    lines = [escape(line[:DETAIL_CHARS]) for line in result.details[:DETAIL_LINES]]
    more = len(result.details) - DETAIL_LINES
    if more > 0:
        lines.append(f"… {more} more")
    return "```" + "\n".join(lines) + "```" if lines else ""


def _verdict(results: Sequence[CheckResult], pending: int, duration_s: float | None) -> str:
    failing = [r.name for r in results if not r.ok]
    if pending:
        so_far = f", {len(failing)} failing so far" if failing else ""
        total = len(results) + pending
        return f":hourglass_flowing_sand: *Checking…* {len(results)} of {total} done{so_far}"
    took = f" in {duration_s:.1f} s" if duration_s is not None else ""
    if not results:
        return ":warning: *No checks are configured.*"
    if not failing:
        return f":large_green_circle: *Healthy*: all {len(results)} checks passed{took}."
    count = f"{len(failing)} of {len(results)} checks failed"
    return f":red_circle: *Not healthy*: {count}{took}: {_quoted(failing)}."


def build_checklist_view(
    results: Sequence[CheckResult],
    *,
    pending: Sequence[str] = (),
    duration_s: float | None = None,
    requested_by: str | None = None,
    diagnostics: Sequence[CheckResult] = (),
    next_step: bool = False,
) -> Message:
    """The checklist so far: verdict line, passed and failed checks, then what is still running.

    ``next_step`` adds, to a failing checklist, how to open the incident it calls for.
    """
    lines = [_line(result) for result in results]
    lines += [f":hourglass: {escape(name)}" for name in pending]
    blocks: list[dict[str, Any]] = [
        header("Validation checklist"),
        section(_verdict(results, len(pending), duration_s)),
        section("\n".join(lines) or "_nothing to check_"),
    ]
    for result in results:
        if not result.ok and result.details:
            blocks.append(section(f"*{escape(result.name)}*\n{_details(result)}"))
    if diagnostics:
        blocks.append(section("*Diagnostics*\n" + "\n".join(_line(d) for d in diagnostics)))
        for diagnostic in diagnostics:
            if diagnostic.details:
                blocks.append(section(f"*{escape(diagnostic.name)}*\n{_details(diagnostic)}"))
    failing = [r.name for r in results if not r.ok]
    if next_step and failing and not pending:
        blocks.append(context(_open_an_incident(results)))
    if requested_by:
        blocks.append(context(f"Asked by {mention(requested_by)}"))
    text = "Validation: " + (
        "running" if pending else "failing: " + ", ".join(failing) if failing else "healthy"
    )
    return message(text, blocks)


def build_verdict_change_view(
    results: Sequence[CheckResult],
    *,
    now_ok: bool,
    duration_s: float,
    diagnostics: Sequence[CheckResult] = (),
) -> Message:
    """Continuous validation's notice, posted only when the verdict changes."""
    checklist = build_checklist_view(results, duration_s=duration_s, diagnostics=diagnostics)
    blocks = checklist["blocks"]
    if now_ok:
        blocks.insert(1, section(":tada: The service is *healthy again*."))
        return message("Continuous validation: the service is healthy again.", blocks)
    failing = [r for r in results if not r.ok]
    said = "Continuous validation: the service is failing: " + ", ".join(r.name for r in failing)
    blocks.append(context(_open_an_incident(results)))
    return message(said, blocks)


def _open_an_incident(results: Sequence[CheckResult]) -> str:
    failing = [r for r in results if not r.ok]
    return (
        f"*Next*: open an incident with `/rollback scenario {suggest_scenario(failing)} "
        "[severity] &lt;what broke&gt;`, or `/rollback blocker &lt;text&gt;` to let the "
        "orchestrator rate it."
    )


def suggest_scenario(failing: Sequence[CheckResult]) -> str:
    """The procedure's scenario that best matches what failed."""
    kinds = {r.kind for r in failing}
    if kinds & {"database", "migrations"}:
        return "database"
    if any("email" in r.name.lower() for r in failing):
        return "email"
    if failing and all("over the" in r.reason or "slow" in r.reason for r in failing):
        return "performance"
    return "critical"
