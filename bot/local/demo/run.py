"""``rollback-bot demo``: a sandbox (repo, bare origin, demo service, config) and the console on it.

No Slack workspace and no setup: the sandbox is built in a fresh folder, the demo service is
started from the sandbox's working copy, and the console opens as user U0ENG; ``as U0ORCH …``
acts as the orchestrator the config names.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from bot.config import load_config
from bot.local.console import run_console
from bot.local.demo.sandbox import build_sandbox, start_service, stop_service


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
        return run_console(
            load_config(sandbox.config_path), user=user, environ=environ, stdin=stdin, out=output
        )
    finally:
        stop_service(sandbox)
        print(f"Demo service stopped; the sandbox stays at {sandbox.root}", file=output)
