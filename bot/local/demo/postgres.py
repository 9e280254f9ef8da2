"""A real, throwaway PostgreSQL 15 on a temp directory and a free 127.0.0.1 port, for the demo
(its app database) and the tests (``tests/pgserver.py`` wraps it in a pytest fixture).

Use :func:`running_postgres` as a context manager. The server preloads ``pg_stat_statements``.

Authentication (our pg_hba.conf): on the Unix socket everyone is trusted; over TCP on 127.0.0.1
the superuser ``postgres`` is trusted and every other role must give its password
(scram-sha-256). So ``admin_url`` needs no password, and a role made with ``create_role``
exercises real password authentication.

``initdb`` refuses to run as root, and CI runs the tests as root: then initdb and pg_ctl run as
the ``postgres`` system user (``runuser``) on a directory that user owns, made with
``tempfile.mkdtemp`` because pytest's own tmp dirs may not be traversable by another user.
When the binaries are missing, :class:`PostgresUnavailable` says why (``scripts/ensure-postgres``
installs them).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

BINDIR = Path("/usr/lib/postgresql/15/bin")
EXTENSION_CONTROL = Path("/usr/share/postgresql/15/extension/pg_stat_statements.control")
SUPERUSER = "postgres"
START_TIMEOUT_S = 30
COMMAND_TIMEOUT_S = 60
PORT_ATTEMPTS = 3
# trust here is only the starting point: _HBA below replaces pg_hba.conf before the first start.
INITDB_OPTIONS = ("-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")

_HBA = f"""\
# Written by bot/local/demo/postgres.py.
local all all trust
host all {SUPERUSER} 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


class PostgresUnavailable(Exception):
    """This machine cannot run the test server (binaries or the postgres user missing)."""


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    data_dir: Path

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str = "") -> str:
        credentials = quote(user, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(database, safe='')}"

    @property
    def admin_url(self) -> str:
        return self.url()

    def execute(
        self,
        statement: str | sql.Composed,
        params: Sequence[Any] | None = None,
        *,
        database: str = "postgres",
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit); the rows if it returned any."""
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str | None = None, *, extensions: Sequence[str] = ()) -> str:
        """A new empty database (a unique name unless given); returns its admin URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        for extension in extensions:
            self.execute(
                sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)), database=name
            )
        return self.url(name)

    def create_role(self, name: str, *, password: str) -> None:
        """A login role that must authenticate with ``password`` over TCP."""
        self.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )


def database_of(url: str) -> str:
    """The database name at the end of a URL made by :class:`PgServer`."""
    return url.rsplit("/", 1)[1]


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick; racy, so callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_postgres() -> Iterator[PgServer]:
    """Start a throwaway cluster, yield it, and always stop it and delete its files."""
    as_user = check_prerequisites()
    # mkdtemp gives 0700; the postgres user must be able to reach the cluster inside it.
    base = Path(tempfile.mkdtemp(prefix="rollback-bot-pg-"))
    base.chmod(0o755)
    data = base / "data"
    log = base / "server.log"
    try:
        if as_user:
            account = pwd.getpwnam(as_user)
            os.chown(base, account.pw_uid, account.pw_gid)
        _run(as_user, base, "initdb", "-D", str(data), *INITDB_OPTIONS)
        (data / "pg_hba.conf").write_text(_HBA)
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            _configure(data, port)
            wait = ["-w", "-t", str(START_TIMEOUT_S)]
            try:
                _run(as_user, base, "pg_ctl", "-D", str(data), "-l", str(log), *wait, "start")
            except RuntimeError:
                if "could not bind" in _tail(log):
                    continue  # another process took the port between our probe and the bind
                raise RuntimeError(f"PostgreSQL did not start:\n{_tail(log)}") from None
            break
        else:
            raise RuntimeError(
                f"PostgreSQL found no free port in {PORT_ATTEMPTS} tries:\n{_tail(log)}"
            )
        yield PgServer(host="127.0.0.1", port=port, data_dir=data)
    finally:
        # Also after a failed or timed-out start: the postmaster may be up without pg_ctl knowing.
        try:
            if (data / "postmaster.pid").exists():
                _stop(as_user, base, data)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def check_prerequisites() -> str | None:
    """The system user to run the server as (None: ourselves); raises when we cannot run it."""
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (BINDIR / name).is_file()]
    if missing:
        raise PostgresUnavailable(
            f"{', '.join(missing)} not in {BINDIR}; run scripts/ensure-postgres"
        )
    if not EXTENSION_CONTROL.is_file():
        raise PostgresUnavailable(
            f"pg_stat_statements (contrib) not installed: no {EXTENSION_CONTROL}"
        )
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root, and runuser is missing to drop to 'postgres'")
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no 'postgres' system user"
        ) from None
    return SUPERUSER


def _configure(data: Path, port: int) -> None:
    # Appended settings override earlier ones, so a retry with a new port just appends again.
    settings = {
        "port": str(port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{data}'",
        "shared_preload_libraries": "'pg_stat_statements'",
        # Durability is pointless for a throwaway cluster and costs start-up and test time.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


def _run(as_user: str | None, cwd: Path, program: str, *args: str) -> None:
    command = [str(BINDIR / program), *args]
    if as_user:
        command = ["runuser", "-u", as_user, "--", *command]
    # cwd: the postgres user may not be allowed into the directory pytest runs from.
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")


def _stop(as_user: str | None, base: Path, data: Path) -> None:
    try:
        _run(as_user, base, "pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop")
    except (RuntimeError, subprocess.TimeoutExpired):
        # Never leave a server behind: immediate mode does not wait for clients.
        _run(as_user, base, "pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
