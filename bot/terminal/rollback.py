"""``rollback-bot rollback``: the break-glass rollback from a terminal, for when Slack is down.

The same flows as the Slack card (plan, approve, the journaled run, resume, abort), recorded in
the same timeline under the OS user with surface "terminal". Whoever has a shell on the box both
asks and approves (``break_glass``), so the approval is a typed confirmation instead: the target's
short sha, or the words "approve anyway" when the plan carries warnings. The cards are the Slack
views rendered as text, without their buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk import WebClient

from actions.errors import InputError, RollbackBotError
from bot import grammar
from bot.deps import Deps
from bot.flows.approval import judge_approval, judge_rejection
from bot.flows.asker import Asker
from bot.flows.plans import ROLLBACK, incident_of, rollback_plan_from_body
from bot.flows.rollback import Proposal, needs_confirmation, request_target
from bot.flows.rollback_resume import abort_plan, judge_resume, progress_of, recover_interrupted
from bot.flows.rollback_run import Progress, execute_plan, stopped_step
from bot.ids import BlockId
from bot.slack.cards import close_superseded, show_terminal_run
from bot.terminal.render import render_message
from bot.views.blocks import Message
from bot.views.cards import build_card_view, build_progress_card_view
from bot.views.rollback import (
    build_plan_closed_view,
)
from store import Plan, Surface

SURFACE = Surface.TERMINAL
ANYWAY = "approve anyway"
NOT_APPROVED = "Not approved; nothing was changed."
EXIT_DONE, EXIT_NOT_DONE, EXIT_UNHEALTHY, EXIT_INTERRUPTED = 0, 1, 3, 130
_REPLANS = 3  # the repository moving under every plan shown: give up after this many


@dataclass(frozen=True)
class Terminal:
    say: Callable[[str], None]  # one or more lines to stdout
    ask: Callable[[str], str | None]  # a prompt's answer; None at EOF or Ctrl-C
    #: Slack, when it is reachable from here (SLACK_BOT_TOKEN set): the run is shown on its card.
    slack: WebClient | None = None


def recover(deps: Deps, *, term: Terminal) -> None:
    """A crashed ``serve`` (or terminal) may have left a plan RUNNING: mark it stopped, say so."""
    for record in recover_interrupted(deps):
        where = stopped_step(record)
        term.say(
            f"Notice: rollback plan #{record.id} (incident #{record.incident_id}) was left "
            f"running by a process that is gone; it is now stopped at “{where}”. "
            f"{_choices(record.id)}"
        )


def rollback_to(
    deps: Deps, *, target: str, actor: str, term: Terminal, yes: bool, approve_anyway: bool
) -> int:
    _refuse_while_under_way(deps)
    proposal = request_target(
        deps,
        grammar.RollbackTo(target=target),
        Asker(actor, SURFACE),
        trigger=f"rollback to {target} requested from a terminal",
    )
    for _ in range(_REPLANS):
        plan, record = proposal.plan, proposal.record
        assert plan is not None and record is not None  # an explicit target always gets a plan
        _show(
            term,
            build_card_view(
                proposal,
                deps.settings.config.slack,
                fallback=deps.settings.config.escalation.fallback,
            ),
        )
        reasons = needs_confirmation(plan)
        anyway = bool(reasons or plan.database_waiver_needed)
        if yes and anyway and not approve_anyway:
            _reject(deps, record, actor)
            raise RollbackBotError(
                "--yes is not enough: this plan has warnings. Pass --approve-anyway as well, or "
                f"leave out --yes and type “{ANYWAY}”. {NOT_APPROVED}"
            )
        if not yes and not _confirmed(term, plan.target_sha[:7], anyway=anyway):
            _reject(deps, record, actor)
            term.say(NOT_APPROVED)
            return EXIT_NOT_DONE
        verdict = judge_approval(
            deps,
            plan_id=record.id,
            fingerprint=record.fingerprint,
            actor=actor,
            surface=SURFACE,
            waive=anyway and plan.database_waiver_needed,
            force=anyway and bool(reasons),
            break_glass=True,
        )
        if verdict.outcome == "approved" and verdict.record is not None:
            if term.slack is not None:
                close_superseded(deps, term.slack, verdict.record, verdict.superseded)
            return _run(
                deps, verdict.record, attempt=verdict.record.attempt, actor=actor, term=term
            )
        if verdict.outcome != "replanned" or not isinstance(verdict.fresh, Proposal):
            raise RollbackBotError(verdict.message)
        term.say(verdict.message)
        proposal = verdict.fresh
    raise RollbackBotError("The repository keeps moving; stop what changes it, then try again.")


def resume(deps: Deps, *, plan_id: int, actor: str, term: Terminal) -> int:
    record = _rollback_record(deps, plan_id)
    decided = judge_resume(
        deps, plan_id=plan_id, attempt=record.attempt, actor=actor, surface=SURFACE
    )
    if decided.refusal is not None or decided.attempt is None:
        raise RollbackBotError(f"Plan #{plan_id}: {decided.refusal or 'nothing to resume.'}")
    term.say(f"Resuming rollback plan #{plan_id} from “{stopped_step(record)}”.")
    return _run(deps, decided.record, attempt=decided.attempt, actor=actor, term=term)


def abort(deps: Deps, *, plan_id: int, actor: str, term: Terminal) -> int:
    record = _rollback_record(deps, plan_id)
    decided = abort_plan(
        deps, plan_id=plan_id, attempt=record.attempt, actor=actor, surface=SURFACE
    )
    if decided.refusal is not None:
        raise RollbackBotError(f"Plan #{plan_id}: {decided.refusal}")
    result = decided.record.result
    head = str(result.get("head_at_abort") or "unknown")[:10]
    why = (
        f"aborted by {actor} at “{stopped_step(decided.record)}”; the lock is released and "
        f"HEAD is at {head}."
    )
    plan = rollback_plan_from_body(record.body)
    incident = incident_of(deps, record)
    _show(
        term, build_plan_closed_view(incident=incident, plan=plan, record=decided.record, why=why)
    )
    return EXIT_DONE


# -- helpers -------------------------------------------------------------------------------------


def _refuse_while_under_way(deps: Deps) -> None:
    # A stopped plan keeps the repository lock, and the repository may be half rolled back.
    under_way = deps.store.unfinished_plans()
    if under_way:
        record = under_way[0]
        raise RollbackBotError(
            f"Rollback plan #{record.id} is {record.state.value} at "
            f"“{stopped_step(record)}”; the repository may be half rolled back. "
            f"{_choices(record.id)} Nothing was changed."
        )


def _rollback_record(deps: Deps, plan_id: int) -> Plan:
    record = deps.store.get_plan(plan_id)
    if record is None or record.kind != ROLLBACK:
        raise InputError(f"There is no rollback plan #{plan_id}; nothing was changed.")
    return record


def _confirmed(term: Terminal, short_sha: str, *, anyway: bool) -> bool:
    word = ANYWAY if anyway else short_sha
    why = " (this plan has warnings, see above)" if anyway else ""
    answer = term.ask(f"Type “{word}” to roll back{why}; anything else aborts: ")
    if answer is None:
        term.say("")  # the prompt's line was left open
        return False
    return " ".join(answer.split()).lower() == word


def _reject(deps: Deps, record: Plan, actor: str) -> None:
    judge_rejection(
        deps,
        plan_id=record.id,
        fingerprint=record.fingerprint,
        actor=actor,
        surface=SURFACE,
    )


def _run(deps: Deps, record: Plan, *, attempt: int, actor: str, term: Terminal) -> int:
    printer = _StepPrinter(term.say, progress_of(deps, record))
    try:
        final = execute_plan(
            deps, record, attempt=attempt, actor=actor, surface=SURFACE, on_progress=printer
        )
    except KeyboardInterrupt:
        # The journal has every finished step; the next command marks the plan stopped.
        term.say(f"\nInterrupted. {_choices(record.id)}")
        return EXIT_INTERRUPTED
    latest = deps.store.get_plan(record.id)
    final = replace(final, plan=latest) if latest is not None else final
    card = build_progress_card_view(incident_of(deps, record), final, deps.settings.config.slack)
    _show(term, card, steps_printed=True)
    if term.slack is not None:
        term.say(show_terminal_run(deps, term.slack, final.plan, card))
    if not final.finished:
        term.say(f"The rollback stopped. {_choices(record.id)}")
        return EXIT_NOT_DONE
    return EXIT_DONE if final.healthy else EXIT_UNHEALTHY


class _StepPrinter:
    """One line per step as it finishes or fails, and each check of the checklist as it lands."""

    def __init__(self, say: Callable[[str], None], start: Progress) -> None:
        self._say = say
        self._seen = {step.name: step.status for step in start.steps}
        self._checks = 0

    def __call__(self, progress: Progress) -> None:
        for result in progress.checks[self._checks :]:
            mark = "ok  " if result.ok else "FAIL"
            self._say(f"    {mark} {result.name}{f': {result.reason}' if result.reason else ''}")
        self._checks = len(progress.checks)
        for step in progress.steps:
            if self._seen.get(step.name) == step.status:
                continue
            self._seen[step.name] = step.status
            if step.status == "done":
                self._say(f"✓ {step.title}")
            elif step.status == "failed":
                self._say(f"✗ {step.title}: {step.note}")


def _choices(plan_id: int) -> str:
    resume, abort = (f"rollback-bot rollback --{verb} {plan_id}" for verb in ("resume", "abort"))
    return f"Resume: {resume} · Abort: {abort}"


def _show(term: Terminal, message: Message, *, steps_printed: bool = False) -> None:
    """A card as text, without its buttons and the line telling Slack users which to press;
    with ``steps_printed``, without the step list the run has just printed line by line."""
    kept, after_buttons = [], False
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if steps_printed and block.get("block_id") == BlockId.ROLLBACK_STEPS.value:
            first = block["text"]["text"].split("\n", 1)[0]
            block = {**block, "text": {**block["text"], "text": first}}
        if kind != "actions" and not (kind == "context" and after_buttons):
            kept.append(block)
        after_buttons = kind == "actions"
    lines, _ = render_message({**message, "blocks": kept})
    term.say("\n".join(lines))
