"""The approval rules, each through the real flow (scripts/mutants bot/flows/approval.py).

Every rule in bot/flows/approval.py is decided inside ``judge_approval``/``judge_rejection``,
which return before anything is carried out, so these call the flow the Slack buttons and the
terminal call, on a real repository with a bare origin and the real store: no rollback runs,
and each test takes well under a second (tests/test_rules.py proves the same rules end to end
through Slack, a few seconds each).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from actions.errors import InputError, RollbackBotError
from actions.git import open_repo
from actions.rollback_plan import verify_plan
from bot import grammar
from bot.config import Config
from bot.deps import Deps
from bot.flows.approval import Verdict, judge_approval, judge_rejection
from bot.flows.asker import Asker
from bot.flows.cherry_pick import PickProposal, picks_moved, plan_picks, request_cherry_pick
from bot.flows.escalation import start_paging
from bot.flows.plans import cherry_pick_from_body, rollback_plan_from_body
from bot.flows.rollback import Proposal, replan, request_scenario, request_target
from store import IncidentState, Plan, PlanState, SqliteStore, Surface, TimelineAction
from tests.conftest import make_settings
from tests.gitrepo import PhaseRepo, git

ENGINEER, ORCHESTRATOR, OTHER = "U0ENG", "U0ORCH", "U0ORCH2"
BACKUP = "phase2-broken-20251121-143000"
NOTHING = "Nothing was changed."


class Clock:
    """The deps' clock, moved by hand: expiry is decided against it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


def _deps(config: Config, clock: Clock, **slack: object) -> Deps:
    config = dataclasses.replace(config, slack=dataclasses.replace(config.slack, **slack))  # type: ignore[arg-type]
    return Deps(settings=make_settings(config), store=SqliteStore(config.store.path), clock=clock)


@pytest.fixture
def deps(config: Config, clock: Clock) -> Iterator[Deps]:
    made = _deps(config, clock)
    yield made
    made.close()


def _ask(deps: Deps, who: str = ENGINEER, scenario: str = "critical") -> Plan:
    # Several open incidents at once, as if each reporter said "a new incident".
    proposal = request_scenario(
        deps,
        grammar.Scenario(scenario, "5", "API down"),
        Asker(who, Surface.SLACK),
        join_check=False,
    )
    assert isinstance(proposal, Proposal) and proposal.record is not None
    return proposal.record


def _approve(deps: Deps, record: Plan, who: str = ORCHESTRATOR, **flags: bool) -> Verdict:
    return judge_approval(
        deps,
        plan_id=record.id,
        fingerprint=record.fingerprint,
        actor=who,
        surface=Surface.SLACK,
        **flags,
    )


def _reject(deps: Deps, record: Plan, who: str = ORCHESTRATOR) -> Verdict:
    return judge_rejection(
        deps, plan_id=record.id, fingerprint=record.fingerprint, actor=who, surface=Surface.SLACK
    )


def _state(deps: Deps, record: Plan) -> PlanState:
    latest = deps.store.get_plan(record.id)
    assert latest is not None
    return latest.state


def _last_event(deps: Deps) -> tuple[str, str, Surface, int | None, dict[str, object]]:
    event = deps.store.timeline(limit=1)[-1]
    return (event.action, event.actor, event.surface, event.incident_id, event.details)


# -- approved ---------------------------------------------------------------------------------------


def test_approval_by_an_orchestrator_runs_the_plan_once_and_is_recorded(deps: Deps) -> None:
    record = _ask(deps)
    verdict = _approve(deps, record)
    assert (verdict.outcome, verdict.message, verdict.fresh) == ("approved", "Approved.", None)
    # The verdict carries the plan as approved, which the caller then runs.
    assert verdict.record is not None
    assert (verdict.record.state, verdict.record.approved_by, verdict.record.attempt) == (
        PlanState.RUNNING,
        ORCHESTRATOR,
        1,
    )
    assert _last_event(deps) == (
        TimelineAction.ROLLBACK_APPROVED,
        ORCHESTRATOR,
        Surface.SLACK,
        record.incident_id,
        {"plan": record.id, "waived": False, "forced": False, "superseded": []},
    )
    again = _approve(deps, record, who=OTHER)
    assert (again.outcome, again.message) == (
        "refused",
        f"Already approved by @{ORCHESTRATOR}; the rollback is under way.",
    )


def test_approval_retires_every_other_open_plan_and_says_which(deps: Deps) -> None:
    # Once one plan runs, the repository moves: another incident's open plan no longer
    # describes it, so its card must stop offering Approve (its incident stays open).
    other = _ask(deps, scenario="security")
    record = _ask(deps)
    verdict = _approve(deps, record)
    assert [plan.id for plan in verdict.superseded] == [other.id]
    assert verdict.superseded[0].state is PlanState.SUPERSEDED
    assert _state(deps, other) is PlanState.SUPERSEDED
    incident = deps.store.get_incident(other.incident_id)
    assert incident is not None and incident.state is IncidentState.OPEN
    assert _last_event(deps)[4] == {
        "plan": record.id,
        "waived": False,
        "forced": False,
        "superseded": [other.id],
    }


def test_approval_verdict_is_frozen(deps: Deps) -> None:
    # The listener and the terminal act on the verdict they were handed; neither may edit it
    # (say, turn a refusal into an approval) on the way.
    verdict = _approve(deps, _ask(deps))
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.outcome = "refused"  # type: ignore[misc]


def test_approval_accepts_a_prefix_of_the_fingerprint_the_card_carries(deps: Deps) -> None:
    record = _ask(deps)
    verdict = judge_approval(
        deps,
        plan_id=record.id,
        fingerprint=record.fingerprint[:16],
        actor=ORCHESTRATOR,
        surface=Surface.SLACK,
    )
    assert verdict.outcome == "approved"


@pytest.mark.parametrize("fingerprint", ["", "0" * 64, "not-a-fingerprint"])
def test_approval_or_rejection_with_a_button_that_does_not_match_is_an_input_error(
    deps: Deps, fingerprint: str
) -> None:
    record = _ask(deps)
    for judge in (judge_approval, judge_rejection):
        for plan_id in (record.id, record.id + 100):
            with pytest.raises(InputError) as refused:
                judge(
                    deps,
                    plan_id=plan_id,
                    fingerprint=fingerprint if plan_id == record.id else record.fingerprint,
                    actor=ORCHESTRATOR,
                    surface=Surface.SLACK,
                )
            assert refused.value.user_message == (
                "That button does not match a rollback plan; nothing was changed."
            )
    assert _state(deps, record) is PlanState.PROPOSED


# -- the requester ----------------------------------------------------------------------------------


def test_approval_by_the_requester_is_refused_and_recorded(deps: Deps) -> None:
    record = _ask(deps, who=ORCHESTRATOR)
    verdict = _approve(deps, record, who=ORCHESTRATOR)
    refusal = (
        "You asked for this rollback, so another orchestrator must approve it "
        f"(slack.requester_can_approve is off). {NOTHING}"
    )
    assert (verdict.outcome, verdict.message, verdict.record) == ("refused", refusal, record)
    assert _state(deps, record) is PlanState.PROPOSED
    assert _last_event(deps) == (
        TimelineAction.APPROVAL_REFUSED,
        ORCHESTRATOR,
        Surface.SLACK,
        record.incident_id,
        {"plan": record.id, "reason": refusal},
    )
    assert _approve(deps, record, who=OTHER).outcome == "approved"


def test_approval_by_the_requester_when_the_config_allows_it(config: Config, clock: Clock) -> None:
    deps = _deps(config, clock, requester_can_approve=True)
    try:
        record = _ask(deps, who=ORCHESTRATOR)
        assert _approve(deps, record, who=ORCHESTRATOR).outcome == "approved"
    finally:
        deps.close()


def test_approval_by_the_requester_at_a_terminal_break_glass(deps: Deps) -> None:
    record = _ask(deps, who="os:oncall")
    verdict = judge_approval(
        deps,
        plan_id=record.id,
        fingerprint=record.fingerprint,
        actor="os:oncall",
        surface=Surface.TERMINAL,
        break_glass=True,
    )
    assert verdict.outcome == "approved"
    assert _last_event(deps)[:3] == (
        TimelineAction.ROLLBACK_APPROVED,
        "os:oncall",
        Surface.TERMINAL,
    )


def test_approval_break_glass_still_refuses_an_expired_plan(deps: Deps, clock: Clock) -> None:
    record = _ask(deps, who="os:oncall")
    clock.now = record.expires_at
    verdict = judge_approval(
        deps,
        plan_id=record.id,
        fingerprint=record.fingerprint,
        actor="os:oncall",
        surface=Surface.TERMINAL,
        break_glass=True,
    )
    assert verdict.outcome == "refused" and "expired" in verdict.message


# -- expiry and plans already decided ---------------------------------------------------------------


def test_approval_at_the_expiry_is_refused_and_just_before_it_approved(
    deps: Deps, clock: Clock
) -> None:
    record = _ask(deps)
    clock.now = record.expires_at
    verdict = _approve(deps, record)
    assert (verdict.outcome, verdict.message) == (
        "refused",
        f"This plan expired at {record.expires_at:%H:%M} UTC; the repository may have changed "
        "since. Nothing was changed; ask again for a fresh plan.",
    )
    assert _state(deps, record) is PlanState.PROPOSED
    clock.now = record.expires_at - timedelta(seconds=1)
    assert _approve(deps, record).outcome == "approved"


def _decided(deps: Deps, state: PlanState) -> Plan:
    """A plan of the real store moved to ``state`` the way the bot moves it."""
    record = _ask(deps)
    now = deps.clock()
    store = deps.store
    if state is PlanState.REJECTED:
        assert store.reject_plan(record.id, by=ORCHESTRATOR, now=now)
    elif state is PlanState.SUPERSEDED:
        incident = deps.store.get_incident(record.incident_id)
        assert incident is not None
        replan(deps, incident, actor=ENGINEER)
    else:
        assert store.approve_plan(record.id, approver=ORCHESTRATOR, now=now)
        if state is PlanState.STOPPED:
            assert store.stop_plan(record.id, attempt=1, result={})
        elif state in (PlanState.DONE, PlanState.ABORTED):
            assert store.finish_plan(record.id, attempt=1, state=state, result={})
    return record


BY = f" by @{ORCHESTRATOR}"
DECIDED = [
    (PlanState.RUNNING, f"Already approved{BY}; the rollback is under way."),
    (PlanState.STOPPED, f"Already approved{BY}; it stopped and waits for Resume or Abort."),
    (PlanState.DONE, f"Already approved{BY} and carried out."),
    (PlanState.REJECTED, f"Already rejected{BY}."),
    (PlanState.SUPERSEDED, "This plan was replaced by a newer one; use the newest card."),
    (PlanState.ABORTED, f"This rollback was aborted{BY}."),
]


@pytest.mark.parametrize(("state", "said"), DECIDED, ids=[s.value for s, _ in DECIDED])
def test_approval_or_rejection_of_a_decided_plan_says_who_decided(
    deps: Deps, state: PlanState, said: str
) -> None:
    record = _decided(deps, state)
    for verdict in (_approve(deps, record, who=OTHER), _reject(deps, record, who=OTHER)):
        assert (verdict.outcome, verdict.message) == ("refused", said)
    assert _state(deps, record) is state


# -- two clicks at once ------------------------------------------------------------------------------


class RivalFirst(SqliteStore):
    """The real store, where another orchestrator's approval lands just before each decision
    of ours: what two clicks at once look like to the one whose compare-and-set loses."""

    def approve_plan(
        self,
        plan_id: int,
        *,
        approver: str,
        now: datetime,
        waived: bool = False,
        forced: bool = False,
    ) -> bool:
        super().approve_plan(plan_id, approver=OTHER, now=now)
        return super().approve_plan(
            plan_id, approver=approver, now=now, waived=waived, forced=forced
        )

    def reject_plan(self, plan_id: int, *, by: str, now: datetime) -> bool:
        super().approve_plan(plan_id, approver=OTHER, now=now)
        return super().reject_plan(plan_id, by=by, now=now)


@pytest.fixture
def raced(config: Config, clock: Clock) -> Iterator[Deps]:
    made = Deps(settings=make_settings(config), store=RivalFirst(config.store.path), clock=clock)
    yield made
    made.close()


def test_approval_that_loses_the_race_is_told_who_won_and_records_nothing(raced: Deps) -> None:
    record = _ask(raced)
    verdict = _approve(raced, record)
    said = f"Already approved by @{OTHER}; the rollback is under way."
    assert (verdict.outcome, verdict.message) == ("refused", said)
    # The plan as the winner left it, not as this click first read it.
    assert verdict.record is not None
    assert (verdict.record.state, verdict.record.approved_by) == (PlanState.RUNNING, OTHER)
    approvals = [e for e in raced.store.timeline(limit=20) if e.action == "rollback_approved"]
    assert approvals == []  # the winner's own flow records its approval, not the loser's


def test_rejection_that_loses_the_race_is_told_who_won(raced: Deps) -> None:
    record = _ask(raced)
    verdict = _reject(raced, record)
    assert (verdict.outcome, verdict.message) == (
        "refused",
        f"Already approved by @{OTHER}; the rollback is under way.",
    )
    assert _state(raced, record) is PlanState.RUNNING
    assert [e for e in raced.store.timeline(limit=20) if e.action == "rollback_rejected"] == []


class Ticks:
    """A clock giving each reading in turn, then the last one for ever."""

    def __init__(self, *readings: datetime) -> None:
        self.readings = list(readings)

    def __call__(self) -> datetime:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_approval_that_expires_between_the_check_and_the_store_is_refused(deps: Deps) -> None:
    record = _ask(deps)
    # Read once by the open-plan check (just in time), then by the store's compare-and-set
    # and the refusal (too late): the store's own expiry check decides.
    ticks = Ticks(record.expires_at - timedelta(milliseconds=1), record.expires_at)
    late = dataclasses.replace(deps, clock=ticks)
    verdict = _approve(late, record)
    assert (verdict.outcome, verdict.message) == (
        "refused",
        f"This plan expired at {record.expires_at:%H:%M} UTC; the repository may have changed "
        "since. Nothing was changed; ask again for a fresh plan.",
    )
    assert _state(deps, record) is PlanState.PROPOSED


def test_approval_refused_by_the_store_while_the_plan_still_looks_open(deps: Deps) -> None:
    record = _ask(deps)
    # A wall clock may step back (NTP): past the expiry for the store's compare-and-set, before
    # it again for the refusal. The click must still be refused, with a reason.
    ok, late = record.expires_at - timedelta(seconds=1), record.expires_at
    stepped = dataclasses.replace(deps, clock=Ticks(ok, late, ok))
    verdict = _approve(stepped, record)
    assert (verdict.outcome, verdict.message) == (
        "refused",
        "Someone else decided on this plan first.",
    )
    assert _state(deps, record) is PlanState.PROPOSED


# -- what must be confirmed -------------------------------------------------------------------------


def _target(deps: Deps, target: str) -> Plan:
    proposal = request_target(deps, grammar.RollbackTo(target), Asker(ENGINEER, Surface.SLACK))
    assert proposal.record is not None
    return proposal.record


def test_approval_of_a_target_that_is_not_a_checkpoint_needs_approve_anyway(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    main = git(phase_repo.work, "rev-parse", "main")  # an ancestor, but no checkpoint tag
    record = _target(deps, main)
    verdict = _approve(deps, record)
    assert (verdict.outcome, verdict.message) == (
        "refused",
        f"This target needs an explicit confirmation: {main} is not a checkpoint tag. Use "
        f"“Approve anyway” on the card. {NOTHING}",
    )
    assert _approve(deps, record, waive=True).outcome == "refused"  # a waiver is not a force
    forced = _approve(deps, record, force=True)
    assert forced.outcome == "approved" and forced.record is not None and forced.record.forced
    assert _last_event(deps)[4] == {
        "plan": record.id,
        "waived": False,
        "forced": True,
        "superseded": [],
    }


def test_approval_of_a_target_off_the_branch_names_both_reasons(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    # A commit HEAD does not contain: rolling back to it would make the branch jump.
    elsewhere = git(phase_repo.work, "commit-tree", "main^{tree}", "-p", "main", "-m", "other")
    record = _target(deps, elsewhere)
    verdict = _approve(deps, record)
    assert verdict.message == (
        f"This target needs an explicit confirmation: {elsewhere} is not a checkpoint tag; "
        f"{elsewhere} is not an ancestor of HEAD (the branch would jump). Use “Approve anyway” "
        f"on the card. {NOTHING}"
    )


def _commit_migration(repo: PhaseRepo) -> None:
    repo.commit("migrations/0002_phase2_deal_stage.sql", "ALTER TABLE deals ADD x int;\n", "mig")


def test_approval_of_a_plan_crossing_migrations_needs_a_waiver(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    _commit_migration(phase_repo)
    record = _ask(deps)
    assert rollback_plan_from_body(record.body).migrations_crossed
    waiver = (
        "The rollback crosses 1 schema migration(s) and the plan has no database step. Waive it "
        f"on the card only if the database does not need rolling back. {NOTHING}"
    )
    assert _approve(deps, record).message == waiver
    assert _approve(deps, record, force=True).message == waiver  # a force is not a waiver
    waived = _approve(deps, record, waive=True)
    assert waived.outcome == "approved" and waived.record is not None and waived.record.waived
    assert _last_event(deps)[4] == {
        "plan": record.id,
        "waived": True,
        "forced": False,
        "superseded": [],
    }


def test_approval_asks_for_the_confirmation_before_the_waiver(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    main = git(phase_repo.work, "rev-parse", "main")
    _commit_migration(phase_repo)
    record = _target(deps, main)
    assert _approve(deps, record).message.startswith("This target needs an explicit confirmation")
    assert _approve(deps, record, force=True, waive=True).outcome == "approved"


# -- the repository moved ---------------------------------------------------------------------------


def test_approval_after_head_moved_is_refused_with_a_fresh_plan(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    record = _ask(deps)
    moved = phase_repo.commit("hotfix.ts", "fix\n", "hotfix behind the bot's back")
    problem = verify_plan(
        repo=open_repo(phase_repo.work), plan=rollback_plan_from_body(record.body)
    )
    assert problem is not None
    verdict = _approve(deps, record)
    assert (verdict.outcome, verdict.record) == ("replanned", record)
    assert verdict.message == (
        f"Not approved: {problem} since the plan was made, so it no longer describes what "
        "approving would do. Nothing was changed; here is a fresh plan."
    )
    fresh = verdict.fresh
    assert isinstance(fresh, Proposal) and fresh.record is not None
    assert fresh.incident.id == record.incident_id
    assert (fresh.record.requested_by, fresh.record.state) == (ORCHESTRATOR, PlanState.PROPOSED)
    assert rollback_plan_from_body(fresh.record.body).head_sha == moved
    assert _state(deps, record) is PlanState.SUPERSEDED
    assert (
        TimelineAction.APPROVAL_REFUSED,
        ORCHESTRATOR,
        {"plan": record.id, "reason": f"plan moved: {problem}"},
    ) in [(e.action, e.actor, e.details) for e in deps.store.timeline(limit=20)]


def test_approval_after_head_moved_with_no_fresh_plan_possible_says_why(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    record = _ask(deps)
    # No checkpoint below the new HEAD any more: a fresh plan cannot be made.
    git(phase_repo.work, "tag", "-d", "phase2-checkpoint-T+4h")
    phase_repo.commit("hotfix.ts", "fix\n", "hotfix")
    problem = verify_plan(
        repo=open_repo(phase_repo.work), plan=rollback_plan_from_body(record.body)
    )
    incident = deps.store.get_incident(record.incident_id)
    assert incident is not None
    with pytest.raises(RollbackBotError) as no_plan:
        replan(deps, incident, actor=ORCHESTRATOR)
    verdict = _approve(deps, record)
    assert (verdict.outcome, verdict.record, verdict.fresh) == ("refused", record, None)
    assert verdict.message == (
        f"Not approved: {problem} since the plan was made, so it no longer describes what "
        f"approving would do. Nothing was changed. No fresh plan either: "
        f"{no_plan.value.user_message}"
    )
    assert [p.state for p in deps.store.plans_of(record.incident_id)] == [PlanState.PROPOSED]


def test_approval_of_a_plan_whose_incident_is_gone_is_an_input_error(
    deps: Deps, config: Config
) -> None:
    # A damaged store (the bot's own connections enforce the foreign key, so only a hand edit
    # gets here): the click is refused with the incident named, and nothing is approved.
    record = _ask(deps)
    damage = sqlite3.connect(config.store.path, isolation_level=None)
    damage.execute("DELETE FROM incidents WHERE id = ?", [record.incident_id])
    damage.close()
    with pytest.raises(InputError) as refused:
        _approve(deps, record)
    assert refused.value.user_message == f"Incident #{record.incident_id} does not exist."
    assert _state(deps, record) is PlanState.PROPOSED


# -- cherry-picks -----------------------------------------------------------------------------------


def _rolled_back(deps: Deps, repo: PhaseRepo) -> tuple[int, str]:
    """An incident whose rollback left the email commit on a backup branch: (incident, sha)."""
    email = repo.head()
    git(repo.work, "branch", BACKUP, email)
    git(repo.work, "reset", "-q", "--hard", "phase2-checkpoint-T+4h")
    incident = deps.store.open_incident(
        scenario="critical", severity="5", trigger="down", requester=ENGINEER, channel="C0"
    )
    deps.store.record_rollback(
        incident.id,
        state=IncidentState.ROLLED_BACK,
        from_sha=email,
        to_sha=repo.head(),
        target_ref="phase2-checkpoint-T+4h",
        backup_branch=BACKUP,
        healthy=True,
    )
    return incident.id, email


def _ask_picks(deps: Deps, incident_id: int, sha: str) -> Plan:
    proposal = request_cherry_pick(
        deps, grammar.CherryPick(incident_id, (sha,)), Asker(ENGINEER, Surface.SLACK)
    )
    return proposal.record


def test_approval_of_a_cherry_pick_is_recorded_as_one(deps: Deps, phase_repo: PhaseRepo) -> None:
    incident_id, sha = _rolled_back(deps, phase_repo)
    record = _ask_picks(deps, incident_id, sha)
    verdict = _approve(deps, record)
    assert verdict.outcome == "approved"
    assert _last_event(deps) == (
        TimelineAction.CHERRY_PICK_APPROVED,
        ORCHESTRATOR,
        Surface.SLACK,
        incident_id,
        {"plan": record.id, "waived": False, "forced": False, "superseded": []},
    )


def test_approval_of_a_cherry_pick_after_head_moved_gets_fresh_picks(
    deps: Deps, phase_repo: PhaseRepo
) -> None:
    incident_id, sha = _rolled_back(deps, phase_repo)
    record = _ask_picks(deps, incident_id, sha)
    moved = phase_repo.commit("hotfix.ts", "fix\n", "hotfix")
    picks = cherry_pick_from_body(record.body)
    problem = picks_moved(picks, plan_picks(deps, backup_branch=BACKUP, commits=(sha,)))
    verdict = _approve(deps, record)
    assert (verdict.outcome, verdict.record) == ("replanned", record)
    assert verdict.message == (
        f"Not approved: {problem} since the plan was made, so it no longer describes what "
        "approving would do. Nothing was changed; here is a fresh plan."
    )
    fresh = verdict.fresh
    assert isinstance(fresh, PickProposal)
    assert (fresh.incident.id, fresh.record.requested_by) == (incident_id, ORCHESTRATOR)
    assert (fresh.plan.head_sha, [c.sha for c in fresh.plan.commits]) == (moved, [sha])
    assert _state(deps, record) is PlanState.SUPERSEDED
    # Planned by the bot on the orchestrator's click, not on a surface they used.
    planned = [e for e in deps.store.timeline(limit=20) if e.action == "cherry_pick_planned"]
    assert planned[-1].surface is Surface.BOT


# -- rejection --------------------------------------------------------------------------------------


def test_rejection_by_an_orchestrator_is_recorded_and_final(deps: Deps) -> None:
    record = _ask(deps)
    verdict = _reject(deps, record)
    assert (verdict.outcome, verdict.message) == ("rejected", "Rejected.")
    assert verdict.record is not None and verdict.record.state is PlanState.REJECTED
    assert _last_event(deps) == (
        TimelineAction.ROLLBACK_REJECTED,
        ORCHESTRATOR,
        Surface.SLACK,
        record.incident_id,
        {"plan": record.id},
    )
    again = _reject(deps, record, who=OTHER)
    assert (again.outcome, again.message) == ("refused", f"Already rejected{BY}.")
    assert _approve(deps, record, who=OTHER).message == f"Already rejected{BY}."


def test_rejection_by_the_requester_is_allowed(deps: Deps) -> None:
    # Four eyes are needed to act, not to stop: whoever asked may take it back.
    record = _ask(deps, who=ORCHESTRATOR)
    assert _reject(deps, record, who=ORCHESTRATOR).outcome == "rejected"


# -- escalation.fallback, and the pages a decision stops --------------------------------------


LEAD = "U0LEAD"
FALLBACK_REFUSED = (
    "Only an orchestrator can approve this rollback; escalation.fallback approves only when the "
    "one orchestrator asked for it. Nothing was changed."
)


def _with_fallback(config: Config, clock: Clock) -> Deps:
    escalation = dataclasses.replace(config.escalation, fallback=(LEAD,))
    config = dataclasses.replace(
        config,
        escalation=escalation,
        slack=dataclasses.replace(config.slack, orchestrators=(ORCHESTRATOR,)),
    )
    return Deps(settings=make_settings(config), store=SqliteStore(config.store.path), clock=clock)


def test_approval_by_the_fallback_of_the_only_orchestrators_request_is_recorded_as_such(
    config: Config, clock: Clock
) -> None:
    deps = _with_fallback(config, clock)
    try:
        record = _ask(deps, who=ORCHESTRATOR)
        verdict = _approve(deps, record, who=LEAD, stand_in=True)
        assert verdict.outcome == "approved"
        assert _last_event(deps) == (
            TimelineAction.ROLLBACK_APPROVED,
            LEAD,
            Surface.SLACK,
            record.incident_id,
            {
                "plan": record.id,
                "waived": False,
                "forced": False,
                "superseded": [],
                "as": "escalation.fallback",
            },
        )
    finally:
        deps.close()


def test_approval_by_the_fallback_of_anyone_elses_request_is_refused(
    config: Config, clock: Clock
) -> None:
    deps = _with_fallback(config, clock)
    try:
        record = _ask(deps, who=ENGINEER)
        verdict = _approve(deps, record, who=LEAD, stand_in=True)
        assert (verdict.outcome, verdict.message, verdict.superseded) == (
            "refused",
            FALLBACK_REFUSED,
            (),
        )
        assert _state(deps, record) is PlanState.PROPOSED
        assert _last_event(deps)[:2] == (TimelineAction.APPROVAL_REFUSED, LEAD)
    finally:
        deps.close()


@pytest.mark.parametrize(("decide", "why"), [(_approve, "approved"), (_reject, "rejected")])
def test_a_decision_stops_the_pages_and_says_which(
    deps: Deps, decide: Callable[[Deps, Plan], Verdict], why: str
) -> None:
    record = _ask(deps)
    incident = deps.store.get_incident(record.incident_id)
    assert incident is not None and start_paging(deps, incident) is not None
    decide(deps, record)
    stopped = [e for e in deps.store.timeline(limit=50) if e.action == "paging_stopped"]
    assert [(e.actor, e.details) for e in stopped] == [(ORCHESTRATOR, {"why": why})]
