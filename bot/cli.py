"""``rollback-bot``: the terminal entry point (serve, shell, demo, and operator commands).

The environment is read here (through :mod:`bot.settings`) and nowhere below.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from actions.errors import ConfigError, InputError, RefNameError, RollbackBotError
from bot.config.approvers import second_approver_warning
from bot.deps import Deps
from bot.logs import configure_logging
from bot.settings import Secret, load_settings, scrub_environment
from bot.terminal.startup import (
    create_app_or_explain,
    raise_open_files_limit,
    serve_socket_mode_or_explain,
    stop_on_sigterm,
)
from store import SqliteStore, Surface, TimelineAction

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger("rollback_bot.cli")

DEFAULT_CONFIG = Path("rollback-bot.toml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as error:
        print(f"rollback-bot: config error: {error.user_message}", file=sys.stderr)
        return 2
    except RollbackBotError as error:
        print(f"rollback-bot: {error.user_message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollback-bot",
        description="Runs the migration's rollback procedure from Slack, or from this terminal "
        "when Slack is down.",
        epilog="Quick start: rollback-bot demo. Every command takes --config FILE "
        "(default rollback-bot.toml).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the Slack bot (HTTP or Socket Mode)")
    serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(run=_serve)

    shell = commands.add_parser("shell", help="a local chat console over a loopback Slack")
    shell.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    shell.add_argument("--user", default="U0ENG", help="the Slack user you type as")
    shell.set_defaults(run=_shell)

    demo = commands.add_parser("demo", help="build a sandbox and open the console on it")
    demo.add_argument("--dir", type=Path, help="where to build the sandbox (default: a temp dir)")
    demo.add_argument("--user", default="U0ENG", help="the Slack user you type as")
    demo.set_defaults(run=_demo)

    _add_checkpoint(commands)
    _add_rollback(commands)

    status = commands.add_parser("status", help="print the status report (no Slack needed)")
    status.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    status.set_defaults(run=_status)

    log_command = commands.add_parser("log", help="print ROLLBACK_LOG.md, or --write it")
    log_command.add_argument("count", nargs="?", type=_entries, help="the newest N entries")
    log_command.add_argument("--write", action="store_true", help="write postmortem.log_path")
    log_command.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    log_command.set_defaults(run=_log)

    postmortem = commands.add_parser("postmortem", help="print an incident's post-mortem")
    postmortem.add_argument("incident", type=_incident, help="the incident number, e.g. 12")
    postmortem.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    postmortem.set_defaults(run=_postmortem)

    confidence = commands.add_parser("confidence", help="print the confidence table (drills)")
    confidence.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    confidence.set_defaults(run=_confidence)
    return parser


def _entries(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 500:
        raise argparse.ArgumentTypeError("N must be a whole number from 1 to 500")
    return int(text)


def _incident(text: str) -> int:
    number = text.removeprefix("#")
    if not number.isdigit() or not 1 <= int(number) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an incident number (e.g. 12)")
    return int(number)


def _log(args: argparse.Namespace) -> int:
    from bot.terminal.records import print_log

    deps = _offline_deps(args.config)
    try:
        print(print_log(deps, count=args.count, write=args.write, actor=_os_actor()), end="")
    finally:
        deps.close()
    return 0


def _confidence(args: argparse.Namespace) -> int:
    from bot.terminal.records import print_confidence

    deps = _offline_deps(args.config)
    try:
        print(print_confidence(deps), end="")
    finally:
        deps.close()
    return 0


def _postmortem(args: argparse.Namespace) -> int:
    from bot.terminal.records import print_postmortem

    deps = _offline_deps(args.config)
    try:
        print(print_postmortem(deps, incident_id=args.incident), end="")
    finally:
        deps.close()
    return 0


def _add_checkpoint(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    checkpoint = commands.add_parser(
        "checkpoint", help="create a checkpoint, or list them (no Slack needed)"
    )
    checkpoint.add_argument(
        "words", nargs="*", help="T+Nh, complete, before <change>, or list (as /checkpoint)"
    )
    checkpoint.add_argument("-m", "--message", default="", help="the checkpoint's message")
    checkpoint.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    checkpoint.add_argument(
        "--override-failing-checks",
        action="store_true",
        help="checkpoint even though the validation checklist fails (recorded under your name)",
    )
    checkpoint.set_defaults(run=_checkpoint)


def _add_rollback(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollback = commands.add_parser(
        "rollback", help="roll back, or resume or abort a stopped rollback (no Slack needed)"
    )
    chosen = rollback.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--to", metavar="TARGET", help="a checkpoint tag or commit to roll back to")
    chosen.add_argument("--resume", type=int, metavar="PLAN", help="resume a stopped rollback")
    chosen.add_argument("--abort", type=int, metavar="PLAN", help="abort a stopped rollback")
    rollback.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    rollback.add_argument(
        "--yes",
        action="store_true",
        help="approve without the prompt (only a plan with no warnings)",
    )
    rollback.add_argument(
        "--approve-anyway",
        action="store_true",
        help="with --yes: approve past the plan's warnings (non-checkpoint target, migrations)",
    )
    rollback.set_defaults(run=_rollback)


def _serve(args: argparse.Namespace) -> int:
    from bot.app import create_app, start_scheduler
    from bot.frontdoor import SlackFrontDoor
    from bot.server import OPEN_FILES_WANTED, create_http_server
    from bot.socket_mode import serve_socket_mode

    settings = load_settings(args.config)
    scrub_environment(os.environ, settings.config)
    configure_logging(secrets=settings.secret_values())
    warning = second_approver_warning(settings.config)
    if warning is not None:
        log.warning("four eyes: %s", warning)
    store = SqliteStore(settings.config.store.path, secrets=settings.secret_values())
    deps = Deps(settings=settings, store=store)
    app = create_app_or_explain(create_app, deps)
    scheduler = start_scheduler(deps, app)
    if settings.slack.app_token is not None:
        log.info("starting in Socket Mode")
        stop = threading.Event()
        stop_on_sigterm(stop.set, exit_now=False)
        try:
            serve_socket_mode_or_explain(serve_socket_mode, app, settings.slack.app_token, stop)
        finally:
            scheduler.stop()
            deps.close()
        return 0
    front_door = SlackFrontDoor(app, signing_secret=settings.slack.signing_secret, store=store)
    raise_open_files_limit(OPEN_FILES_WANTED)
    server = create_http_server(front_door, host=args.host, port=args.port)
    stop_on_sigterm(server.close)
    log.info("listening on http://%s:%s/slack/events", args.host, server.effective_port)  # type: ignore[union-attr]
    try:
        server.run()
    finally:
        scheduler.stop()
        deps.close()
    return 0


def _offline_deps(config_path: Path) -> Deps:
    """Dependencies for the terminal commands: no Slack secrets, since they never talk to Slack."""
    from bot.config import load_config
    from bot.settings import SlackSettings, settings_from

    config = load_config(config_path)
    offline = SlackSettings(
        bot_token=Secret(""), signing_secret=Secret(""), app_token=None, api_url=None
    )
    settings = settings_from(config, offline, os.environ)
    scrub_environment(os.environ, config)
    return Deps(settings, SqliteStore(config.store.path, secrets=settings.secret_values()))


def _print(message: dict[str, object]) -> None:
    from bot.terminal.render import render_message

    lines, _ = render_message(message)
    print("\n".join(lines))


def _status(args: argparse.Namespace) -> int:
    from bot.flows.status import collect_status
    from bot.views.status import build_status_view

    deps = _offline_deps(args.config)
    try:
        deps.store.append_event(
            actor=_os_actor(), surface=Surface.TERMINAL, action=TimelineAction.STATUS
        )
        _print(build_status_view(collect_status(deps)))
    finally:
        deps.close()
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from bot import grammar
    from bot.flows.checkpoint import CheckpointRequest, checkpoint_list, take_checkpoint
    from bot.views.checkpoint import build_checkpoint_list_view, build_checkpoint_outcome_view

    # The same grammar as /checkpoint, so the terminal accepts exactly what Slack does.
    parsed = grammar.parse("/checkpoint", " ".join([*args.words, args.message]).strip())
    deps = _offline_deps(args.config)
    actor = _os_actor()
    try:
        if isinstance(parsed, grammar.CheckpointList):
            found = checkpoint_list(deps)
            _print(
                build_checkpoint_list_view(
                    found.infos,
                    remote=deps.settings.config.git.remote,
                    remote_problem=found.remote_problem,
                    now=deps.clock(),
                    records=found.records,
                )
            )
            return 0
        if not isinstance(parsed, grammar.CheckpointCreate):
            raise InputError(
                "Use: rollback-bot checkpoint [T+Nh|complete|before|list] [-m MESSAGE]"
            )
        request = CheckpointRequest(kind=parsed.kind, hours=parsed.hours, message=parsed.message)
        forced_by = actor if args.override_failing_checks else None
        outcome = take_checkpoint(
            deps, request, actor=actor, surface=Surface.TERMINAL, forced_by=forced_by
        )
        _print(build_checkpoint_outcome_view(outcome, requested_by=actor))
        if outcome.refused:
            print("Refused: fix the failing checks, or pass --override-failing-checks.")
            return 1
        return 0
    finally:
        deps.close()


def _rollback(args: argparse.Namespace) -> int:
    from bot.terminal import rollback as terminal

    try:
        if (args.yes or args.approve_anyway) and args.to is None:
            raise InputError("--yes and --approve-anyway go with --to only.")
        if args.approve_anyway and not args.yes:
            raise InputError(
                "--approve-anyway goes with --yes; without --yes, type “approve anyway” at the "
                "prompt."
            )
        slack = _slack_if_reachable()  # before the environment is scrubbed of the token
        deps = _offline_deps(args.config)
        try:
            term = terminal.Terminal(say=_say, ask=_ask, slack=slack)
            actor = _os_actor()
            terminal.recover(deps, term=term)
            if args.resume is not None:
                return terminal.resume(deps, plan_id=args.resume, actor=actor, term=term)
            if args.abort is not None:
                return terminal.abort(deps, plan_id=args.abort, actor=actor, term=term)
            return terminal.rollback_to(
                deps,
                target=args.to,
                actor=actor,
                term=term,
                yes=args.yes,
                approve_anyway=args.approve_anyway,
            )
        finally:
            deps.close()
    except (InputError, RefNameError) as error:
        # What the operator typed is not valid (a bad target, flags that do not go together).
        print(f"rollback-bot: {' '.join(error.user_message.split())}", file=sys.stderr)
        return 2


def _slack_if_reachable() -> WebClient | None:
    """A Web API client when SLACK_BOT_TOKEN is set, so a terminal rollback shows on its card;
    the terminal commands work without it, for when Slack itself is down."""
    from slack_sdk import WebClient

    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        return None
    base_url = os.environ.get("SLACK_API_URL", "").strip() or WebClient.BASE_URL
    return WebClient(token=token, base_url=base_url, timeout=10)


def _say(text: str) -> None:
    print(text, flush=True)  # each step as it finishes, even through a pipe or `tee`


def _ask(prompt: str) -> str | None:
    try:
        answer = input(prompt)
    except (EOFError, KeyboardInterrupt):
        return None
    if not sys.stdin.isatty():
        print()  # a piped answer is not echoed: end the prompt's line
    return answer


def _os_actor() -> str:
    return f"os:{getpass.getuser()}"


def _shell(args: argparse.Namespace) -> int:
    from bot.config import load_config
    from bot.local.console import run_console

    config = load_config(args.config)
    environ = dict(os.environ)  # the console's own settings read it; its children must not
    scrub_environment(os.environ, config)
    return run_console(config, user=args.user, environ=environ)


def _demo(args: argparse.Namespace) -> int:
    from bot.local.demo.run import run_demo

    return run_demo(directory=args.dir, user=args.user, environ=os.environ)


if __name__ == "__main__":
    raise SystemExit(main())
