"""Every message the bot's views can build, filled with the largest and most hostile data.

Each string a person (or git, or a command's output) could supply holds Slack markup: a mass
mention, a user mention, a link, a bare ``&``; the lists are long enough to hit the views' caps.
Tests walk these to check escaping, Slack's limits and Block Kit's own validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.bisect import BisectResult, Verdict
from actions.checkpoint import CheckpointInfo, CheckpointResult
from actions.checkpoint_names import CheckpointNames
from actions.checks.checklist import ChecklistResult
from actions.checks.result import CheckResult
from actions.cherry_pick import CherryPickPlan, PickedCommit, pick_fingerprint
from actions.database_plan import DataAtRisk, DatabasePlan, DownMigration, DownScript
from actions.git import CheckpointTag, RepoStatus
from actions.rollback_log import LogEntry
from actions.rollback_plan import DiscardedCommit, RollbackPlan, plan_fingerprint
from bot.config import SlackConfig
from bot.flows.bisect import BisectReport
from bot.flows.checkpoint import CheckpointOutcome, CheckpointRequest
from bot.flows.cherry_pick import PickProposal
from bot.flows.drill import STEPS, Confidence, DrillProgress
from bot.flows.escalation import Page
from bot.flows.home import HomeReport, Rollback
from bot.flows.join import JoinOrNew
from bot.flows.plans import ROLLBACK, cherry_pick_body, rollback_plan_body
from bot.flows.postmortem import fields_for
from bot.flows.postmortem_doc import PostmortemFile
from bot.flows.retry import RetryChecklist
from bot.flows.rollback import Proposal
from bot.flows.rollback_run import Progress, StepState
from bot.flows.run_steps import CHERRY_PICK_STEPS, ROLLBACK_DB_STEPS, ROLLBACK_STEPS
from bot.flows.severity import Rerated
from bot.flows.status import StatusReport
from bot.flows.validation import ValidationReport
from bot.flows.watch_remote import RemoteLook
from bot.grammar import Scenario
from bot.views.bisect import build_bisect_posted_view, build_bisect_report_view
from bot.views.blocker import build_rating_done_view, build_rating_request_view
from bot.views.blocks import Message
from bot.views.cards import build_card_view, build_progress_card_view
from bot.views.checkpoint import (
    build_checkpoint_due_view,
    build_checkpoint_list_view,
    build_checkpoint_outcome_view,
)
from bot.views.delivery import build_cannot_edit_view, build_undelivered_view, channel_problem
from bot.views.drill import (
    build_drill_progress_view,
    build_drill_result_view,
    build_drill_step_views,
)
from bot.views.errors import build_error_view, build_not_available_view
from bot.views.escalation import build_page_view
from bot.views.fix_window import build_fix_forward_card_view, build_fixed_forward_modal_view
from bot.views.help import build_help_view
from bot.views.home import build_home_view
from bot.views.join import build_join_or_new_view, build_joined_note_view
from bot.views.postmortem import (
    build_closed_view,
    build_postmortem_modal_view,
    build_postmortem_summary_view,
    build_reminder_view,
    build_rollback_log_view,
    build_stakeholder_notice_view,
    build_uploaded_view,
)
from bot.views.retry import build_retry_posted_view, build_retry_view
from bot.views.rollback import build_plan_closed_view
from bot.views.root_cause import build_root_cause_view
from bot.views.severity import build_rerated_view
from bot.views.status import build_status_view
from bot.views.validation import build_checklist_view, build_verdict_change_view
from bot.views.watch import build_remote_red_view
from store import (
    DrillRecord,
    Freeze,
    Incident,
    IncidentState,
    Plan,
    PlanState,
    Postmortem,
    RetryRequest,
)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
HOSTILE = "<!channel> <!here|here> <@U0ORCH> <https://evil.example|click> & &amp; `x` *y* > <"
LONG = HOSTILE * 60  # ~5,000 characters
SLACK = SlackConfig(channel="C0INCIDENTS", orchestrators=("U0ORCH", "S0LEADS"))


def _sha(n: int) -> str:
    return f"{n:040x}"


def _incident(scenario: str = "critical") -> Incident:
    decision = {
        "rule": "severity-4-plus",
        "rule_text": "Severity >= 4: rollback without investigation",
        "action": "fix_window_then_rollback",
        "level": "critical",
        "fix_window_min": 30,
    }
    return Incident(
        id=7,
        scenario=scenario,
        severity="5",
        trigger=LONG,
        requester="U0ENG",
        channel="C0INCIDENTS",
        state=IncidentState.AWAITING_APPROVAL,
        created_at=NOW,
        updated_at=NOW,
        message_ts=None,
        decision=decision,
        backup_branch="phase2-broken-20261201-030000",
        to_sha=_sha(1),
        healthy=False,
    )


def _rollback_plan() -> RollbackPlan:
    discarded = tuple(
        DiscardedCommit(_sha(100 + i), f"{HOSTILE} <a@b.example>", LONG, NOW) for i in range(50)
    )
    head, target = _sha(2), _sha(1)
    return RollbackPlan(
        branch="feature/phase2",
        remote="origin",
        target_ref="<!channel>",
        target_sha=target,
        head_sha=head,
        remote_head=head,
        target_is_checkpoint=False,
        target_is_ancestor=False,
        discarded=discarded,
        discarded_count=400,
        dirty_paths=tuple(f"?? {HOSTILE}/{i}" for i in range(200)),
        backup_branch="phase2-broken-20261201-030000",
        migrations_crossed=tuple(f"migrations/phase2_{i}_<!channel>.sql" for i in range(30)),
        fingerprint=plan_fingerprint("feature/phase2", head, head, target),
    )


def _record(kind: str, state: PlanState = PlanState.PROPOSED, **result: Any) -> Plan:
    body = rollback_plan_body(_rollback_plan()) if kind == ROLLBACK else cherry_pick_body(_picks())
    return Plan(
        id=3,
        incident_id=7,
        kind=kind,
        body=body,
        fingerprint="f" * 64,
        requested_by="U0ENG",
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
        state=state,
        approved_by="U0ORCH",
        approved_at=NOW,
        waived=True,
        forced=True,
        attempt=1,
        channel="C0INCIDENTS",
        message_ts="1.0",
        result=dict(result),
    )


def _picks() -> CherryPickPlan:
    commits = tuple(PickedCommit(_sha(200 + i), HOSTILE, LONG) for i in range(50))
    shas = [commit.sha for commit in commits]
    return CherryPickPlan(
        branch="feature/phase2",
        remote="origin",
        head_sha=_sha(1),
        remote_head=_sha(1),
        backup_branch="phase2-broken-20261201-030000",
        backup_sha=_sha(3),
        commits=commits,
        fingerprint=pick_fingerprint("feature/phase2", _sha(1), _sha(1), _sha(3), shas),
    )


def _checks() -> tuple[CheckResult, ...]:
    details = tuple(LONG for _ in range(20))
    return tuple(
        CheckResult(f"{HOSTILE} {i}", "endpoint", i % 2 == 0, HOSTILE, 2.5, details)
        for i in range(40)
    )


def _progress(plan: Plan, steps: tuple[Any, ...], **extra: Any) -> Progress:
    states = tuple(StepState(s.name, s.title, "failed", LONG) for s in steps)
    facts = {"failing": [HOSTILE] * 40, "push": LONG, "applied": [], "checks": 40}
    return Progress(plan, states, facts, _checks(), **extra)


def _outcome(refused: bool) -> CheckpointOutcome:
    names = CheckpointNames("phase2-checkpoint-T+8h", LONG, LONG, "T+8h")
    validation = ValidationReport(ChecklistResult(_checks(), 3.0), _checks(), False)
    result = CheckpointResult(
        names, _sha(1), True, tuple(HOSTILE for _ in range(50)), _sha(2), "origin", "b", LONG
    )
    request = CheckpointRequest("checkpoint", 8, LONG)
    if refused:
        return CheckpointOutcome(request, names, validation, None, None, "0123456789abcdef")
    return CheckpointOutcome(request, names, validation, result, "U0ORCH")


def _status() -> StatusReport:
    tags = tuple(CheckpointTag(HOSTILE, _sha(i), NOW, LONG) for i in range(40))
    repo = RepoStatus(HOSTILE, "feature/phase2", _sha(1), LONG, _sha(2), HOSTILE, 9, "rebase", tags)
    incidents = tuple(_incident() for _ in range(40))
    return StatusReport(
        "autolytiq", "phase2", NOW - timedelta(hours=30), NOW, repo, None, incidents
    )


def _home() -> HomeReport:
    incident = _incident()
    closed = replace(incident, state=IncidentState.CLOSED, resolved_by="U0ORCH")
    rollbacks = tuple(Rollback(replace(incident, id=i), _postmortem(incident)) for i in range(3, 8))
    status = replace(_status(), frozen=LONG, confidence=_confidence())
    return HomeReport(status, rollbacks, (closed,) * 10)


def _confidence() -> tuple[Confidence, ...]:
    drill = DrillRecord(1, HOSTILE, NOW, NOW, False, 9.5, _sha(1), "git", ("clone",), LONG, "U0")
    return tuple(
        Confidence(HOSTILE, level, level != "LOW", LONG[:300], drill if level != "LOW" else None)
        for level in ("HIGH", "MEDIUM", "LOW") * 2
    )


def _postmortem(incident: Incident) -> Postmortem:
    fields = {field.key: LONG * 2 for field in fields_for(replace(incident, scenario="email"))}
    return Postmortem(
        incident.id, "C0INCIDENTS", "1.0", "2.0", fields, (HOSTILE,) * 20, NOW, NOW, "U0ENG", None
    )


def sample_views() -> Iterator[tuple[str, Message]]:
    """(name, message) for every view, with the data above."""
    plan, picks, incident = _rollback_plan(), _picks(), _incident()
    rollback, pick = _record("rollback"), _record("cherry_pick")
    yield "help", build_help_view()
    yield "error", build_error_view(LONG, valid_forms=(HOSTILE, "/rollback to <tag>"))
    yield "not available", build_not_available_view("/rollback <!channel>")
    yield "status", build_status_view(_status())
    yield (
        "home",
        build_home_view(
            _home(), links={7: "https://emulator.slack.com/archives/C0/p1?thread_ts=1.0&cid=C0"}
        ),
    )
    yield "checklist", build_checklist_view(_checks(), pending=[HOSTILE] * 10, requested_by="U1")
    yield "verdict", build_verdict_change_view(_checks(), now_ok=False, duration_s=1.0)
    yield "checkpoint done", build_checkpoint_outcome_view(_outcome(False), requested_by="U1")
    yield "checkpoint refused", build_checkpoint_outcome_view(_outcome(True), requested_by="U1")
    yield "checkpoint due", build_checkpoint_due_view(HOSTILE, "0123456789abcdef")
    infos = tuple(CheckpointInfo(HOSTILE, _sha(i), NOW, LONG, False) for i in range(60))
    yield (
        "checkpoint list",
        build_checkpoint_list_view(infos, remote=HOSTILE, remote_problem=LONG, now=NOW),
    )
    yield "incident card", build_card_view(Proposal(incident, None, plan, rollback, LONG), SLACK)
    yield "fix forward card", build_card_view(Proposal(incident, None, None, None), SLACK)
    yield "cherry-pick card", build_card_view(PickProposal(incident, picks, pick), SLACK)
    running = _progress(rollback, ROLLBACK_STEPS, stopped_at="reset", error=LONG)
    yield "rollback stopped", build_progress_card_view(incident, running, SLACK)
    done = _progress(rollback, ROLLBACK_STEPS, finished=True)
    yield "rollback done", build_progress_card_view(incident, done, SLACK)
    picking = _progress(pick, CHERRY_PICK_STEPS, finished=True)
    yield "cherry-pick done", build_progress_card_view(incident, picking, SLACK)
    aborted = _record("rollback", PlanState.ABORTED, backup_branch="b")
    yield "closed", build_plan_closed_view(incident=incident, plan=plan, record=aborted, why="x")
    reason = channel_problem("C0INCIDENTS", "not_in_channel")
    card = build_card_view(Proposal(incident, None, plan, rollback, LONG), SLACK)
    yield "undelivered", build_undelivered_view(card, reason=reason, reached=["U0ORCH"] * 5)
    yield "cannot edit", build_cannot_edit_view(reason=reason)
    yield from _second_wave_views(incident)


def _second_wave_views(incident: Incident) -> Iterator[tuple[str, Message]]:
    blocker = replace(
        incident, source="blocker", severity=None, state=IncidentState.AWAITING_RATING
    )
    yield "blocker card", build_card_view(Proposal(blocker, None, None, None), SLACK)
    yield "rating request", build_rating_request_view(blocker)
    rated = replace(blocker, severity="4", rated_by="U0ORCH", state=IncidentState.FIXING)
    yield "rating done", build_rating_done_view(rated, LONG)
    window = Proposal(rated, None, None, None, window_ends_at=NOW)
    yield "fix window card", build_card_view(window, SLACK)
    yield "fix forward", build_fix_forward_card_view(incident, SLACK, LONG)
    resolved = replace(incident, state=IncidentState.RESOLVED, lesson=LONG, resolved_by="U0ENG")
    yield "fixed forward", build_card_view(Proposal(resolved, None, None, None), SLACK)
    page = Page(7, 1, 4, 2, ("U0LEAD", "S0LEADS"), "approve or reject the rollback")
    yield "page", build_page_view(incident, page)
    rerated = Rerated(incident, "3", 5, True, LONG)
    yield "rerated", build_rerated_view(rerated)
    yield from _procedure_views(incident)


def _procedure_views(incident: Incident) -> Iterator[tuple[str, Message]]:
    """The email scenario's evidence, the database step, the root-cause questions."""
    email = replace(
        _rollback_plan(),
        target_reason=HOSTILE,
        email_matches=tuple(f"{_sha(300 + i)} {HOSTILE}" for i in range(30)),
        email_files_removed=tuple(f"server/email/{HOSTILE}{i}.ts" for i in range(30)),
    )
    rollback = _record("rollback")
    yield "email card", build_card_view(Proposal(incident, None, email, rollback, LONG), SLACK)
    script = DownScript(f"migrations/rollback/{HOSTILE}.down.sql", f"DROP TABLE x; {LONG}", ())
    database = DatabasePlan(
        table="drizzle.__drizzle_migrations",
        migrations=tuple(DownMigration(f"{HOSTILE}{i}", HOSTILE, _sha(i)) for i in range(20)),
        scripts=(script,) * 12,
        command=(),
        applied_before=(),
        at_risk=tuple(DataAtRisk(f"table {HOSTILE}", i or None) for i in range(20)),
    )
    with_db = replace(_rollback_plan(), database=database)
    yield "database card", build_card_view(Proposal(incident, None, with_db, rollback, LONG), SLACK)
    commanded = replace(with_db, database=replace(database, scripts=(), command=(HOSTILE, LONG)))
    yield (
        "command card",
        build_card_view(Proposal(incident, None, commanded, rollback, LONG), SLACK),
    )
    gone = replace(with_db, database=replace(database, migrations=(), unavailable=HOSTILE))
    yield "no database", build_card_view(Proposal(incident, None, gone, rollback, LONG), SLACK)
    facts = {
        "db_backup": HOSTILE,
        "db_backup_bytes": 12345678,
        "db_rolled_back": True,
        "db_statements": 3,
        "db_restore": HOSTILE,
        "untracked_removed": [HOSTILE] * 30,
        "untracked_kept": [HOSTILE] * 3,
        "failing": [],
        "push": LONG,
        "checks": 2,
    }
    states = tuple(StepState(s.name, s.title, "done") for s in ROLLBACK_DB_STEPS)
    progress = Progress(rollback, states, facts, (), finished=True)
    yield "database done", build_progress_card_view(incident, progress, SLACK)
    stopped = _record("rollback", PlanState.STOPPED, stopped_at="reset", error=LONG)
    halfway = Progress(stopped, states, facts, (), stopped_at="reset", error=LONG)
    yield "database stopped", build_progress_card_view(incident, halfway, SLACK)
    yield "root cause", build_root_cause_view(incident)
    slow = replace(incident, scenario="performance", state=IncidentState.FIXING)
    diagnosed = Proposal(slow, None, None, None, diagnostics=(HOSTILE, LONG) * 6)
    yield "performance window", build_card_view(diagnosed, SLACK)
    asked = JoinOrNew(incident, "0123456789abcdef", Scenario(HOSTILE, None, LONG), "U0ENG")
    yield "join or new", build_join_or_new_view(asked)
    yield "joined note", build_joined_note_view(incident, "U0ENG", LONG)
    secure = replace(incident, scenario="security")
    done = _progress(rollback, ROLLBACK_STEPS, finished=True)
    yield "security done", build_progress_card_view(secure, done, SLACK)
    yield "security ticked", build_progress_card_view(secure, done, SLACK, rotated_by="U0ENG")
    yield from _third_wave_views(incident)


def _third_wave_views(incident: Incident) -> Iterator[tuple[str, Message]]:
    """The post-mortem thread, the log, the retry checklist: with 10,000-character fields."""
    email = replace(incident, scenario="email", state=IncidentState.ROLLED_BACK, lesson=LONG)
    postmortem = _postmortem(email)
    entry = LogEntry(
        7, NOW, LONG, "Critical", _sha(2), _sha(1), HOSTILE, HOSTILE, (LONG,) * 3, LONG
    )
    yield (
        "postmortem summary",
        build_postmortem_summary_view(email, postmortem, entry, stakeholder_channel="C0STAKE"),
    )
    yield (
        "postmortem fixed forward",
        build_postmortem_summary_view(
            replace(email, state=IncidentState.RESOLVED), postmortem, None, stakeholder_channel=None
        ),
    )
    yield "reminder hour", build_reminder_view(email, ["U0ENG", "U0ORCH"], day=False)
    yield "reminder day", build_reminder_view(email, ["U0ENG"], day=True)
    yield "stakeholders", build_stakeholder_notice_view(email, postmortem)
    yield "log", build_rollback_log_view([entry] * 50, asked=50, path=HOSTILE)
    yield "log empty", build_rollback_log_view([], asked=5, path="ROLLBACK_LOG.md")
    yield "closed incident", build_closed_view(email)
    file = PostmortemFile(email, "postmortem-incident-7.md", LONG)
    yield "postmortem uploaded", build_uploaded_view(file)
    freeze = Freeze(1, "phase2", 7, NOW, "U0ORCH", None, None)
    retry = RetryRequest(4, 7, "U0ENG", NOW, "C0INCIDENTS", "3.0", ("review_log",), None, None)
    checklist = RetryChecklist(retry, email, freeze)
    yield "retry checklist", build_retry_view(checklist, orchestrators=SLACK.orchestrators)
    approved = replace(checklist, retry=replace(retry, approved_by="U0LEAD", approved_at=NOW))
    yield "retry approved", build_retry_view(approved, orchestrators=SLACK.orchestrators)
    yield "retry posted", build_retry_posted_view(checklist)
    drill = DrillProgress(HOSTILE, [(name, i % 2 == 0, LONG) for i, (name, _) in enumerate(STEPS)])
    yield "drill running", build_drill_progress_view(drill)
    record = _confidence()[1].drill
    yield "drill done", build_drill_result_view(replace(drill, record=record), _confidence())
    for i, reply in enumerate(build_drill_step_views(replace(drill, record=record))):
        yield f"drill thread reply {i}", reply
    yield "status with confidence", build_status_view(replace(_status(), confidence=_confidence()))
    yield from _bisect_views(email)
    yield from _watch_views()


def _watch_views() -> Iterator[tuple[str, Message]]:
    look = RemoteLook(_sha(9), ok=False, failing=(HOSTILE,) * 40, subject=LONG)
    yield "watch remote red", build_remote_red_view(look, remote=HOSTILE, branch=HOSTILE)


def _bisect_views(incident: Incident) -> Iterator[tuple[str, Message]]:
    commits = tuple(_sha(400 + i) for i in range(64))
    judged = tuple((sha, Verdict.BAD) for sha in commits[:7])
    found = BisectResult(commits[31], (commits[31],), judged)
    report = BisectReport(incident, found, commits, commits[:31], HOSTILE, LONG, (HOSTILE,) * 30)
    yield "bisect report", build_bisect_report_view(report)
    yield "bisect posted", build_bisect_posted_view(report)
    unsure = BisectReport(incident, BisectResult(None, commits, judged), commits, ())
    yield "bisect unsure", build_bisect_report_view(unsure)


def sample_modals() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every modal the bot opens, holding the longest texts they may hold."""
    email = replace(_incident(), scenario="email", state=IncidentState.ROLLED_BACK)
    yield "postmortem modal", build_postmortem_modal_view(email, _postmortem(email))
    yield "fixed forward modal", build_fixed_forward_modal_view(email)


def mrkdwn_texts(message: Message) -> Iterator[str]:
    """Every text Slack reads as mrkdwn in a message, and its fallback ``text``."""
    yield str(message.get("text", ""))
    for block in message.get("blocks") or []:
        for item in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(item, dict) and item.get("type") == "mrkdwn":
                yield str(item.get("text", ""))
