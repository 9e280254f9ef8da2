"""actions.checks.app_migrations: drizzle-style applied migrations against the phase's files, real PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from actions.checks.app_migrations import (
    DEFAULT_TABLE,
    AppliedMigration,
    MigrationReport,
    compare_migrations,
    list_migration_files,
    migrations_check,
    parse_table_name,
    read_applied_migrations,
)
from actions.errors import InputError
from tests.pgserver import PgServer, database_of, free_port

DRIZZLE_SCHEMA = (
    "CREATE SCHEMA drizzle;"
    " CREATE TABLE drizzle.__drizzle_migrations"
    " (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)"
)
MIGRATIONS = {
    "migrations/0001_init.sql": "CREATE TABLE customers (id serial primary key);\n",
    "migrations/phase2_0002_add_deal_stage.sql": "ALTER TABLE deals ADD COLUMN stage text;\n",
    "migrations/phase2_0003_x.sql": "CREATE INDEX deals_stage ON deals (stage);\n",
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def compare(url: str, repo: Path, table: str = DEFAULT_TABLE) -> MigrationReport:
    return compare_migrations(
        url=url, repo=repo, directory="migrations", phase="phase2", table=table, timeout_s=5
    )


@pytest.fixture
def migration_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for relative, text in MIGRATIONS.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    return repo


@pytest.fixture
def drizzle_db(pg_server: PgServer) -> str:
    """A database whose drizzle table has 0001 and phase2_0002 applied, 0002 the newer."""
    url = pg_server.create_database()
    name = database_of(url)
    pg_server.execute(DRIZZLE_SCHEMA, database=name)
    for relative, created_ms in (
        ("migrations/0001_init.sql", 1_763_700_000_000),
        ("migrations/phase2_0002_add_deal_stage.sql", 1_763_800_000_000),
    ):
        pg_server.execute(
            "INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (%s, %s)",
            (sha256(MIGRATIONS[relative]), created_ms),
            database=name,
        )
    return url


# --- migrations -------------------------------------------------------------------------------


def test_compare_migrations_names_applied_and_pending(
    drizzle_db: str, migration_repo: Path
) -> None:
    report = compare(drizzle_db, migration_repo)
    assert (report.ok, report.reason) == (True, "")
    assert report.phase_applied == ("migrations/phase2_0002_add_deal_stage.sql",)
    assert report.phase_pending == ("migrations/phase2_0003_x.sql",)
    assert [file.path for file in report.files] == [
        "migrations/phase2_0002_add_deal_stage.sql",
        "migrations/phase2_0003_x.sql",
    ]
    newest, oldest = report.applied
    assert newest.hash == sha256(MIGRATIONS["migrations/phase2_0002_add_deal_stage.sql"])
    assert newest.created_at == datetime.fromtimestamp(1_763_800_000, tz=UTC)
    assert oldest.hash == sha256(MIGRATIONS["migrations/0001_init.sql"])


def test_compare_migrations_missing_table_has_clear_reason(
    pg_server: PgServer, migration_repo: Path
) -> None:
    report = compare(pg_server.create_database(), migration_repo)
    assert (report.ok, report.reason) == (
        False,
        "no table drizzle.__drizzle_migrations (no migrations applied yet?)",
    )
    assert len(report.files) == 2  # the repo side is still reported


@pytest.mark.parametrize(
    "table", ["x; DROP TABLE y", '"a"."b"', "a.b.c", "", "1abc", "a-b", "abc\n"]
)
def test_compare_migrations_malicious_table_refused_before_connecting(
    pg_server: PgServer, migration_repo: Path, table: str
) -> None:
    url = pg_server.create_database()
    name = database_of(url)
    pg_server.execute("CREATE TABLE y (id int)", database=name)
    report = compare(url, migration_repo, table)
    assert not report.ok
    assert report.reason.startswith("refused migrations table name")
    assert pg_server.execute("SELECT to_regclass('y')::text", database=name) == [("y",)]
    # The same refusal with no server at all: the name is judged before any connection.
    unreachable = f"postgresql://u@127.0.0.1:{free_port()}/x"
    refused = read_applied_migrations(url=unreachable, table=table, timeout_s=5)
    assert refused.reason.startswith("refused migrations table name")


def test_read_applied_migrations_newest_first(drizzle_db: str) -> None:
    ok, reason, applied = read_applied_migrations(url=drizzle_db, timeout_s=5)
    assert (ok, reason) == (True, "")
    assert [migration.id for migration in applied] == [2, 1]


def test_read_applied_migrations_wrong_columns_explained(pg_server: PgServer) -> None:
    url = pg_server.create_database()
    pg_server.execute("CREATE TABLE migs (name text)", database=database_of(url))
    result = read_applied_migrations(url=url, table="migs", timeout_s=5)
    assert not result.ok
    assert "has no id, hash and created_at columns" in result.reason


@pytest.mark.parametrize("directory", ["../outside", "migrations/../../outside", "/etc"])
def test_list_migration_files_directory_escape_refused(
    migration_repo: Path, directory: str
) -> None:
    (migration_repo.parent / "outside").mkdir()
    with pytest.raises(InputError, match=r"outside the repo|relative to the repo"):
        list_migration_files(repo=migration_repo, directory=directory, phase="phase2")


def test_list_migration_files_symlink_escape_refused(migration_repo: Path) -> None:
    outside = migration_repo.parent / "elsewhere"
    outside.mkdir()
    (outside / "phase2_evil.sql").write_text("DROP TABLE deals;\n")
    (migration_repo / "linked").symlink_to(outside)
    with pytest.raises(InputError, match="outside the repo"):
        list_migration_files(repo=migration_repo, directory="linked", phase="phase2")


def test_list_migration_files_skips_rollback_scripts_and_other_files(migration_repo: Path) -> None:
    (migration_repo / "migrations/rollback").mkdir()
    (migration_repo / "migrations/rollback/phase2-rollback.sql").write_text("DROP INDEX x;\n")
    (migration_repo / "migrations/phase2_notes.md").write_text("not sql\n")
    (migration_repo / "migrations/sub").mkdir()
    (migration_repo / "migrations/sub/phase2_0004_nested.sql").write_text("SELECT 1;\n")
    files = list_migration_files(repo=migration_repo, phase="phase2")
    assert [file.path for file in files] == [
        "migrations/phase2_0002_add_deal_stage.sql",
        "migrations/phase2_0003_x.sql",
        "migrations/sub/phase2_0004_nested.sql",
    ]
    assert files[0].sha256 == sha256(MIGRATIONS["migrations/phase2_0002_add_deal_stage.sql"])


def test_list_migration_files_missing_directory_is_empty(migration_repo: Path) -> None:
    assert list_migration_files(repo=migration_repo, directory="drizzle", phase="phase2") == ()


def test_migrations_check_lists_applied_and_pending() -> None:
    report = MigrationReport(
        ok=True,
        reason="",
        applied=(AppliedMigration(7, "ab" * 32, datetime(2025, 11, 22, 9, 30, tzinfo=UTC)),),
        files=(),
        phase_applied=("migrations/phase2_0002.sql",),
        phase_pending=("migrations/phase2_0003.sql",),
    )
    check = migrations_check(report)
    assert (check.ok, check.kind, check.name) == (True, "migrations", "migrations")
    assert check.details == (
        "newest applied: #7 abababababab at 2025-11-22 09:30 UTC",
        "applied: migrations/phase2_0002.sql",
        "pending: migrations/phase2_0003.sql",
        "no phase migration files in the repo",
    )


def test_migrations_check_failed_lookup_is_not_ok() -> None:
    check = migrations_check(MigrationReport(False, "connection refused", (), (), (), ()))
    assert (check.ok, check.reason) == (False, "connection refused")


# --- the table-name validator -----------------------------------------------------------------

IDENT_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
IDENT_CHARS = IDENT_START + "0123456789"
identifiers = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(IDENT_START),
    st.text(alphabet=IDENT_CHARS, max_size=62),
)


# Mostly identifier characters, so near-misses (too long, three parts, a stray quote) are common.
@given(st.text(alphabet=IDENT_CHARS + '.;"- \n\x00é', max_size=140) | st.text(max_size=20))
def test_parse_table_name_accepts_only_schema_table_shapes(name: str) -> None:
    parts = parse_table_name(name)
    if parts is not None:
        assert ".".join(parts) == name
        assert 1 <= len(parts) <= 2
        for part in parts:
            assert 1 <= len(part) <= 63
            assert part[0] in IDENT_START
            assert set(part) <= set(IDENT_CHARS)


@given(st.lists(identifiers, min_size=1, max_size=2))
def test_parse_table_name_accepts_every_identifier_shape(parts: list[str]) -> None:
    assert parse_table_name(".".join(parts)) == tuple(parts)


@given(identifiers, st.integers(min_value=0, max_value=63), st.characters())
def test_parse_table_name_refuses_any_foreign_character(
    identifier: str, position: int, char: str
) -> None:
    assume(char not in IDENT_CHARS and char != ".")
    position = min(position, len(identifier))
    assert parse_table_name(identifier[:position] + char + identifier[position:]) is None
