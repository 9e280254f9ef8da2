"""What every benchmark here needs: servers as subprocesses on loopback, and percentiles.

Benchmarks run the real entry points (``python -m bot serve``) as their own processes, so the
figures include everything a deployment pays, and compare them with a baseline in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from bot.local.emulator import SlackEmulator

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# A throwaway secret: the servers and the senders share it, nothing else ever sees it.
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
HEALTH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class BenchError(Exception):
    """The run itself broke (not a slow result): a server failed, or time ran out."""


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    """One server under test, run as a subprocess whose output goes to a file.

    A file, not a pipe: nobody reads a pipe while the benchmark runs, and a full pipe would
    block the server's logging and with it the requests being measured.
    """

    name: str
    argv: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def events_url(self) -> str:
        return self.base_url + "/slack/events"

    def start(self, env: dict[str, str]) -> None:
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_healthy(self, deadline: float) -> None:
        give_up = min(deadline, time.monotonic() + HEALTH_TIMEOUT_S)
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < give_up:
                if self.process is None or self.process.poll() is not None:
                    raise BenchError(f"{self.name} exited early:\n{self.log_tail()}")
                try:
                    if client.get(self.base_url + "/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet
                time.sleep(0.05)
        raise BenchError(f"{self.name} was not healthy in time:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cpu_s(self) -> float | None:
        """CPU seconds the process has used so far (all threads), from /proc; None elsewhere."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # utime and stime, fields 14 and 15 of proc(5), counted after the ")" of the name.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_warnings(self) -> Counter[str]:
        """WARNING/ERROR lines by message; e.g. waitress's "Task queue depth" shows thread waits."""
        found: Counter[str] = Counter()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return found
        for line in text.splitlines():
            match = re.search(r"\b(WARNING|ERROR|CRITICAL) (.*)$", line)
            if match:
                # Digits vary per line (queue depths, ids); fold them so like counts with like.
                found[re.sub(r"\d+", "N", match.group(0))] += 1
        return found


def server_env(emulator: SlackEmulator) -> dict[str, str]:
    """The inherited environment, minus any real Slack settings, pointed at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(
        SLACK_BOT_TOKEN=emulator.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.api_url,
    )
    return env


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted values: a latency some request really had."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], so every run stays bounded."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low}..{high}, got {value}")
        return value

    return parse


def git_out(cwd: Path, *args: str, timeout_s: float, stdin: bytes | None = None) -> str:
    """stdout of a git command that must succeed (stripped), or BenchError with its complaint."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"git {args[0]} failed: {done.stderr.decode(errors='replace')[:300]}")
    return done.stdout.decode().strip()


def isolate_git(*, identity: bool = False) -> None:
    """No user or system git config in the figures; ``identity``: a committer for new commits."""
    os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    if identity:
        for key, value in (("NAME", "bench"), ("EMAIL", "bench@localhost")):
            os.environ.setdefault(f"GIT_AUTHOR_{key}", value)
            os.environ.setdefault(f"GIT_COMMITTER_{key}", value)


def lean_git(
    cwd: Path, args: Sequence[str], *, timeout_s: float = 60.0, env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """git as lean as Python can run it, still bounded: a kill timer rather than
    communicate(timeout=...), whose polling costs about a millisecond per call here.
    Baselines use it so that the bot is measured against the cheapest way to run git."""
    process = subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env} if env else None,
    )
    timer = threading.Timer(timeout_s, process.kill)
    timer.start()
    try:
        out, err = process.communicate()
    finally:
        timer.cancel()
    return process.returncode, out, err


def run_in_temp_folder(
    prefix: str,
    parent: Path | None,
    run: Callable[[Path], None],
    *,
    also_broken: tuple[type[BaseException], ...] = (),
) -> int:
    """Run in a fresh folder that is always removed; exit code 2, "ABORTED", if the run broke."""
    broken: tuple[type[BaseException], ...] = (
        BenchError,
        OSError,
        subprocess.SubprocessError,
        *also_broken,
    )
    folder: Path | None = None
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        run(folder)
    except broken as exc:
        # The project's own errors carry a message meant for people.
        message = getattr(exc, "user_message", exc)
        print(f"ABORTED, the run broke: {message}", file=sys.stderr)
        return 2
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def print_ratio(
    *,
    what: str,
    ours: Sequence[float],
    baseline: Sequence[float],
    target: float,
    baseline_name: str = "raw git",
) -> float:
    """Print ours/baseline at p50 and whether it meets the target; return the ratio."""
    ratio = percentile(sorted(ours), 50) / percentile(sorted(baseline), 50)
    verdict = "met" if ratio <= target else "TARGET MISSED"
    print(f"ours / baseline (p50): {ratio:.2f}x")
    print(f"target: {what} p50 <= {target}x {baseline_name} p50: {verdict}")
    return ratio


def timing_row(label: str, values: Sequence[float], *, width: int) -> str:
    """One line of a timing table: p50 and max of ``values`` (seconds), in milliseconds."""
    ordered = sorted(values)
    return (
        f"  {label:<{width}} p50 {percentile(ordered, 50) * 1000:8.1f} ms   "
        f"max {ordered[-1] * 1000:8.1f} ms"
    )
