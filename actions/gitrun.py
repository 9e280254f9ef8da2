"""Git plumbing for :mod:`actions.checkpoint`: bounded commands, the index copy, a repo lock.

Kept apart from the checkpoint flow so that the flow reads as the procedure's steps, and this
file holds the parts that need care: every command has a deadline, every complaint from git is
redacted before it can reach a message, and the index is restored with git's own lock protocol.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from actions.errors import GitError, OutOfTime
from actions.redact import redact

DEFAULT_NAME = "rollback-bot"
DEFAULT_EMAIL = "rollback-bot@localhost"
# Network commands must fail rather than wait for a password nobody will type.
NETWORK_ENV = {"GIT_TERMINAL_PROMPT": "0"}
# Taking changes back must happen even when the operation's own budget is spent.
UNDO_TIMEOUT_S = 15.0
_LOCK_FILE = "rollback-bot-checkpoint.lock"
_LOCK_POLL_S = 0.05
_PORCELAIN_RE = re.compile(r"^(.)\t([^\t]*)\t(.*)$")


@dataclass(frozen=True)
class GitCall:
    status: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    def complaint(self) -> str:
        """git's own first complaint (fatal:/error: preferred), redacted, one line."""
        lines = [line.strip() for line in self.err.splitlines() if line.strip()]
        if lines and lines[0].startswith("Timeout:"):
            # GitPython's watchdog killed it; its note repeats the whole command line.
            return "it did not finish in time"
        chosen = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
        text = chosen[0] if chosen else f"exit status {self.status}"
        return redact(text)[:300].rstrip(".")

    def remote_lines(self, limit: int = 3) -> tuple[str, ...]:
        """What a server-side hook printed ("remote: ..."), redacted; it often says why."""
        found = []
        for line in self.err.splitlines():
            text = line.removeprefix("remote:").strip()
            if line.startswith("remote:") and text:
                found.append(redact(text)[:200])
        return tuple(found[:limit])


class Deadline:
    """One time budget shared by all the commands of an operation."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, what: str) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise OutOfTime(f"Ran out of time before {what}.")
        return remaining


def run_git(
    repo: git.Repo,
    args: Sequence[str],
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    config: Sequence[str] = (),
) -> GitCall:
    """Run git with ``-c`` ``config`` options; never raises for a non-zero exit."""
    status, out, err = repo.git.execute(
        ["git", *config, *args],
        with_extended_output=True,
        with_exceptions=False,
        kill_after_timeout=timeout_s,
        strip_newline_in_stdout=True,
        env=dict(env) if env else None,
    )
    return GitCall(status=int(status), out=str(out), err=str(err))


def git_ok(
    repo: git.Repo,
    args: Sequence[str],
    timeout_s: float,
    *,
    env: Mapping[str, str] | None = None,
    config: Sequence[str] = (),
) -> str:
    """stdout of a git command that must succeed, or GitError with git's redacted complaint."""
    call = run_git(repo, args, timeout_s, env=env, config=config)
    if not call.ok:
        raise GitError(f"git {args[0]} failed: {call.complaint()}")
    return call.out


def identity_config(repo: git.Repo, timeout_s: float) -> tuple[str, ...]:
    """``-c`` options naming the bot, only for what the repository's config does not name.

    One ``--get-regexp`` call for both keys: git's last value for a key is the one it uses.
    """
    call = run_git(repo, ["config", "--get-regexp", r"^user\.(name|email)$"], timeout_s)
    named: dict[str, str] = {}
    for line in call.out.splitlines():
        key, _, value = line.partition(" ")
        named[key] = value.strip()
    options: list[str] = []
    for key, fallback in (("user.name", DEFAULT_NAME), ("user.email", DEFAULT_EMAIL)):
        if not named.get(key):
            options += ["-c", f"{key}={fallback}"]
    return tuple(options)


@contextmanager
def checkpoint_lock(repo: git.Repo, wait_s: float) -> Iterator[None]:
    """One checkpoint at a time per repository, across threads and processes.

    flock on a file in the git directory: released by the kernel when the holder exits, so a
    crash never leaves a stale lock, and separate opens conflict even within one process.
    """
    path = Path(repo.common_dir) / _LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        give_up = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    raise GitError(
                        "Another checkpoint is being created in this repository right now. "
                        "Nothing was changed; try again in a minute."
                    ) from None
                time.sleep(_LOCK_POLL_S)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class IndexCopy:
    """The index file's bytes before staging (None: there was none), to put back exactly."""

    path: Path
    data: bytes | None
    staged_digest: str = ""


def save_index(repo: git.Repo, timeout_s: float) -> IndexCopy:
    relative = git_ok(repo, ["rev-parse", "--git-path", "index"], timeout_s)
    path = Path(repo.working_dir) / relative
    # git replaces the index by rename, so one read sees one whole version of it.
    data = path.read_bytes() if path.exists() else None
    return IndexCopy(path=path, data=data)


def index_digest(repo: git.Repo, timeout_s: float) -> str:
    """What the index holds (modes, blobs, stages, paths), ignoring refreshed stat data."""
    listing = git_ok(repo, ["ls-files", "--stage", "-z"], timeout_s)
    return hashlib.sha256(listing.encode("utf-8", "surrogateescape")).hexdigest()


def restore_index(repo: git.Repo, copy: IndexCopy, timeout_s: float) -> str | None:
    """Put the saved bytes back under index.lock; a problem description, or None when done.

    Refuses when the index no longer holds what we staged: someone else has written it since,
    and their version wins over ours.
    """
    lock = copy.path.with_name(copy.path.name + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return f"another git command holds {lock.name}"
    except OSError as error:
        return f"could not lock the index ({error.strerror})"
    renamed = False
    try:
        if copy.staged_digest and index_digest(repo, timeout_s) != copy.staged_digest:
            return "the index was changed by another command meanwhile"
        if copy.data is None:
            copy.path.unlink(missing_ok=True)
        else:
            os.write(fd, copy.data)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(lock, copy.path)
            renamed = True
        return None
    except (OSError, GitError) as error:
        return f"could not write the index back ({getattr(error, 'strerror', None) or error})"
    finally:
        if fd >= 0:
            os.close(fd)
        if not renamed:
            lock.unlink(missing_ok=True)


@dataclass(frozen=True)
class PushedRef:
    flag: str  # porcelain flag: " " fast-forward, "*" new, "=" up to date, "!" rejected, ...
    source: str
    destination: str
    summary: str  # "a1b2c3d..e4f5a6b", "[new tag]", "[rejected] (fetch first)", ...


def parse_porcelain(output: str) -> tuple[PushedRef, ...]:
    refs = []
    for line in output.splitlines():
        match = _PORCELAIN_RE.match(line)
        if match:
            source, _, destination = match.group(2).partition(":")
            refs.append(PushedRef(match.group(1), source, destination, match.group(3).strip()))
    return tuple(refs)


def rejection_reason(refs: Sequence[PushedRef]) -> str | None:
    """The first real reason in git's "[rejected] (reason)" lines; "atomic push failed/failure"
    is only what the other refs say when one of them was refused."""
    reasons = []
    for ref in refs:
        if ref.flag != "!":
            continue
        match = re.search(r"\((.*)\)\s*$", ref.summary)
        reason = redact(match.group(1) if match else ref.summary)
        name = ref.destination.removeprefix("refs/heads/")
        if name.startswith("refs/tags/"):
            name = "tag " + name.removeprefix("refs/tags/")
        reasons.append(f"{name}: {reason}")
        if "atomic push fail" not in reason:
            return reasons[-1]
    return reasons[0] if reasons else None
