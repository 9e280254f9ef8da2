"""PostgreSQL's tools get the URL through libpq's environment: never on argv, never Slack's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from actions.errors import DatabaseError
from actions.pgtools import find_tool, libpq_env, require_tool, run_tool, tool_search_path

URL = "postgresql://app:pa%40ss-word@db.internal:6543/crm?sslmode=require&application_name=bot"


def test_libpq_env_names_the_same_connection_as_the_url() -> None:
    assert libpq_env(URL) == {
        "PGUSER": "app",
        "PGPASSWORD": "pa@ss-word",
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGDATABASE": "crm",
        "PGSSLMODE": "require",
        "PGAPPNAME": "bot",
    }


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "No database URL"),
        ("postgresql://a@h/db?bogus_option=1", "cannot be read"),
        ("postgresql://a@h/db?keepalives=1", "'keepalives'"),
    ],
)
def test_libpq_env_refuses_what_it_cannot_pass_on(url: str, words: str) -> None:
    with pytest.raises(DatabaseError) as refused:
        libpq_env(url)
    assert words in refused.value.user_message


def test_run_tool_keeps_the_password_off_argv_and_slack_out_of_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-never-for-children")
    report = tmp_path / "seen.json"
    tool = tmp_path / "fake_pg_dump.py"
    tool.write_text(
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv, 'env': dict(os.environ)}}, open({str(report)!r}, 'w'))\n"
        "print('done with ' + os.environ['PGPASSWORD'], file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    done = run_tool(
        [sys.executable, str(tool), "--format=custom"], url=URL, path="/usr/bin:/bin", timeout_s=30
    )
    seen = json.loads(report.read_text())
    assert done.status == 3
    assert not any("pa@ss" in word or "pa%40ss" in word for word in seen["argv"])
    assert seen["env"]["PGPASSWORD"] == "pa@ss-word" and seen["env"]["PGHOST"] == "db.internal"
    assert not any(name.startswith("SLACK_") for name in seen["env"])
    assert "pa@ss-word" not in done.err and "[redacted]" in done.err  # what it printed is scrubbed


def test_run_tool_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError) as refused:
        run_tool([str(tmp_path / "no-such-pg_dump")], url=URL, path="/usr/bin:/bin", timeout_s=5)
    assert "could not be started" in refused.value.user_message


def _tool(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / name
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    return tool


def test_tool_search_path_puts_postgres_versions_after_path_newest_first(tmp_path: Path) -> None:
    base = tmp_path / "postgresql"
    old, new = _tool(base / "13" / "bin", "pg_dump"), _tool(base / "15" / "bin", "pg_dump")
    _tool(base / "latest" / "bin", "pg_dump")  # not a version folder: never searched
    path = tool_search_path("/nowhere:", bindirs=[base, tmp_path / "absent"])
    assert path.split(":") == ["/nowhere", str(new.parent), str(old.parent)]
    assert find_tool("pg_dump", path=path) == str(new)
    # A pg_dump on PATH wins over the versioned ones.
    first = _tool(tmp_path / "bin", "pg_dump")
    assert find_tool("pg_dump", path=tool_search_path(str(first.parent), bindirs=[base])) == str(
        first
    )


def test_require_tool_missing_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    assert find_tool("pg_dump", path=str(tmp_path)) is None
    with pytest.raises(DatabaseError) as refused:
        require_tool("pg_dump", path=str(tmp_path))
    assert "pg_dump is not installed" in refused.value.user_message
    assert "Nothing was changed" in refused.value.user_message
