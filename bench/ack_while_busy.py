"""Acknowledgement latency while every worker is busy, beside an idle bot in the same run.

What was a timed test ("every ack under 2.0 s while git takes 4 s") is a latency target, so it
lives here. ``rollback-bot serve`` runs twice on the same repository: idle (the baseline), then
with ``git ls-remote`` taking ``--git-s`` seconds, while more ``/rollback status`` commands
arrive at once than there are workers after the ack. Slack must get every acknowledgement at
once whatever the work behind it, so the busy p99 should stay near the idle one.

    .venv/bin/python bench/ack_while_busy.py [--senders 20] [--git-s 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.deps import AFTER_ACK_WORKERS
from bot.local.demo.sandbox import build_sandbox, free_port
from bot.local.emulator import SlackEmulator, SlackSender

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import (  # isort: skip
    HOST,
    SIGNING_SECRET,
    BenchError,
    Server,
    bounded_int,
    lean_git,
    percentile,
    run_in_temp_folder,
    server_env,
)

# The promise of SPEC section 6 is "well inside 3 seconds"; the old test used 2.0 s.
TARGET_P99_S = 2.0
RUN_LIMIT_S = 300.0


def _acks(server: Server, emulator: SlackEmulator, count: int) -> list[float]:
    def send(_: int) -> float:
        with SlackSender(
            events_url=server.events_url, signing_secret=SIGNING_SECRET, emulator=emulator
        ) as sender:
            sent = sender.slash_command("/rollback", "status", user_id="U0ENG")
            if sent.status != 200:
                raise BenchError(f"an ack was HTTP {sent.status}")
            return sent.elapsed_s

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def _round(
    folder: Path, emulator: SlackEmulator, *, busy_git_s: float, senders: int
) -> list[float]:
    sandbox = build_sandbox(folder / "sandbox", service_port=free_port())
    if busy_git_s:
        slow = f"sleep {busy_git_s:g}; git-upload-pack"
        lean_git(sandbox.repo, ["config", "remote.origin.uploadpack", slow])
    port = free_port()
    argv = [sys.executable, "-m", "bot", "serve", "--config", str(sandbox.config_path)]
    server = Server(
        "busy" if busy_git_s else "idle",
        [*argv, "--host", HOST, "--port", str(port)],
        port,
        folder / "serve.log",
    )
    env = server_env(emulator)
    env.pop("DATABASE_URL", None)
    server.start(env)
    try:
        server.wait_healthy(time.monotonic() + RUN_LIMIT_S)
        return _acks(server, emulator, senders)
    finally:
        server.stop()


def _run(folder: Path, args: argparse.Namespace) -> None:
    deadline = time.monotonic() + RUN_LIMIT_S
    idle: list[float] = []
    busy: list[float] = []
    with SlackEmulator() as emulator:
        for number in range(args.rounds):
            if time.monotonic() > deadline:
                raise BenchError("out of time")
            idle += _round(folder / f"idle{number}", emulator, busy_git_s=0, senders=args.senders)
            busy += _round(
                folder / f"busy{number}", emulator, busy_git_s=args.git_s, senders=args.senders
            )
    _report(idle, busy, args)


def _report(idle: Sequence[float], busy: Sequence[float], args: argparse.Namespace) -> None:
    print(
        f"{args.senders} concurrent /rollback status, {args.rounds} rounds; "
        f"{AFTER_ACK_WORKERS} workers after the ack; busy: ls-remote takes {args.git_s:g} s"
    )
    for label, values in (("idle (baseline)", idle), ("busy", busy)):
        ordered = sorted(values)
        print(
            f"  {label:<16} p50 {percentile(ordered, 50) * 1000:7.1f} ms   "
            f"p99 {percentile(ordered, 99) * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms"
        )
    p99_busy = percentile(sorted(busy), 99)
    ratio = p99_busy / max(percentile(sorted(idle), 99), 1e-6)
    print(f"busy p99 / idle p99: {ratio:.2f}x")
    verdict = "met" if p99_busy < TARGET_P99_S else "TARGET MISSED"
    print(f"target: every ack well inside Slack's 3 s, busy p99 < {TARGET_P99_S:g} s: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=bounded_int(1, 100), default=AFTER_ACK_WORKERS + 4)
    parser.add_argument("--git-s", type=float, default=4.0)
    parser.add_argument("--rounds", type=bounded_int(1, 10), default=2)
    args = parser.parse_args(argv)
    return run_in_temp_folder("ack-busy-", None, lambda folder: _run(folder, args))


if __name__ == "__main__":
    raise SystemExit(main())
