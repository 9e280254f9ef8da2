"""``rollback-bot shell``: a terminal chat console over a loopback Slack.

Type what you would type in Slack (``/rollback help``); the bot's messages appear rendered as
text, with numbered buttons you press with ``press N``. ``as U0ORCH <line>`` runs one line as
another user. When standard input is not a terminal the console reads line by line, echoes each
line, and exits at end of input, so it can be scripted.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.config import Config
from bot.local.emulator import Message
from bot.local.loopback import LocalSlack
from bot.terminal.render import ButtonRef, render_message

#: How long to wait for the bot's work on one line to finish, and how often to look.
MAX_WAIT_S = 180.0
POLL_S = 0.2

HELP = """Console commands:
  /rollback …, /checkpoint …, /severity …   sent to the bot as a signed slash command
  as <USER> <line>                         run one line as another user (e.g. as U0ORCH press 2)
  user <USER>                              switch who you are
  press <N>                                press button N
  home                                     open the bot's App Home tab
  quit                                     leave (end of input works too)"""


@dataclass
class Console:
    local: LocalSlack
    out: TextIO
    user: str
    channel: str
    buttons: dict[int, tuple[Message, ButtonRef]] = field(default_factory=dict)
    shown: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Interactive sessions see edits as they happen; scripts see each message's final state.
    live: bool = False
    #: The person's answer to a confirm dialog (None at end of input), as Slack asks it.
    ask: Callable[[str], str | None] = lambda prompt: None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def handle(self, line: str) -> bool:
        """Run one input line; False when the person wants to leave."""
        words = line.split(maxsplit=2)
        if not words:
            return True
        head = words[0].lower()
        if head in ("quit", "exit"):
            return False
        if head in ("help", "?"):
            self.say(HELP)
        elif head == "as" and len(words) == 3:
            saved, self.user = self.user, words[1]
            try:
                return self.handle(words[2])
            finally:
                self.user = saved
        elif head == "user" and len(words) == 2:
            self.user = words[1]
            self.say(f"(you are now {self._name(self.user)})")
        elif head == "home":
            self._open_home()
        elif head == "press" and len(words) == 2 and words[1].isdigit():
            self._press(int(words[1]))
        elif line.startswith("/"):
            command, _, text = line.partition(" ")
            self._send(
                lambda: self.local.sender.slash_command(
                    command, text.strip(), user_id=self.user, channel_id=self.channel
                )
            )
        else:
            self.say("(not understood; type help)")
        return True

    def _press(self, number: int) -> None:
        if number not in self.buttons:
            self.say(f"(there is no button {number} on screen)")
            return
        message, button = self.buttons[number]
        if not self._confirmed(button.element.get("confirm")):
            self.say("(cancelled: nothing was sent)")
            return
        payload = self.local.emulator.message_payload(message)
        self._send(
            lambda: self.local.sender.block_action(
                user_id=self.user,
                action=button.element,
                message=payload,
                channel_id=message.channel,
                block_id=button.block_id,
                is_ephemeral=message.ephemeral_to is not None,
            )
        )

    def _confirmed(self, dialog: Mapping[str, Any] | None) -> bool:
        """Slack shows a button's confirm dialog before it sends the click; so does this."""
        if not dialog:
            return True
        title = dialog.get("title", {}).get("text", "Are you sure?")
        text = dialog.get("text", {}).get("text", "")
        yes = dialog.get("confirm", {}).get("text", "Yes")
        no = dialog.get("deny", {}).get("text", "Cancel")
        self.say(
            f"  ┌ {title}\n  │ {text}\n  └ type y to {yes.lower()}, anything else to {no.lower()}"
        )
        answer = self.ask("  confirm? ")
        return (answer or "").strip().lower() in ("y", "yes")

    def _open_home(self) -> None:
        self.local.sender.event({"type": "app_home_opened", "user": self.user, "tab": "home"})
        self.local.deps.work.wait_idle(timeout=MAX_WAIT_S)
        view = self.local.emulator.home_view(self.user)
        if view is None:
            self.say("(the bot did not publish an App Home view)")
            return
        lines, _ = render_message(view)
        self.say(f"App Home of {self._name(self.user)}:")
        for line in lines:
            self.say(f"  {line}")

    def _send(self, send: Any) -> None:
        opened = {str(view.get("id")) for view in self.local.emulator.open_views()}
        sent = send()
        if sent.status != 200:
            self.say(f"(Slack would show an error: the bot answered HTTP {sent.status})")
        self.wait_and_show()
        for view in self.local.emulator.open_views():
            if str(view.get("id")) not in opened:
                self._fill_in(view)

    def _fill_in(self, view: Mapping[str, Any]) -> None:
        """A modal the bot opened: ask for each text input, then submit it (or cancel it)."""
        title = view.get("title", {}).get("text", "")
        self.say(f"  ┌ {title} (a form)")
        values: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            if block.get("type") == "section":
                self.say(f"  │ {block.get('text', {}).get('text', '')}")
            element = block.get("element", {})
            if block.get("type") == "input" and element.get("type") == "plain_text_input":
                label = block.get("label", {}).get("text", "")
                answer = (self.ask(f"  │ {label}: ") or "").strip()
                if not answer:
                    self.say("  └ (cancelled: the form was closed, nothing was sent)")
                    self.local.emulator.close_view(str(view.get("id")))
                    return
                values[block["block_id"]] = {
                    element["action_id"]: {"type": "plain_text_input", "value": answer}
                }
        self.say(f"  └ {view.get('submit', {}).get('text', 'Submit')}")
        self._send(
            lambda: self.local.sender.view_submission(user_id=self.user, view=view, values=values)
        )

    def wait_and_show(self) -> None:
        """Show what the bot says until its work for this line is done (bounded)."""
        deadline = time.monotonic() + MAX_WAIT_S
        while time.monotonic() < deadline:
            idle = self.local.deps.work.wait_idle(timeout=POLL_S)
            if idle or self.live:
                self.show_new()
            if idle:
                break
        else:
            self.say(f"(the bot is still working after {MAX_WAIT_S:g} s; its replies will follow)")
        self.show_new()

    def show_new(self) -> None:
        """Print messages that are new or changed since they were last shown."""
        for message in self.local.emulator.messages():
            if message.deleted:
                continue
            key = (message.channel, message.ts)
            fingerprint = json.dumps([message.text, message.blocks], sort_keys=True)
            if self.shown.get(key) != fingerprint:
                self.shown[key] = fingerprint
                self._print(message)

    def _print(self, message: Message) -> None:
        first = max(self.buttons, default=0) + 1
        lines, buttons = render_message(
            {"text": message.text, "blocks": message.blocks}, first_button=first
        )
        for button in buttons:
            self.buttons[button.number] = (message, button)
        who = "rollback-bot"
        if message.ephemeral_to:
            who += f" (only visible to {self._name(message.ephemeral_to)})"
        elif message.channel != self.channel and message.channel.startswith("D"):
            # The emulator's direct-message channel of U0X is D0X.
            who += f" (direct message to {self._name('U' + message.channel[1:])})"
        if message.edited:
            who += " (edited)"
        indent = "    | " if message.thread_ts and message.thread_ts != message.ts else ""
        self.say(f"{indent}{who}:")
        for text_line in lines:
            self.say(f"{indent}  {text_line}")

    def _name(self, user: str) -> str:
        name = self.local.emulator.user_name(user)
        return f"{user} ({name})" if name else user


def run_console(
    config: Config,
    *,
    user: str,
    environ: Mapping[str, str],
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    source = stdin or sys.stdin
    output = out or sys.stdout
    interactive = source.isatty()
    with LocalSlack(config, environ) as local:

        def ask(prompt: str) -> str | None:
            if interactive:
                print(prompt, end="", file=output, flush=True)
            line = source.readline()
            if not line:
                return None
            if not interactive:
                print(f"{prompt}{line.rstrip()}", file=output, flush=True)
            return line

        console = Console(
            local=local,
            out=output,
            user=user,
            channel=config.slack.channel,
            live=interactive,
            ask=ask,
        )
        console.say(
            f"rollback-bot console for {config.project.name} ({config.project.phase}), "
            f"channel {config.slack.channel}, you are {console._name(user)}. "
            "Type /rollback help, or help for console commands."
        )
        while True:
            if interactive:
                print(f"{console.user}> ", end="", file=output, flush=True)
            line = source.readline()
            if not line:
                break
            if not interactive:
                console.say(f"{console.user}> {line.rstrip()}")
            if not console.handle(line.strip()):
                break
    return 0
