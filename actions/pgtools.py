"""PostgreSQL's command-line tools (pg_dump, pg_restore), run without the URL on their argv.

A process's argv is readable by every user of the machine (``ps``), so the database URL, and
above all its password, goes to the tools through libpq's environment variables (``PGHOST``,
``PGPASSWORD``, …), built here from the URL. The child gets only those and a minimal ``PATH``:
nothing else of the bot's environment (Slack tokens) reaches it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from actions.errors import DatabaseError
from actions.redact import redact

# libpq connection keywords and the environment variable each one has (libpq's own table).
_ENV_OF = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "requiressl": "PGREQUIRESSL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
    "service": "PGSERVICE",
}
# Where Debian and the PostgreSQL images keep the binaries when they are not on PATH.
_VERSIONED_BINDIRS = (Path("/usr/lib/postgresql"),)


@dataclass(frozen=True)
class ToolRun:
    status: int
    out: str
    err: str  # redacted, at most 2,000 characters

    @property
    def complaint(self) -> str:
        lines = [line.strip() for line in self.err.splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"exit status {self.status}"


def libpq_env(url: str) -> dict[str, str]:
    """The PG* variables that name the same connection as ``url``; DatabaseError when libpq
    cannot read it, or it has a setting that has no variable (so the tools would miss it)."""
    if not url.strip():
        raise DatabaseError("No database URL is set, so there is no database to dump.")
    try:
        settings = conninfo_to_dict(url)
    except psycopg.Error:
        raise DatabaseError(
            "The database URL cannot be read (is it a postgresql:// URL?)."
        ) from None
    env: dict[str, str] = {}
    for key, value in settings.items():
        if value is None:
            continue
        name = _ENV_OF.get(key)
        if name is None:
            raise DatabaseError(
                f"The database URL sets {key!r}, which pg_dump cannot be given without putting "
                "the URL on its command line. Remove it from the URL, or roll the database back "
                "by hand."
            )
        env[name] = str(value)
    return env


def tool_search_path(path: str, *, bindirs: Sequence[Path] = _VERSIONED_BINDIRS) -> str:
    """``path`` with PostgreSQL's versioned bin folders after it, the newest version first:
    Debian installs pg_dump there, off PATH. The one search path for every PostgreSQL tool."""
    versions = []
    for base in bindirs:
        if base.is_dir():
            for version in base.iterdir():
                if version.name.isdigit() and (version / "bin").is_dir():
                    versions.append((int(version.name), str(version / "bin")))
    extra = [folder for _, folder in sorted(versions, reverse=True)]
    return os.pathsep.join([part for part in path.split(os.pathsep) if part] + extra)


def find_tool(name: str, *, path: str) -> str | None:
    """Where ``name`` (pg_dump, pg_restore) is on ``path`` (see ``tool_search_path``)."""
    return shutil.which(name, path=path)


def require_tool(name: str, *, path: str) -> str:
    tool = find_tool(name, path=path)
    if tool is None:
        raise DatabaseError(
            f"{name} is not installed here (not on the bot's PATH, nor in "
            "/usr/lib/postgresql/*/bin), so the database cannot be backed up first. Nothing was "
            "changed. Install the PostgreSQL client tools, then ask again."
        )
    return tool


def run_tool(
    argv: Sequence[str],
    *,
    url: str,
    path: str,
    timeout_s: float,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> ToolRun:
    """Run a PostgreSQL tool (or the configured rollback command) with the URL in its
    environment; never raises for a non-zero exit, DatabaseError when it cannot run at all."""
    env = {"PATH": path, "LC_ALL": "C"}
    env.update(extra_env or {})
    env.update(libpq_env(url))
    secrets = _secrets_of(url, env)
    try:
        # A session of its own, so a timeout stops the whole tree (npm, sh, …), not just the
        # child: a grandchild holding the pipes would keep this call waiting past its time.
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    except OSError as error:
        raise DatabaseError(
            f"{Path(argv[0]).name} could not be started: {error.strerror or error}."
        ) from None
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise DatabaseError(f"{Path(argv[0]).name} did not finish in {timeout_s:g} s.") from None
    done = subprocess.CompletedProcess(argv, process.returncode, out, err)
    return ToolRun(
        status=done.returncode,
        out=redact(done.stdout, secrets=secrets)[:20_000],
        err=redact(done.stderr, secrets=secrets)[:2_000],
    )


def _secrets_of(url: str, env: Mapping[str, str]) -> tuple[str, ...]:
    found = {url, env.get("PGPASSWORD", "")}
    return tuple(sorted((secret for secret in found if secret), key=len, reverse=True))
