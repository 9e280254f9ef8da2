"""Secrets stay in the bot: its children never hold them, and no output it relays shows them.

``rollback-bot serve`` runs as a real process with Slack's tokens and a database URL in its
environment. The restart command, the validate command and a git hook of the working copy
each write down the environment they were given; a full rollback through Slack makes all three
run. None may see a ``SLACK_*`` variable, nor the database URL unless ``service.pass_env``
names it; and a validate command that prints the password (alone, or in libpq's keyword form)
is shown with it redacted.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from bot.local.demo.sandbox import Sandbox
from tests.gitrepo import install_hook
from tests.slackrun import (
    APPROVE,
    CHANNEL,
    ENGINEER,
    ORCHESTRATOR,
    RUN_TIMEOUT_S,
    Harness,
    card_with,
    click,
    wait_card_text,
)
from tests.slackrun import harness as harness  # the fixture

PASSWORD = "S3cr3t-pw-42"
DATABASE_URL = f"postgresql://app:{PASSWORD}@127.0.0.1:9/autolytiq"
EXTRA_TOKEN = "xoxp-1-extra-secret-token"
# The validate command prints the password both ways a tool might, then fails, so its output
# is on the checklist card.
VALIDATE = (
    "env > {dump}/validate.env; "
    'python3 -c "import os, urllib.parse as u; '
    "p = u.urlsplit(os.environ.get('DATABASE_URL', 'x://')).password; "
    "print('host=127.0.0.1 user=app password=' + str(p)); print(p)\"; exit 1"
)


def _edit_service(sandbox: Sandbox, dump: Path, *, pass_env: bool) -> None:
    text = sandbox.config_path.read_text()
    restart = re.search(r'(?m)^restart = "(.*)"$', text)
    assert restart is not None
    original = restart.group(1).replace('\\"', '"')
    wrapped = f"env > {shlex.quote(str(dump))}/restart.env && {original}"
    lines = [
        f"restart = {_toml(wrapped)}",
        f"validate = {_toml(VALIDATE.format(dump=shlex.quote(str(dump))))}",
    ]
    if pass_env:
        lines.append('pass_env = ["DATABASE_URL"]')
    text = text.replace(restart.group(0), "\n".join(lines), 1)
    sandbox.config_path.write_text(text)
    install_hook(sandbox.repo / ".git", "pre-push", f"env > {shlex.quote(str(dump))}/hook.env\n")


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _names(path: Path) -> set[str]:
    return {line.split("=", 1)[0] for line in path.read_text().splitlines() if "=" in line}


def _run_rollback(harness: Harness, dump: Path) -> str:
    """`/rollback validate`, then a scenario approved by the orchestrator; serve's output."""
    process, sender = harness.serve(DATABASE_URL=DATABASE_URL, SLACK_EXTRA_SECRET=EXTRA_TOKEN)
    sender.slash_command("/rollback", "validate", user_id=ENGINEER)
    checklist = card_with(harness.emulator, "Validation", timeout=RUN_TIMEOUT_S)
    wait_card_text(harness.emulator, checklist, "failing")
    sender.slash_command("/rollback", "scenario critical 5 API down", user_id=ENGINEER)
    card = card_with(harness.emulator, "awaits approval")
    click(harness.emulator, sender, card, APPROVE, ORCHESTRATOR)
    wait_card_text(harness.emulator, card, "rolled back")
    for name in ("validate.env", "restart.env", "hook.env"):
        assert (dump / name).exists(), name
    _, output = process.stop()
    return output


def _everything_shown(harness: Harness) -> str:
    return "\n".join(m.text + str(m.blocks) for m in harness.emulator.messages())


def test_children_never_hold_slack_secrets_nor_the_database_url(
    harness: Harness, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    _edit_service(harness.sandbox, dump, pass_env=False)
    output = _run_rollback(harness, dump)
    for name in ("validate.env", "restart.env", "hook.env"):
        seen = _names(dump / name)
        assert not {n for n in seen if n.startswith("SLACK_")}, (name, seen)
        assert "DATABASE_URL" not in seen, name
        assert "PATH" in seen and "HOME" in seen, name  # scrubbed, not emptied
        text = (dump / name).read_text()
        assert PASSWORD not in text and EXTRA_TOKEN not in text and "xoxb-" not in text
    shown = _everything_shown(harness)
    assert PASSWORD not in shown and EXTRA_TOKEN not in shown and "xoxb-" not in shown
    assert PASSWORD not in output and EXTRA_TOKEN not in output


def test_a_passed_through_url_reaches_the_children_and_its_password_is_redacted_on_cards(
    harness: Harness, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    _edit_service(harness.sandbox, dump, pass_env=True)
    output = _run_rollback(harness, dump)
    for name in ("validate.env", "restart.env", "hook.env"):
        seen = _names(dump / name)
        assert "DATABASE_URL" in seen, name  # named in service.pass_env
        assert not {n for n in seen if n.startswith("SLACK_")}, (name, seen)
    shown = _everything_shown(harness)
    # The validate command printed the password alone and as password=…; neither is shown.
    assert "validate command" in shown
    assert PASSWORD not in shown and "app:" + PASSWORD not in shown
    assert "password=[redacted]" in shown and "[redacted]" in shown
    assert PASSWORD not in output
    assert [m for m in harness.emulator.messages(CHANNEL) if PASSWORD in m.text] == []
