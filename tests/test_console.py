"""The terminal console and the demo, driven as a person would: lines in, text out."""

from __future__ import annotations

import io
from pathlib import Path

from bot.config import Config
from bot.local.console import run_console
from store import IncidentState
from tests.servehelp import bot_env, run_cli


def _run(config: Config, script: str) -> str:
    out = io.StringIO()
    code = run_console(config, user="U0ENG", environ={}, stdin=io.StringIO(script), out=out)
    assert code == 0
    return out.getvalue()


def test_console_answers_help_and_renders_text(config: Config) -> None:
    output = _run(config, "/rollback help\n")
    assert "U0ENG> /rollback help" in output
    assert "rollback-bot (only visible to U0ENG (eng)):" in output
    assert "/rollback scenario <minor|critical|email|performance|database|security>" in output
    assert "<@" not in output and "&lt;" not in output


def test_console_acts_as_another_user_and_back(config: Config) -> None:
    output = _run(config, "as U0ORCH /rollback status\n/rollback status\n")
    assert "only visible to U0ORCH (orchestrator)" in output
    assert output.count("only visible to U0ENG (eng)") == 1


def test_console_reports_unknown_input_and_missing_button(config: Config) -> None:
    output = _run(config, "hello\npress 9\nhelp\n")
    assert "(not understood; type help)" in output
    assert "(there is no button 9 on screen)" in output
    assert "as <USER> <line>" in output


def test_console_opens_app_home(config: Config) -> None:
    assert "App Home of U0ENG (eng):" in _run(config, "home\n")


def test_console_stops_at_quit(config: Config) -> None:
    output = _run(config, "quit\n/rollback help\n")
    assert "U0ENG> /rollback help" not in output


def test_demo_command_answers_help_from_a_pipe(tmp_path: Path) -> None:
    result = run_cli(
        ["demo", "--dir", str(tmp_path / "sandbox")],
        bot_env(),
        timeout=90,
        input="/rollback help\n/rollback status\n",
    )
    assert result.returncode == 0, result.stderr
    assert "ROLLBACK-BOT" in result.stdout
    assert "Branch: feature/phase2-module-integration" in result.stdout
    assert "Demo service stopped" in result.stdout
    assert (tmp_path / "sandbox" / "app" / ".git").is_dir()


def test_terminal_status_prints_report_and_records_os_user(config_path: Path) -> None:
    import getpass

    from store import SqliteStore

    result = run_cli(["status", "--config", str(config_path)], bot_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Branch: feature/phase2-module-integration" in result.stdout
    assert "phase2-checkpoint-T+4h" in result.stdout
    store = SqliteStore(config_path.parent / "rollback-bot.db")
    events = store.timeline()
    store.close()
    assert [(e.actor, e.surface, e.action) for e in events] == [
        (f"os:{getpass.getuser()}", "terminal", "status")
    ]


def test_console_presses_buttons_and_indents_threads(config: Config) -> None:
    from typing import Any

    from bot.local.console import Console
    from bot.local.loopback import LocalSlack

    out = io.StringIO()
    with LocalSlack(config, environ={}) as local:
        clicks: list[str] = []

        @local.app.action("probe_approve")
        def on_click(ack: Any, body: dict[str, Any], respond: Any) -> None:
            ack()
            clicks.append(body["user"]["id"])
            respond(text=f"approved by {body['user']['id']}", replace_original=False)

        button = {
            "type": "button",
            "action_id": "probe_approve",
            "text": {"type": "plain_text", "text": "Approve"},
            "value": "7",
        }
        posted = local.app.client.chat_postMessage(
            channel="C0INCIDENTS",
            text="card",
            blocks=[{"type": "actions", "block_id": "card_actions", "elements": [button]}],
        )
        local.app.client.chat_postMessage(
            channel="C0INCIDENTS", text="a reply in the thread", thread_ts=posted["ts"]
        )
        console = Console(local=local, out=out, user="U0ENG", channel="C0INCIDENTS")
        console.show_new()
        console.handle("as U0ORCH press 1")
    output = out.getvalue()
    assert "  [1] Approve" in output
    assert "    | rollback-bot:\n    |   a reply in the thread" in output
    assert clicks == ["U0ORCH"]
    assert "approved by U0ORCH" in output


def test_console_asks_a_button_s_confirm_dialog_before_sending_the_click(config: Config) -> None:
    from typing import Any

    from bot.local.console import Console
    from bot.local.loopback import LocalSlack

    out = io.StringIO()
    answers = iter(["n\n", "y\n"])
    with LocalSlack(config, environ={}) as local:
        clicks: list[str] = []

        @local.app.action("probe_reject")
        def on_click(ack: Any, body: dict[str, Any]) -> None:
            ack()
            clicks.append(body["user"]["id"])

        button = {
            "type": "button",
            "action_id": "probe_reject",
            "text": {"type": "plain_text", "text": "Reject"},
            "value": "7",
            "confirm": {
                "title": {"type": "plain_text", "text": "Reject the rollback?"},
                "text": {"type": "plain_text", "text": "Nothing is reset."},
                "confirm": {"type": "plain_text", "text": "Reject"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        }
        local.app.client.chat_postMessage(
            channel="C0INCIDENTS",
            text="card",
            blocks=[{"type": "actions", "block_id": "card_actions", "elements": [button]}],
        )
        console = Console(
            local=local,
            out=out,
            user="U0ORCH",
            channel="C0INCIDENTS",
            ask=lambda prompt: next(answers, None),
        )
        console.show_new()
        console.handle("press 1")  # answered "n": nothing is sent
        local.deps.work.wait_idle(10)
        assert clicks == []
        console.handle("press 1")  # answered "y": the click goes
        local.deps.work.wait_idle(10)
    output = out.getvalue()
    assert "Reject the rollback?" in output and "Nothing is reset." in output
    assert "(cancelled: nothing was sent)" in output
    assert clicks == ["U0ORCH"]


def test_cli_help_reads_as_plain_words() -> None:
    result = run_cli(["--help"], bot_env(), timeout=30)
    assert result.returncode == 0
    assert ":mod:" not in result.stdout and "``" not in result.stdout
    assert "rollback procedure" in result.stdout


def test_console_fills_in_the_resolved_form_and_submits_it(config: Config) -> None:
    from bot.local.console import Console
    from bot.local.loopback import LocalSlack

    out = io.StringIO()
    answers = iter(["", "added the missing route"])  # the first form is left empty: cancelled
    with LocalSlack(config, environ={}) as local:
        console = Console(
            local=local,
            out=out,
            user="U0ENG",
            channel="C0INCIDENTS",
            ask=lambda prompt: next(answers, None),
        )
        console.handle("/rollback scenario minor one endpoint 404")
        console.handle("press 1")
        cancelled = local.store.list_incidents()
        console.handle("press 1")
        local.deps.work.wait_idle(10)
        incidents = local.store.list_incidents(states=[IncidentState.RESOLVED])
    output = out.getvalue()
    assert "Fixed forward (a form)" in output and "(cancelled: the form was closed" in output
    assert [incident.state for incident in cancelled] == [IncidentState.OPEN]
    assert [incident.lesson for incident in incidents] == ["added the missing route"]
    assert "Lesson: added the missing route" in output
