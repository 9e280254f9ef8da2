"""Block Kit for the validation checklist: the verdict first, then a line per check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actions.checks.result import CheckResult
from bot.views.blocks import Message, context, escape, header, message, section

DETAIL_LINES = 6
DETAIL_CHARS = 300


def _line(result: CheckResult) -> str:
    mark = ":white_check_mark:" if result.ok else ":x:"
    why = "" if result.ok else f": {escape(result.reason)}"
    return f"{mark} *{escape(result.name)}*{why} ({result.duration_s:.2f} s)"


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
    names = ", ".join(escape(name) for name in failing)
    count = f"{len(failing)} of {len(results)} checks failed"
    return f":red_circle: *Not healthy*: {count}{took}: {names}."


def build_checklist_view(
    results: Sequence[CheckResult],
    *,
    pending: Sequence[str] = (),
    duration_s: float | None = None,
    requested_by: str | None = None,
    diagnostics: Sequence[CheckResult] = (),
) -> Message:
    """The checklist so far: verdict line, passed and failed checks, then what is still running."""
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
    if requested_by:
        blocks.append(context(f"Requested by <@{requested_by}>"))
    failing = [r.name for r in results if not r.ok]
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
    blocks.append(
        context(
            f"Open an incident: `/rollback scenario {suggest_scenario(failing)} [severity] "
            "&lt;what broke&gt;`, or `/rollback blocker &lt;text&gt;` to let the orchestrator "
            "rate it."
        )
    )
    return message(said, blocks)


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
