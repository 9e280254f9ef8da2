"""A scratch instance of the service, for drills: ``drills.scratch_command`` run in a clone.

The command is a foreground server. ``{path}`` (the clone) and ``{port}`` (a free port on
127.0.0.1) are filled into its words, which are run without a shell, so a path can never
become a second command. It runs as the bot's own child in a process group of its own and is
stopped, with everything it started, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from actions.errors import InputError

STOP_GRACE_S = 5.0


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 now (the service binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scratch_argv(command: str, *, path: Path, port: int) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise InputError(f"drills.scratch_command cannot be split into words: {error}") from None
    if not words:
        raise InputError("drills.scratch_command is empty.")
    return [word.replace("{path}", str(path)).replace("{port}", str(port)) for word in words]


class ScratchService:
    """``with ScratchService(...) as service:`` runs it; leaving the block stops it."""

    def __init__(
        self, *, argv: list[str], cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> None:
        self._argv, self._cwd, self._env, self._log_path = argv, cwd, dict(env), log_path
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ScratchService:
        with self._log_path.open("wb") as log:
            try:
                self._process = subprocess.Popen(
                    self._argv,
                    cwd=self._cwd,
                    env=self._env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise InputError(
                    f"drills.scratch_command could not start: {error.strerror or error}"
                ) from None
        return self

    @property
    def exited(self) -> int | None:
        """Its exit code once it has stopped on its own (a server should not); else None."""
        return None if self._process is None else self._process.poll()

    def log_tail(self, lines: int = 10) -> tuple[str, ...]:
        try:
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ()
        return tuple(text.splitlines()[-lines:])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        # The whole group, always: what the server started may outlive it, or ignore SIGTERM.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
