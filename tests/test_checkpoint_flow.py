"""Checkpoints end to end: signed slash commands and clicks, a real repo with a bare origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.jobs import WATCH_TIMER, build_jobs, ensure_timers
from bot.local.emulator import Message, SlackEmulator
from bot.local.loopback import LocalSlack
from bot.scheduler import Scheduler
from store import SqliteStore
from tests.gitrepo import BRANCH, git
from tests.httpservers import HttpService, serve
from tests.servehelp import bot_env, run_cli

TAG = "phase2-checkpoint-T+4h"
SUBJECT = "stabilize(phase2): T+4h checkpoint - Customer validation, email testing"


@pytest.fixture
def service() -> Iterator[HttpService]:
    with serve() as running:
        yield running


def _repo(root: Path) -> tuple[Path, Path]:
    """A phase branch with history and a bare origin, and no checkpoint tags yet."""
    root.mkdir(parents=True)
    origin, work = root / "origin.git", root / "work"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", BRANCH, str(work))
    git(work, "remote", "add", "origin", str(origin))
    (work / "server").mkdir()
    (work / "server/routes.ts").write_text("export {}\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "wire customers")
    git(work, "push", "-q", "origin", BRANCH)
    return work, origin


def _config(
    tmp_path: Path, work: Path, service: HttpService, *, endpoint: str, started: datetime
) -> Config:
    text = f"""
[project]
name = "autolytiq"
phase = "phase2"
started_at = "{started.strftime("%Y-%m-%dT%H:%M:%SZ")}"

[git]
path = "{work}"
remote = "origin"
branch = "{BRANCH}"

[service]
restart = "true"
base_url = "{service.url("").rstrip("/")}"
health_path = "/healthy"
ready_timeout_s = 5

[[checks.endpoints]]
name = "customers"
path = "{endpoint}"

[slack]
channel = "C0INCIDENTS"
orchestrators = ["U0ORCH"]

[store]
path = "{tmp_path / "bot.db"}"
"""
    path = tmp_path / "rollback-bot.toml"
    path.write_text(text)
    return load_config(path)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    return _repo(tmp_path / "repos")


def _channel_messages(emulator: SlackEmulator, prefix: str, count: int = 1) -> list[Message]:
    def found(e: SlackEmulator) -> list[Message]:
        return [m for m in e.messages("C0INCIDENTS") if m.text.startswith(prefix) and not m.deleted]

    assert emulator.wait_for(lambda e: len(found(e)) >= count, timeout=30)
    return found(emulator)


def _remote_tag(origin: Path, tag: str) -> tuple[str, str, str]:
    kind = git(origin, "cat-file", "-t", f"refs/tags/{tag}")
    message = git(origin, "tag", "-l", "--format=%(contents:subject)", tag)
    target = git(origin, "rev-parse", f"refs/tags/{tag}^{{commit}}")
    return kind, message, target


def test_checkpoint_command_creates_the_procedures_commit_and_tag_on_the_remote(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, origin = repo
    (work / "server/customers.ts").write_text("export const validated = true\n")
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    with LocalSlack(config, environ={}, scheduler=False) as local:
        sent = local.sender.slash_command(
            "/checkpoint", "T+4h Customer validation, email testing", user_id="U0ENG"
        )
        assert sent.status == 200
        (card,) = _channel_messages(local.emulator, "Checkpoint phase2-checkpoint-T+4h created")
        event = next(e for e in local.store.timeline() if e.action == "checkpoint")
    head = git(work, "rev-parse", "HEAD")
    assert git(origin, "rev-parse", f"refs/heads/{BRANCH}") == head
    assert git(origin, "log", "-1", "--format=%s", head) == SUBJECT
    assert git(origin, "show", "--name-only", "--format=", head) == "server/customers.ts"
    assert _remote_tag(origin, TAG) == ("tag", "Phase 2 Checkpoint: 4 hours", head)
    assert (
        event.actor,
        event.details["tag"],
        event.details["commit"],
        event.details["verdict"],
    ) == ("U0ENG", TAG, head, "pass")
    assert "pushed" in str(card.blocks)


def test_failing_checklist_refuses_then_only_an_orchestrator_can_force(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, origin = repo
    before = git(origin, "rev-parse", f"refs/heads/{BRANCH}")
    config = _config(
        tmp_path, work, service, endpoint="/fail", started=datetime.now(UTC) - timedelta(hours=5)
    )
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command("/checkpoint", "T+4h before the email removal", user_id="U0ENG")
        (card,) = _channel_messages(local.emulator, "Checkpoint phase2-checkpoint-T+4h refused")
        assert git(origin, "tag", "-l") == "" and git(work, "tag", "-l") == ""
        force = next(e for b in card.blocks if b["type"] == "actions" for e in b["elements"])
        assert force["action_id"] == "checkpoint_force" and "confirm" in force
        payload = local.emulator.message_payload(card)

        local.sender.block_action(user_id="U0ENG", action=force, message=payload)
        assert local.emulator.wait_for(
            lambda e: any(
                m.ephemeral_to == "U0ENG" and "Only an orchestrator" in m.text for m in e.messages()
            ),
            timeout=15,
        )
        assert git(work, "tag", "-l") == ""

        local.sender.block_action(user_id="U0ORCH", action=force, message=payload)
        assert local.emulator.wait_for(
            lambda e: (
                bool(e.message("C0INCIDENTS", card.ts))
                and "created" in e.message("C0INCIDENTS", card.ts).text
            ),
            timeout=30,
        )  # type: ignore[union-attr]
        replaced = local.emulator.message("C0INCIDENTS", card.ts)
        assert replaced is not None
        shown = str(replaced.blocks)
        assert "Forced past a failing checklist* by <@U0ORCH>" in shown
        assert "Asked by <@U0ENG>" in shown  # who asked, not who forced
        forced = [e for e in local.store.timeline() if e.action == "checkpoint"]
    assert git(origin, "rev-parse", f"refs/heads/{BRANCH}") == before  # clean tree: tag only
    assert _remote_tag(origin, TAG)[0] == "tag"
    assert [(e.actor, e.details["forced_by"], e.details["verdict"]) for e in forced] == [
        ("U0ORCH", "U0ORCH", "fail")
    ]


def test_existing_tag_is_refused_clearly_and_nothing_moves(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, origin = repo
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command("/checkpoint", "T+4h first", user_id="U0ENG")
        _channel_messages(local.emulator, "Checkpoint phase2-checkpoint-T+4h created")
        tag_object = git(origin, "rev-parse", f"refs/tags/{TAG}")
        (work / "later.ts").write_text("1\n")
        local.sender.slash_command("/checkpoint", "T+4h again", user_id="U0ENG")
        assert local.emulator.wait_for(
            lambda e: any(
                m.ephemeral_to == "U0ENG" and "already exists" in m.text for m in e.messages()
            ),
            timeout=30,
        )
    assert git(origin, "rev-parse", f"refs/tags/{TAG}") == tag_object
    assert git(work, "status", "--porcelain") == "?? later.ts"


def test_option_like_message_is_just_text(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, origin = repo
    marker = tmp_path / "pwned"
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command(
            "/checkpoint", f"T+4h --upload-pack=touch {marker}", user_id="U0ENG"
        )
        _channel_messages(local.emulator, "Checkpoint phase2-checkpoint-T+4h created")
    assert not marker.exists()
    assert git(origin, "log", "-1", "--format=%s", f"refs/tags/{TAG}") in (
        f"stabilize(phase2): T+4h checkpoint - --upload-pack=touch {marker}",
        "wire customers",  # a clean tree is tagged as it is
    )


def test_checkpoint_list_shows_remote_status(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, _ = repo
    git(work, "tag", "-a", "phase2-checkpoint-T+1h", "-m", "Phase 2 Checkpoint: 1 hours")
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    with LocalSlack(config, environ={}, scheduler=False) as local:
        local.sender.slash_command("/checkpoint", "list", user_id="U0ENG")
        assert local.emulator.wait_for(
            lambda e: any(
                m.via == "response_url" and "checkpoints" in m.text for m in e.messages()
            ),
            timeout=15,
        )
        reply = next(m for m in local.emulator.messages() if m.via == "response_url")
    assert "phase2-checkpoint-T+1h" in str(reply.blocks)
    assert "not on origin" in str(reply.blocks)


def test_reminder_is_due_on_the_phase_cadence_and_its_button_creates_the_checkpoint(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, origin = repo
    started = datetime.now(UTC) - timedelta(hours=7, minutes=59)
    config = _config(tmp_path, work, service, endpoint="/healthy", started=started)
    started = config.project.started_at  # the file keeps whole seconds
    now = [datetime.now(UTC)]
    with LocalSlack(config, environ={}, clock=lambda: now[0], scheduler=False) as local:
        ensure_timers(local.deps)
        local.store.cancel_timer(WATCH_TIMER)  # the watch has tests of its own
        reminder = local.store.get_timer("checkpoint-reminder")
        assert reminder is not None and reminder.due_at == started + timedelta(hours=8)
        scheduler = Scheduler(local.deps, build_jobs(local.app.client))
        assert scheduler.tick() == []
        now[0] = started + timedelta(hours=8, seconds=3)
        for job in scheduler.tick():
            job.result(timeout=60)
        (due,) = _channel_messages(local.emulator, "Checkpoint T+8h is due")
        button = next(e for b in due.blocks if b["type"] == "actions" for e in b["elements"])
        # The button carries an id, never the request's text; the store holds what it repeats.
        (request_id,) = json.loads(button["value"]).values()
        stored = local.store.read_value(f"checkpoint_request:{request_id}")
        assert json.loads(stored or "") == {"kind": "checkpoint", "hours": 8, "message": ""}
        local.sender.block_action(
            user_id="U0ENG", action=button, message=local.emulator.message_payload(due)
        )
        assert local.emulator.wait_for(
            lambda e: "created" in (e.message("C0INCIDENTS", due.ts) or due).text, timeout=30
        )
        # The next reminder is due 4 hours later; a T+8h reminder is not repeated.
        after = local.store.get_timer("checkpoint-reminder")
        assert after is not None and after.due_at == started + timedelta(hours=12)
    assert _remote_tag(origin, "phase2-checkpoint-T+8h")[1] == "Phase 2 Checkpoint: 8 hours"


def test_terminal_checkpoint_uses_the_same_flow_and_records_the_os_user(
    tmp_path: Path, repo: tuple[Path, Path], service: HttpService
) -> None:
    work, origin = repo
    config = _config(
        tmp_path, work, service, endpoint="/healthy", started=datetime.now(UTC) - timedelta(hours=5)
    )
    (work / "server/email.ts").write_text("export const email = 2\n")
    result = run_cli(
        [
            "checkpoint",
            "T+4h",
            "-m",
            "Customer validation, email testing",
            "--config",
            str(config.source),
        ],
        bot_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CHECKPOINT T+4H" in result.stdout
    assert git(origin, "log", "-1", "--format=%s", f"refs/heads/{BRANCH}") == SUBJECT
    listed = run_cli(["checkpoint", "list", "--config", str(config.source)], bot_env())
    assert TAG in listed.stdout
    store = SqliteStore(config.store.path)
    (event,) = [e for e in store.timeline() if e.action == "checkpoint"]
    store.close()
    assert event.actor.startswith("os:") and event.surface == "terminal"
