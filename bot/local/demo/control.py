"""Process control for the demo service: what ``service.py restart`` and ``stop`` run.

The running instance writes its pid to ``DIR/.demo-service.pid`` and its output to
``DIR/logs/server.log``. ``stop`` signals only processes whose command line is the demo
``service.py`` serving DIR (checked via /proc before every signal, so a stale pidfile or a
reused pid is harmless); ``start`` launches a detached ``service.py serve`` and waits until
its own /healthz answers.

Stdlib only, and imports nothing from the project: ``service.py`` run as a script loads this
file by path (see there), and this file in turn starts that script by path.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
LOG_RELPATH = Path("logs/server.log")
PIDFILE_NAME = ".demo-service.pid"
SERVICE_SCRIPT = Path(__file__).resolve().with_name("service.py")


class ServiceError(Exception):
    """Stopping or starting failed; the message says why, for a human."""


def read_pid(pidfile: Path) -> int | None:
    try:
        text = pidfile.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    """A zombie nobody has reaped yet (we run detached) counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _is_ours(pid: int, root: Path) -> bool:
    """Is pid the demo service's `serve` for root? Checked before every signal (pid reuse)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    if "serve" not in args or not any(
        a.endswith(("bot.local.demo.service", "demo/service.py")) for a in args
    ):
        return False
    roots = [value for flag, value in itertools.pairwise(args) if flag == "--root"]
    return bool(roots) and Path(cwd, roots[-1]).resolve() == root  # a relative --root is cwd's


def find_instances(root: Path) -> list[int]:
    """Live `serve` processes for root: the pidfile's, and any that lost their pidfile."""
    proc = Path("/proc")  # Linux only: without /proc nothing is recognised as ours, or signalled
    candidates = (
        {int(p.name) for p in proc.iterdir() if p.name.isdigit()} if proc.is_dir() else set()
    )
    candidates.add(read_pid(root / PIDFILE_NAME) or 0)
    return sorted(
        p for p in candidates if p not in (0, os.getpid()) and _alive(p) and _is_ours(p, root)
    )


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def stop(root: Path, timeout_s: float = 5.0) -> list[int]:
    """SIGTERM our instances for root, SIGKILL what is left after timeout_s; return their pids."""
    pids = find_instances(root)
    left = pids
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 2.0)):
        for pid in left:
            if _alive(pid) and _is_ours(pid, root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        if not (left := _wait_gone(left, wait_s)):
            break
    if left:
        raise ServiceError(f"demo service pid(s) {left} still running after SIGKILL")
    (root / PIDFILE_NAME).unlink(missing_ok=True)
    return pids


def _healthz_pid(port: int) -> object:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        data = json.loads(response.read()) if response.status == 200 else {}
        return data.get("pid") if isinstance(data, dict) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def start(root: Path, port: int, ready_timeout_s: float = 15.0) -> int:
    """Start a detached instance; return its pid once its own /healthz answers."""
    log_path = root / LOG_RELPATH
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # -P + the script's path: runs from any cwd without the project on sys.path (stdlib only).
    argv = [sys.executable, "-P", str(SERVICE_SCRIPT), "serve", "--port", str(port)]
    with log_path.open("ab") as out:
        child = subprocess.Popen(
            [*argv, "--root", str(root)],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command and the shell that ran it
        )
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if (code := child.poll()) is not None:
            tail = "\n".join(log_path.read_text("utf-8", "replace").splitlines()[-3:])
            raise ServiceError(f"it exited with code {code} during start-up; {log_path}:\n{tail}")
        if _healthz_pid(port) == child.pid:
            return child.pid
        time.sleep(0.1)
    child.kill()
    child.wait(timeout=5)
    raise ServiceError(f"no answer on http://{HOST}:{port}/healthz in {ready_timeout_s:g}s")
