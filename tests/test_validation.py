"""The validation checklist end to end: the demo service, broken and healed by a real reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import create_app
from bot.config import load_config
from bot.deps import Deps
from bot.jobs import VALIDATION_TIMER, WATCH_TIMER, build_jobs, ensure_timers
from bot.local.demo.sandbox import TAG_T8, Sandbox, build_sandbox, start_service, stop_service
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from bot.scheduler import Scheduler
from store import SqliteStore
from tests.conftest import make_settings
from tests.gitrepo import git
from tests.pgserver import PgServer, database_of

BROKEN_AT_TIP = {"customers", "email-messages", "login, inbox, new deal, search", "error log"}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    built = build_sandbox(tmp_path / "sandbox")
    start_service(built)
    try:
        yield built
    finally:
        stop_service(built)


def heal(sandbox: Sandbox) -> None:
    git(sandbox.repo, "reset", "-q", "--hard", TAG_T8)
    start_service(sandbox)


def break_again(sandbox: Sandbox) -> None:
    git(sandbox.repo, "reset", "-q", "--hard", "origin/feature/phase2-module-integration")
    start_service(sandbox)


def _final_checklist(emulator: SlackEmulator, count: int = 1) -> list[Message]:
    def finals(e: SlackEmulator) -> list[Message]:
        return [
            m
            for m in e.messages("C0INCIDENTS")
            if m.text.startswith("Validation: ") and "running" not in m.text
        ]

    assert emulator.wait_for(lambda e: len(finals(e)) >= count, timeout=60)
    return finals(emulator)


def test_validate_names_exactly_the_failing_checks_then_all_pass_after_reset(
    sandbox: Sandbox,
) -> None:
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        sent = local.sender.slash_command("/rollback", "validate", user_id="U0ENG")
        assert sent.status == 200
        (broken,) = _final_checklist(local.emulator)
        (recorded,) = [e for e in local.store.timeline() if e.action == "validation"]
        assert set(recorded.details["failing"]) == BROKEN_AT_TIP
        assert broken.text.startswith("Validation: failing: ")
        assert broken.edited  # the message posted at the start was edited in place
        assert "Not healthy" in str(broken.blocks)

        heal(sandbox)
        local.sender.slash_command("/rollback", "validate", user_id="U0ENG")
        healthy = _final_checklist(local.emulator, count=2)[-1]
        assert healthy.text == "Validation: healthy"
        assert "all 7 checks passed" in str(healthy.blocks)
        verdicts = [
            e.details["verdict"] for e in local.store.timeline() if e.action == "validation"
        ]
        assert verdicts == ["fail", "pass"]


def test_validate_in_a_channel_the_bot_cannot_post_in_answers_the_asker(sandbox: Sandbox) -> None:
    heal(sandbox)
    with LocalSlack(load_config(sandbox.config_path), environ={}, scheduler=False) as local:
        local.sender.slash_command(
            "/rollback", "validate", user_id="U0ENG", channel_id="#not-an-id"
        )
        assert local.emulator.wait_for(
            lambda e: any(
                m.via == "response_url" and m.text == "Validation: healthy" for m in e.messages()
            ),
            timeout=60,
        )


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_continuous_validation_posts_only_when_the_verdict_changes(sandbox: Sandbox) -> None:
    heal(sandbox)
    config = load_config(sandbox.config_path)
    clock = Clock(datetime.now(UTC))
    with SlackEmulator() as emulator:
        store = SqliteStore(config.store.path)
        deps = Deps(settings=make_settings(config, emulator.api_url), store=store, clock=clock)
        app = create_app(deps)
        ensure_timers(deps)
        deps.store.cancel_timer(WATCH_TIMER)  # the watch has tests of its own
        scheduler = Scheduler(deps, build_jobs(app.client))

        def advance_and_tick() -> None:
            clock.now += timedelta(minutes=30, seconds=1)
            jobs = scheduler.tick()  # a checkpoint reminder may fall due too
            assert jobs
            for job in jobs:
                job.result(timeout=60)

        def posts() -> list[str]:
            texts = [m.text for m in emulator.messages("C0INCIDENTS")]
            return [text for text in texts if text.startswith("Continuous validation")]

        assert scheduler.tick() == []  # not due yet
        advance_and_tick()
        assert posts() == []  # healthy from the start: nothing to say
        break_again(sandbox)
        advance_and_tick()
        assert len(posts()) == 1 and posts()[0].startswith(
            "Continuous validation: the service is failing"
        )
        assert "/rollback scenario" in str(emulator.messages("C0INCIDENTS")[0].blocks)
        advance_and_tick()
        assert len(posts()) == 1  # still failing: no repeat
        heal(sandbox)
        advance_and_tick()
        assert posts()[-1] == "Continuous validation: the service is healthy again."
        assert len(posts()) == 2
        timer = store.get_timer(VALIDATION_TIMER)
        assert timer is not None and timer.fired_count == 4
        deps.close()


def test_validate_with_database_shows_diagnostics_and_never_the_password(
    sandbox: Sandbox, pg_server: PgServer
) -> None:
    admin_url = pg_server.create_database(extensions=["pg_stat_statements"])
    name = database_of(admin_url)
    pg_server.execute(
        "CREATE SCHEMA drizzle; CREATE TABLE drizzle.__drizzle_migrations "
        "(id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)",
        database=name,
    )
    password = "s3cret-Pa55word"
    pg_server.create_role("app_ro", password=password)
    pg_server.execute(
        "GRANT USAGE ON SCHEMA drizzle TO app_ro; GRANT SELECT ON ALL TABLES IN SCHEMA drizzle TO app_ro",
        database=name,
    )
    url = pg_server.url(name, user="app_ro", password=password)
    with LocalSlack(
        load_config(sandbox.config_path), environ={"DATABASE_URL": url}, scheduler=False
    ) as local:
        local.sender.slash_command("/rollback", "validate", user_id="U0ENG")
        (final,) = _final_checklist(local.emulator)
        blocks = str(final.blocks)
        assert ":white_check_mark: *database queries*" in blocks
        assert "*Diagnostics*" in blocks
        assert "migrations/phase2_0002_add_deal_stage.sql" in blocks  # pending: never applied
        everything = str([m.blocks for m in local.emulator.messages()]) + str(
            local.emulator.calls()
        )
        everything += str([e.details for e in local.store.timeline()])
        assert password not in everything and url not in everything
