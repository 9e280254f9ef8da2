"""The database step's cost beside what an operator would type: `pg_dump` then `psql -1 -f`.

Starts a throwaway PostgreSQL 15 (the demo's, see bot/local/demo/postgres.py) and builds a template
database: a drizzle migrations table, a ``deals`` table of --rows rows with the migration's
``stage`` column and an index on it, and two untouched tables. Each repetition clones the
template (not timed) and runs both sides, alternating which goes first:

- ours:     the bot's database steps as a rollback runs them: check the migrations table,
            ``backup_database`` (pg_dump -Fc, read back with pg_restore --list), the dry run
            (BEGIN, down SQL, check, ROLLBACK) and the real run (the same, COMMIT);
- baseline: ``pg_dump -Fc -f`` of the same database, then ``psql -1 -f`` of the same down SQL
            with the migration row's DELETE appended.

Both must leave the database at the target's migrations without the column (checked).

    .venv/bin/python bench/db_rollback.py --rows 200000 --reps 5

Target: ours p50 at most 1.3x the baseline p50. A missed target prints ``TARGET MISSED``; the
exit code is still 0. Exit code 2 means the run broke (or PostgreSQL is not installed).
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from actions.database_plan import DatabasePlan, DownMigration, DownScript
from actions.database_steps import backup_database, read_migration_hashes, run_down_sql
from actions.errors import RollbackBotError
from actions.pgtools import find_tool, libpq_env, tool_search_path
from bot.local.demo.postgres import PgServer, PostgresUnavailable, running_postgres

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, print_ratio, run_in_temp_folder, timing_row  # isort: skip

RATIO_TARGET = 1.3
TABLE = "drizzle.__drizzle_migrations"
UP = "ALTER TABLE deals ADD COLUMN stage text NOT NULL DEFAULT 'qualified';\n"
DOWN = "DROP INDEX IF EXISTS deals_stage_idx;\nALTER TABLE deals DROP COLUMN stage;\n"
STEP_TIMEOUT_S = 600.0
TOOL_PATH = tool_search_path("/usr/local/bin:/usr/bin:/bin")


def _tool(name: str) -> str:
    return str(find_tool(name, path=TOOL_PATH))


def build_template(server: PgServer, rows: int) -> tuple[str, DatabasePlan]:
    url = server.create_database("bench_template")
    hashes = [hashlib.sha256(f"-- migration {n}\n".encode()).hexdigest() for n in range(1, 4)]
    hashes.append(hashlib.sha256(UP.encode()).hexdigest())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA drizzle")
        conn.execute(
            "CREATE TABLE drizzle.__drizzle_migrations "
            "(id serial PRIMARY KEY, hash text NOT NULL, created_at bigint)"
        )
        for number, digest in enumerate(hashes, start=1):
            conn.execute(
                "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (%s, %s)",
                (digest, 1_700_000_000_000 + number),
            )
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE deals (id serial PRIMARY KEY, title text, amount numeric)")
        conn.execute(
            "INSERT INTO customers (name) SELECT 'customer ' || n FROM generate_series(1, %s) n",
            (rows // 4,),
        )
        conn.execute(
            "INSERT INTO deals (title, amount) "
            "SELECT 'deal ' || n, n * 10 FROM generate_series(1, %s) n",
            (rows,),
        )
        conn.execute(UP)
        conn.execute("CREATE INDEX deals_stage_idx ON deals (stage)")
        conn.execute("VACUUM ANALYZE")
    plan = DatabasePlan(
        table=TABLE,
        migrations=(DownMigration("phase2_0002_add_deal_stage", "m.sql", hashes[-1]),),
        scripts=(DownScript("migrations/rollback/phase2_0002.down.sql", DOWN, ("m",)),),
        command=(),
        applied_before=tuple(sorted(hashes)),
        at_risk=(),
    )
    return url, plan


def ours(url: str, plan: DatabasePlan, folder: Path) -> None:
    if read_migration_hashes(url=url, plan=plan, timeout_s=30) != plan.applied_before:
        raise BenchError("ours: the migrations table is not as planned")
    backup_database(
        url=url, path=TOOL_PATH, backup_dir=folder, name="ours", timeout_s=STEP_TIMEOUT_S
    )
    run_down_sql(url=url, plan=plan, commit=False, timeout_s=STEP_TIMEOUT_S)
    run_down_sql(url=url, plan=plan, commit=True, timeout_s=STEP_TIMEOUT_S)


def baseline(url: str, plan: DatabasePlan, folder: Path) -> None:
    env = {"PATH": TOOL_PATH, **libpq_env(url)}
    script = folder / "down.sql"
    digest = plan.migrations[0].hash
    if not all(char in "0123456789abcdef" for char in digest):
        raise BenchError("the migration's hash is not hex")
    # The hash is hex we computed, checked above; psql -f has no parameters.
    delete = f"DELETE FROM {TABLE} WHERE hash = '{digest}';\n"  # noqa: S608
    script.write_text(DOWN + delete)
    for argv in (
        [str(find_tool("pg_dump", path=TOOL_PATH)), "-Fc", "-f", str(folder / "baseline.dump")],
        [
            str(find_tool("psql", path=TOOL_PATH)),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-1",
            "-f",
            str(script),
        ],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, timeout=STEP_TIMEOUT_S)
        if done.returncode != 0:
            raise BenchError(f"{Path(argv[0]).name} failed: {done.stderr.decode()[:300]}")


def check(url: str, plan: DatabasePlan) -> None:
    if read_migration_hashes(url=url, plan=plan, timeout_s=30) != plan.remaining:
        raise BenchError("the migrations table is not the target's")
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'deals' AND column_name = 'stage'"
        ).fetchone()
    if left is None or left[0] != 0:
        raise BenchError("the stage column is still there")


def run(args: argparse.Namespace, folder: Path) -> None:
    for tool in ("pg_dump", "pg_restore", "psql"):
        if find_tool(tool, path=TOOL_PATH) is None:
            raise BenchError(f"{tool} is not installed (scripts/ensure-postgres installs it)")
    give_up = time.monotonic() + args.time_limit
    try:
        with running_postgres() as server:
            started = time.perf_counter()
            _, plan = build_template(server, args.rows)
            print(f"built a {args.rows}-row template in {time.perf_counter() - started:.1f} s")
            sides: dict[str, Callable[[str, DatabasePlan, Path], None]] = {
                "ours": ours,
                "baseline": baseline,
            }
            times: dict[str, list[float]] = {"ours": [], "baseline": []}
            for rep in range(args.reps + 1):  # the first one warms caches, not counted
                order = list(sides.items()) if rep % 2 == 0 else list(sides.items())[::-1]
                for label, side in order:
                    if time.monotonic() > give_up:
                        raise BenchError(f"--time-limit ran out after {rep} reps")
                    name = f"{label}_{rep}"
                    server.execute(f'CREATE DATABASE "{name}" TEMPLATE bench_template')
                    url = server.url(name)
                    scratch = folder / name
                    scratch.mkdir()
                    began = time.perf_counter()
                    side(url, plan, scratch)
                    elapsed = time.perf_counter() - began
                    check(url, plan)
                    server.execute(f'DROP DATABASE "{name}"')
                    if rep:
                        times[label].append(elapsed)
    except PostgresUnavailable as reason:
        raise BenchError(f"no PostgreSQL 15 here: {reason}") from None
    print(f"database step ({args.reps} reps, alternating, a fresh copy of the database each):")
    print(timing_row("ours: check + dump + dry run + run", times["ours"], width=40))
    print(timing_row("baseline: pg_dump -Fc, psql -1 -f", times["baseline"], width=40))
    print_ratio(
        what="database step",
        ours=times["ours"],
        baseline=times["baseline"],
        target=RATIO_TARGET,
        baseline_name="pg_dump + psql -1 -f",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=bounded_int(100, 10_000_000), default=200_000)
    parser.add_argument("--reps", type=bounded_int(1, 50), default=5)
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=900)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    print(
        f"database step bench: {args.rows} rows, {args.reps} reps; "
        f"python {platform.python_version()}, {platform.machine()}"
    )
    return run_in_temp_folder(
        "db-rollback-bench-",
        args.dir,
        lambda folder: run(args, folder),
        also_broken=(RollbackBotError, psycopg.Error),
    )


if __name__ == "__main__":
    sys.exit(main())
