"""Reading down SQL: statements cut where PostgreSQL cuts them, and the drops it names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.sql_text import (
    Dropped,
    Statement,
    dropped_by,
    is_transaction_wrapper,
    split_statements,
    strip_comments,
    transaction_control,
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';'; SELECT 2;", ["SELECT ';'", "SELECT 2"]),
        ("SELECT 'it''s; fine'", ["SELECT 'it''s; fine'"]),
        ('SELECT 1 AS "a;b"; SELECT 2', ['SELECT 1 AS "a;b"', "SELECT 2"]),
        ("-- a; comment\nSELECT 1;", ["-- a; comment\nSELECT 1"]),
        (
            "/* one; /* nested; */ still; */ SELECT 1; ;",
            ["/* one; /* nested; */ still; */ SELECT 1"],
        ),
        (
            "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN; RETURN 1; END $body$ LANGUAGE plpgsql;"
            " SELECT 2",
            [
                "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN; RETURN 1; END $body$ LANGUAGE plpgsql",
                "SELECT 2",
            ],
        ),
        ("SELECT $$a;b$$; SELECT 2", ["SELECT $$a;b$$", "SELECT 2"]),
        ("-- only a comment;\n;;", []),
        ("SELECT 'unterminated; SELECT 2", ["SELECT 'unterminated; SELECT 2"]),
    ],
)
def test_split_statements_cuts_only_outside_quotes_and_comments(
    sql: str, expected: list[str]
) -> None:
    assert [statement.text for statement in split_statements(sql)] == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TABLE deals", [Dropped(("deals",))]),
        (
            'drop table if exists Public.Deals, "Odd""Name"',
            [Dropped(("public", "deals")), Dropped(('Odd"Name',))],
        ),
        ("ALTER TABLE deals DROP COLUMN stage", [Dropped(("deals",), "stage")]),
        (
            'ALTER TABLE IF EXISTS ONLY deals DROP stage, DROP COLUMN IF EXISTS "Owner"',
            [Dropped(("deals",), "stage"), Dropped(("deals",), "Owner")],
        ),
        ("ALTER TABLE deals DROP CONSTRAINT deals_pk", []),
        ("ALTER TABLE deals ALTER COLUMN stage DROP DEFAULT", []),
        ("ALTER TABLE deals ADD COLUMN x int", []),
        ("-- DROP TABLE deals\nSELECT 1", []),
        ("DROP INDEX customers_name_idx", []),
    ],
)
def test_dropped_by_names_the_tables_and_columns_that_lose_data(
    sql: str, expected: list[Dropped]
) -> None:
    assert list(dropped_by(Statement(1, sql))) == expected


@pytest.mark.parametrize(
    "sql", ["BEGIN", "begin work", "COMMIT", "END TRANSACTION", "START TRANSACTION"]
)
def test_a_bare_begin_or_commit_is_the_files_own_wrapper(sql: str) -> None:
    statement = Statement(1, sql)
    assert is_transaction_wrapper(statement) and not transaction_control(statement)


@pytest.mark.parametrize(
    "sql",
    [
        "ROLLBACK",
        "SAVEPOINT s",
        "release s",
        "PREPARE TRANSACTION 'x'",
        "COMMIT AND CHAIN",
        "END AND NO CHAIN",
        "commit work and chain",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
    ],
)
def test_statements_that_steer_the_transaction_are_recognised(sql: str) -> None:
    statement = Statement(1, sql)
    assert transaction_control(statement) and not is_transaction_wrapper(statement)


def test_first_line_names_the_code_not_the_comment() -> None:
    statement = split_statements("-- why\n  UPDATE deals\n  SET x = 1;")[0]
    assert statement.first_line == "UPDATE deals"


def test_strip_comments_keeps_quoted_dashes() -> None:
    assert strip_comments("SELECT '--not' -- yes\n") == "SELECT '--not'  "


_PLAIN = st.text(alphabet="abc XYZ_=,()1\n", min_size=1, max_size=20).filter(lambda t: t.strip())
_QUOTED = _PLAIN.map(lambda t: "'" + t.replace("'", "''") + ";'")
_PIECE = st.lists(st.one_of(_PLAIN, _QUOTED), min_size=1, max_size=4).map(" ".join)


@given(st.lists(_PIECE, min_size=1, max_size=6))
def test_split_statements_inverts_joining_statements_with_semicolons(pieces: list[str]) -> None:
    kept = [piece.strip() for piece in pieces if piece.strip()]
    statements = split_statements(";\n".join(pieces))
    assert [s.text for s in statements] == kept
    assert [s.number for s in statements] == list(range(1, len(kept) + 1))
