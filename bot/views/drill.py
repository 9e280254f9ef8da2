"""Block Kit for drills: the practice run as it goes, its result, and the confidence table
that replaces the procedure's hand-kept one ("Action Required" line included)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.flows.drill import STEPS, TITLES, Confidence, DrillProgress
from bot.views.blocks import Message, context, escape, header, message, section

_MARK = {True: ":white_check_mark:", False: ":x:"}


def _step_lines(progress: DrillProgress, *, running: bool) -> str:
    lines = [
        f"{_MARK[ok]} {TITLES[name]}: {escape(detail)}".rstrip(": ")
        for name, ok, detail in progress.done
    ]
    done = {name for name, _, _ in progress.done}
    if running:
        lines += [f":white_small_square: {title}" for name, title in STEPS if name not in done]
    return "\n".join(lines)


def build_drill_progress_view(progress: DrillProgress) -> Message:
    title = f"Drill: {progress.scenario}"
    return message(
        f"{title}: running",
        [
            header(title),
            section(
                f":hourglass_flowing_sand: Practising the rollback in an isolated clone "
                f"(the live working copy and remote are only read).\n"
                f"{_step_lines(progress, running=True)}"
            ),
        ],
    )


def build_drill_step_views(progress: DrillProgress) -> list[Message]:
    """The thread under the drill's message: a reply per finished step, then the verdict."""
    replies = [
        message(
            f"{TITLES[name]}: {'done' if ok else 'failed'}",
            [section(f"{_MARK[ok]} *{TITLES[name]}*" + (f"\n{escape(detail)}" if detail else ""))],
        )
        for name, ok, detail in progress.done
    ]
    record = progress.record
    if record is not None:
        verdict = (
            f"The drill passed in {record.duration_s:.1f} s, and is recorded."
            if record.ok
            else f"The drill failed, and is recorded: {record.problem}"
        )
        replies.append(message(verdict, [section(f"{_MARK[record.ok]} {escape(verdict)}")]))
    return replies


def build_drill_result_view(progress: DrillProgress, table: Sequence[Confidence]) -> Message:
    record = progress.record
    ok = record is not None and record.ok
    title = f"Drill: {progress.scenario}"
    verdict = (
        f":white_check_mark: *Passed* in {record.duration_s:.1f} s: the rollback works on "
        f"this repository's history (commit `{(record.commit_sha or '')[:7]}`)."
        if ok and record is not None
        else f":x: *Failed*: {escape(record.problem if record else 'it did not finish')}"
    )
    return message(
        f"{title}: {'passed' if ok else 'failed'}",
        [
            header(title),
            section(f"{verdict}\n{_step_lines(progress, running=False)}"),
            section(build_confidence_text(table)),
            context("Recorded. A passing drill counts for `drills.fresh_for_days`."),
        ],
    )


def build_confidence_text(table: Sequence[Confidence]) -> str:
    rows = [
        f"• {escape(row.scenario)}: *{row.level}* · "
        f"{'tested' if row.tested else 'not tested'}"
        + (
            f" ({'passed' if row.drill.ok else 'failed'} {row.drill.finished_at:%Y-%m-%d})"
            if row.drill
            else ""
        )
        + f" · {escape(row.documentation)}"
        for row in table
    ]
    untested = [row.scenario for row in table if row.level != "HIGH"]
    action = (
        f"*Action required*: drill {', '.join(untested)} (`/rollback drill <scenario>`).".replace(
            "<scenario>", "&lt;scenario&gt;"
        )
        if untested
        else "Every scenario has a fresh passing drill."
    )
    if all(row.drill is None for row in table):
        return f"*Confidence*: no drills yet, so no scenario is tested.\n{action}"
    return "*Confidence*\n" + "\n".join(rows) + f"\n{action}"
