"""Reading down SQL without running it: its statements, and the data they would drop.

The database step shows, before anyone approves it, which tables and columns its down SQL drops
(so the card can say how many rows would be lost), and when a statement fails it names that
statement. Both need the file cut into statements the way PostgreSQL reads it: a ``;`` ends a
statement only outside quotes, dollar quotes and comments.

This is a reader for the forms down migrations are written in (``DROP TABLE``, ``ALTER TABLE …
DROP COLUMN``), not a SQL parser: a statement it does not recognise drops nothing it knows of,
and the card says the figures cover only what it recognised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_DROP_TABLE = re.compile(
    rf"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?({_QNAME}(?:\s*,\s*{_QNAME})*)", re.IGNORECASE
)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?({_QNAME})\s*\*?\s+(.*)$",
    re.IGNORECASE | re.DOTALL,
)
# An action that starts with DROP (after the table name or a comma); DROP CONSTRAINT keeps data,
# and ALTER COLUMN … DROP DEFAULT starts with ALTER, so neither matches.
_DROP_COLUMN = re.compile(
    rf"(?:^|,)\s*DROP\s+(?!CONSTRAINT\b)(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?({_IDENT})",
    re.IGNORECASE,
)
_NAME_PART = re.compile(_IDENT)
_WRAPPER = re.compile(
    r"^(?:BEGIN|START\s+TRANSACTION|COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?$", re.I
)
# Anything that ends or steers a transaction: COMMIT AND CHAIN, END, ROLLBACK TO, SAVEPOINT…
_CONTROL = re.compile(
    r"^(?:COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION|BEGIN|START)\b", re.I
)


@dataclass(frozen=True)
class Statement:
    number: int  # 1-based, in the file's order
    text: str  # as written, comments kept, without the closing ";"

    @property
    def first_line(self) -> str:
        """The statement's first line of code, for a message that names it."""
        code = strip_comments(self.text)
        line = next((part.strip() for part in code.splitlines() if part.strip()), "")
        return line if len(line) <= 120 else line[:119] + "…"


@dataclass(frozen=True)
class Dropped:
    """A table, or one column of a table, that a statement drops with its data."""

    table: tuple[str, ...]  # ("schema", "table") or ("table",), as PostgreSQL resolves names
    column: str | None = None

    @property
    def label(self) -> str:
        table = ".".join(self.table)
        return f"table {table}" if self.column is None else f"column {table}.{self.column}"


def split_statements(sql: str) -> tuple[Statement, ...]:
    """The statements of ``sql`` in order; empty ones (a stray ``;``, comments only) skipped."""
    pieces: list[str] = []
    start = index = 0
    length = len(sql)
    while index < length:
        skipped = _skip_quoted(sql, index)
        if skipped != index:
            index = skipped
            continue
        if sql[index] == ";":
            pieces.append(sql[start:index])
            start = index + 1
        index += 1
    pieces.append(sql[start:])
    kept = [piece.strip() for piece in pieces if strip_comments(piece).strip()]
    return tuple(Statement(number, text) for number, text in enumerate(kept, start=1))


def strip_comments(sql: str) -> str:
    """``sql`` with its comments replaced by a space; quoted text is left as it is."""
    out: list[str] = []
    index = 0
    while index < len(sql):
        skipped = _skip_quoted(sql, index)
        if skipped == index:
            out.append(sql[index])
            index += 1
            continue
        if sql.startswith(("--", "/*"), index):
            out.append(" ")
        else:
            out.append(sql[index:skipped])
        index = skipped
    return "".join(out)


def dropped_by(statement: Statement) -> tuple[Dropped, ...]:
    """What ``statement`` drops with its data, as far as this reader recognises it."""
    code = " ".join(strip_comments(statement.text).split())
    tables = _DROP_TABLE.match(code)
    if tables is not None:
        return tuple(Dropped(table=_qualified(name)) for name in _top_level_names(tables[1]))
    altered = _ALTER_TABLE.match(code)
    if altered is None:
        return ()
    table = _qualified(altered[1])
    return tuple(
        Dropped(table=table, column=_unquote(found[1]))
        for found in _DROP_COLUMN.finditer(altered[2])
    )


def is_transaction_wrapper(statement: Statement) -> bool:
    """A bare BEGIN or COMMIT: a down script's own wrapper, which the step's transaction
    replaces (run as written, its COMMIT would end that transaction before the check)."""
    return _WRAPPER.match(" ".join(strip_comments(statement.text).split())) is not None


def transaction_control(statement: Statement) -> bool:
    """ROLLBACK, SAVEPOINT, COMMIT AND CHAIN and the like (anything but a bare BEGIN or COMMIT
    wrapper): a script that steers the transaction itself cannot run inside the step's one."""
    code = " ".join(strip_comments(statement.text).split())
    return _CONTROL.match(code) is not None and not is_transaction_wrapper(statement)


def _skip_quoted(sql: str, index: int) -> int:
    """Where the quoted string or comment starting at ``index`` ends; ``index`` if none does.
    An unterminated one runs to the end, as PostgreSQL would read it (and then refuse it)."""
    char = sql[index]
    if char in "'\"":
        end = index + 1
        while True:
            end = sql.find(char, end)
            if end < 0:
                return len(sql)
            if sql.startswith(char * 2, end):  # '' and "" are the quote itself
                end += 2
                continue
            return end + 1
    if sql.startswith("--", index):
        end = sql.find("\n", index)
        return len(sql) if end < 0 else end + 1
    if sql.startswith("/*", index):
        return _block_comment_end(sql, index)
    if char == "$":
        tag = _DOLLAR_TAG.match(sql, index)
        if tag is not None and not (
            index > 0 and (sql[index - 1].isalnum() or sql[index - 1] == "_")
        ):
            end = sql.find(tag[0], tag.end())
            return len(sql) if end < 0 else end + len(tag[0])
    return index


def _block_comment_end(sql: str, index: int) -> int:
    depth, position = 0, index
    while position < len(sql):
        if sql.startswith("/*", position):
            depth, position = depth + 1, position + 2
        elif sql.startswith("*/", position):
            depth, position = depth - 1, position + 2
            if depth == 0:
                return position
        else:
            position += 1
    return len(sql)


def _top_level_names(text: str) -> list[str]:
    names, position = [], 0
    while position < len(text):
        found = re.compile(_QNAME).match(text, position)
        if found is None:
            break
        names.append(found[0])
        position = found.end()
        comma = re.compile(r"\s*,\s*").match(text, position)
        if comma is None:
            break
        position = comma.end()
    return names


def _qualified(name: str) -> tuple[str, ...]:
    return tuple(_unquote(part) for part in _NAME_PART.findall(name))


def _unquote(part: str) -> str:
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    return part.lower()  # PostgreSQL folds unquoted names to lower case
