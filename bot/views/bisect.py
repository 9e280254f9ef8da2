"""Block Kit for the bisect's report: the first bad commit, and the good ones to bring back."""

from __future__ import annotations

from bot.flows.bisect import BisectReport
from bot.views.blocks import Message, context, cut_mrkdwn, escape, header, message, section

SHAS_OFFERED = 20


def build_bisect_report_view(report: BisectReport) -> Message:
    incident, result = report.incident, report.result
    title = f"Bisect: incident #{incident.id}"
    runs = f"{result.runs} checklist run(s) over {len(report.commits)} removed commit(s)"
    culprit = result.first_bad
    if culprit is None:
        listed = ", ".join(f"`{sha[:7]}`" for sha in result.candidates[:SHAS_OFFERED])
        return message(
            f"{title}: no single culprit",
            [
                header(title),
                section(
                    f":grey_question: No single commit can be named ({runs}): the checks could "
                    f"not judge some of them. It is one of: {listed}."
                ),
            ],
        )
    failing = ", ".join(report.culprit_failing) or "the checklist"
    blocks = [
        header(title),
        section(
            f":mag: *First bad commit*: `{culprit[:7]}` by {escape(report.culprit_author)} "
            f"({runs}).\n*Failing there*: {escape(failing)}"
        ),
    ]
    if report.culprit_stat:
        blocks.append(section(cut_mrkdwn(f"```{escape(report.culprit_stat)}```", 1500)))
    good = report.good_before
    if good:
        shas = " ".join(sha[:12] for sha in good[:SHAS_OFFERED])
        more = f" (and {len(good) - SHAS_OFFERED} more)" if len(good) > SHAS_OFFERED else ""
        blocks.append(
            section(
                f"*{len(good)} good commit(s) before it*{more} can come back, approved by an "
                f"orchestrator: `/rollback cherry-pick {incident.id} {shas}`"
            )
        )
    blocks.append(context("Each commit was served from an isolated clone; nothing live moved."))
    return message(f"{title}: {culprit[:7]} is the first bad commit", blocks)


def build_bisect_posted_view(report: BisectReport) -> Message:
    first = report.result.first_bad
    said = f"`{first[:7]}` is the first bad commit" if first else "no single culprit was found"
    return message(
        "The bisect is done",
        [
            section(
                f"Bisect of incident #{report.incident.id}: {said}. The report is in its thread."
            )
        ],
    )
