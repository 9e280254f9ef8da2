"""Redaction rules that survived mutation (scripts/mutants actions/redact.py).

The keyword form and :func:`secret_parts` had no test of their own: a database URL's password
that a failing command prints on its own must still be redacted.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from actions.redact import MIN_PART_LENGTH, REDACTED, redact, secret_parts


def test_redact_marker_is_the_one_the_readme_promises() -> None:
    # README, Security: secrets "are replaced by `[redacted]`"; people grep logs for it.
    assert REDACTED == "[redacted]"
    assert redact("token xoxb-1-2-abc") == "token [redacted]"


# Written out by hand: what a person reads after redaction keeps the keyword and its
# separator, so they still see which setting was hidden.
KEYWORDS = [
    ("host=db password=s3cret dbname=app", "host=db password=[redacted] dbname=app"),
    ("PGPASSWORD=s3cret psql", "PGPASSWORD=[redacted] psql"),
    ("pgpassword: s3cret", "pgpassword: [redacted]"),
    ("passwd = 's3 cret' next", "passwd = [redacted] next"),
    ('pwd="s3 cret" next', "pwd=[redacted] next"),
]


@pytest.mark.parametrize(("text", "expected"), KEYWORDS)
def test_redact_keyword_password_keeps_the_keyword_and_hides_the_value(
    text: str, expected: str
) -> None:
    assert redact(text) == expected


def test_secret_parts_of_a_url_are_the_pair_and_the_password_as_typed_and_decoded() -> None:
    url = "postgresql://app:s3cr%40t@db.internal:5432/app"
    assert set(secret_parts(url)) == {"app:s3cr%40t", "s3cr%40t", "s3cr@t"}


def test_secret_parts_of_a_url_include_query_passwords_only() -> None:
    url = "postgresql://app:s3cret@db/app?sslmode=require&password=qry-pass&PWD=qry-pwd"
    parts = secret_parts(url)
    assert {"app:s3cret", "s3cret", "qry-pass", "qry-pwd"} == set(parts)
    assert "require" not in parts


def test_secret_parts_of_a_url_without_credentials_is_empty() -> None:
    assert secret_parts("postgresql://db.internal/app") == ()
    assert secret_parts("postgresql://appuser@db.internal/app") == ()


def test_secret_parts_of_the_keyword_form() -> None:
    text = "host=db user=app password='s3 cret' pwd=\"other1\" PGPASSWORD=third1"
    assert secret_parts(text) == ("s3 cret", "other1", "third1")


def test_secret_parts_keeps_a_password_of_4_characters_and_skips_one_of_3() -> None:
    # Written out, not computed from MIN_PART_LENGTH: the boundary itself is the rule.
    short, long = "abc", "wxyz"
    assert secret_parts(f"postgresql://u:{short}@db/app") == (f"u:{short}",)
    assert secret_parts(f"postgresql://u:{long}@db/app") == (f"u:{long}", long)
    assert secret_parts(f"password={short}") == ()
    assert secret_parts(f"password={long}") == (long,)


# No whitespace, quotes, '=' or ':' (they would end the value or start another keyword). The
# printed text quotes the password with a character it cannot hold, so nothing else is hidden.
passwords = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="'\"=:"),
    min_size=MIN_PART_LENGTH,
    max_size=20,
)


@given(passwords)
@example("%40s3cr%t")  # already looks percent-encoded: the decoded form is what is printed
def test_a_url_password_printed_alone_is_redacted(password: str) -> None:
    url = f"postgresql://app:{quote(password, safe='')}@db/app"
    assert redact(f"'{password}'", secrets=secret_parts(url)) == f"'{REDACTED}'"


@given(passwords)
@example("Xs3cretX")  # any character may end a password, letters included
def test_a_keyword_password_printed_alone_is_redacted(password: str) -> None:
    parts = secret_parts(f"host=db password={password} dbname=app")
    assert password in parts
    assert redact(f"'{password}'", secrets=parts) == f"'{REDACTED}'"
