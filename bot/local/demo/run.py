"""``rollback-bot demo``: a sandbox (repo, bare origin, demo service, config) and the console on it.

No Slack workspace and no setup: the sandbox is built in a fresh folder, the demo service is
started from the sandbox's working copy, and the console opens as user U0ENG; ``as U0ORCH …``
acts as the orchestrator the config names.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import psycopg

from bot.config import load_config
from bot.local.console import run_console
from bot.local.demo.appdb import migrated_database
from bot.local.demo.postgres import PostgresUnavailable, running_postgres
from bot.local.demo.sandbox import Sandbox, build_sandbox, start_service, stop_service


def run_demo(
    *,
    directory: Path | None,
    user: str,
    environ: Mapping[str, str],
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    output = out or sys.stdout
    root = directory or Path(tempfile.mkdtemp(prefix="rollback-bot-demo-"))
    sandbox = build_sandbox(root)
    print(f"Sandbox: {sandbox.root}", file=output)
    print(f"  working copy {sandbox.repo} (bare origin {sandbox.origin})", file=output)
    print(f"  demo service {sandbox.base_url}, config {sandbox.config_path}", file=output)
    start_service(sandbox)
    try:
        with ExitStack() as stack:
            url = _app_database(stack, sandbox, output)
            env = {**environ, "DATABASE_URL": url} if url else dict(environ)
            return run_console(
                load_config(sandbox.config_path), user=user, environ=env, stdin=stdin, out=output
            )
    finally:
        stop_service(sandbox)
        print(f"Demo service stopped; the sandbox stays at {sandbox.root}", file=output)


def _app_database(stack: ExitStack, sandbox: Sandbox, output: TextIO) -> str | None:
    """The app's database on a throwaway PostgreSQL, migrated to HEAD, when PostgreSQL 15 is
    installed; the database scenario then rolls it back for real. Stopped when the demo ends."""
    try:
        server = stack.enter_context(running_postgres())
        url = migrated_database(server, sandbox.repo)
    except (PostgresUnavailable, RuntimeError, OSError, psycopg.Error) as reason:
        print(
            f"  no app database ({reason}): the database scenario shows its step as "
            "unavailable. scripts/ensure-postgres installs PostgreSQL 15.",
            file=output,
        )
        return None
    print(
        f"  app database on PostgreSQL at 127.0.0.1:{server.port} (its migrations applied; "
        "try /rollback scenario database)",
        file=output,
    )
    return url
