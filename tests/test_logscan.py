"""Incremental log scanning on real files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.checks.logscan import LogScan, check_log, log_end_offset, scan_log


def _append(path: Path, text: str | bytes) -> int:
    data = text.encode() if isinstance(text, str) else text
    with path.open("ab") as handle:
        handle.write(data)
    return len(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "logs" / "server.log"
    path.parent.mkdir()
    path.write_text("2025-11-21 09:00:00 INFO server started\n")
    return path


def test_scan_log_reads_only_the_bytes_after_the_offset(log: Path) -> None:
    old_line = "2025-11-21 09:00:01 ERROR old failure that must not be reported again\n"
    with log.open("a") as handle:
        for _ in range(300_000):  # ~20 MB of history
            handle.write(old_line)
    offset = log_end_offset(log)
    appended = _append(log, "INFO GET /api/customers 200\nERROR deals query failed\n" * 100)
    scan = scan_log(path=log, since_offset=offset)
    assert scan.bytes_read == appended
    assert (scan.start_offset, scan.end_offset) == (offset, offset + appended)
    assert scan.error_count == 100
    assert set(scan.errors) == {"ERROR deals query failed"}


def test_scan_log_leaves_a_partial_last_line_for_the_next_scan(log: Path) -> None:
    offset = log_end_offset(log)
    _append(log, "ERROR first\nERROR second is still being wri")
    first = scan_log(path=log, since_offset=offset)
    assert first.errors == ("ERROR first",)
    assert first.end_offset == offset + len("ERROR first\n")
    _append(log, "tten\n")
    second = scan_log(path=log, since_offset=first.end_offset)
    assert second.errors == ("ERROR second is still being written",)
    assert second.end_offset == log_end_offset(log)


def test_scan_log_nothing_new_is_an_empty_scan(log: Path) -> None:
    offset = log_end_offset(log)
    scan = scan_log(path=log, since_offset=offset)
    assert (scan.bytes_read, scan.end_offset, scan.errors, scan.rotated) == (0, offset, (), False)


def test_scan_log_rotated_file_is_scanned_from_the_start(log: Path) -> None:
    log.write_text("ERROR after rotation\n")
    scan = scan_log(path=log, since_offset=10_000)
    assert scan.rotated
    assert (scan.start_offset, scan.end_offset) == (0, log_end_offset(log))
    assert scan.errors == ("ERROR after rotation",)
    assert check_log(scan).details[0].startswith("log rotated or truncated")


def test_scan_log_missing_file_is_an_empty_scan(tmp_path: Path) -> None:
    scan = scan_log(path=tmp_path / "nope.log", since_offset=123)
    assert scan.missing
    assert (scan.end_offset, scan.bytes_read, scan.errors) == (0, 0, ())
    result = check_log(scan)
    assert result.ok
    assert result.details == (f"no log file at {tmp_path / 'nope.log'} yet",)
    assert log_end_offset(tmp_path / "nope.log") == 0


def test_scan_log_unreadable_path_fails_the_check(tmp_path: Path) -> None:
    scan = scan_log(path=tmp_path, since_offset=0)
    assert (scan.missing, scan.problem) == (False, "is a directory")
    result = check_log(scan)
    assert (result.ok, result.reason) == (False, "cannot read the log (is a directory)")


def test_scan_log_negative_offset_is_refused(log: Path) -> None:
    with pytest.raises(ValueError, match="since_offset"):
        scan_log(path=log, since_offset=-1)


def test_scan_log_caps_the_kept_lines_but_counts_them_all(log: Path) -> None:
    _append(log, "".join(f"ERROR number {n}\n" for n in range(120)))
    _append(log, "".join(f"slow query {n}\n" for n in range(70)))
    scan = scan_log(path=log, since_offset=0, max_lines=50)
    assert (len(scan.errors), scan.error_count) == (50, 120)
    assert (len(scan.warnings), scan.warning_count) == (50, 70)
    assert scan.errors[0] == "ERROR number 0"
    assert check_log(scan).reason == "120 new ERROR lines (first 50 shown)"


def test_scan_log_caps_each_line(log: Path) -> None:
    _append(log, "ERROR " + "x" * 10_000 + "\n")
    (line,) = scan_log(path=log, since_offset=0).errors
    assert len(line) == 500
    assert line.startswith("ERROR xxx") and line.endswith("…")


def test_scan_log_matches_error_as_a_word_in_any_case(log: Path) -> None:
    offset = log_end_offset(log)
    matching = ["error: boom", "[ERROR] boom", "level=Error msg=boom", "x ERROR"]
    others = ["errors=0", "TypeError in handler", "error_count=3", "no problems"]
    _append(log, "".join(line + "\n" for line in [*matching, *others]))
    assert scan_log(path=log, since_offset=offset).errors == tuple(matching)


def test_scan_log_warnings_are_slow_and_timeout_lines_in_any_case(log: Path) -> None:
    offset = log_end_offset(log)
    lines = [
        "SLOW query 2300ms",
        "upstream Timeout",
        "request timed out",
        "fine",
        "ERROR slow and failing",
    ]
    _append(log, "".join(line + "\n" for line in lines))
    scan = scan_log(path=log, since_offset=offset)
    assert scan.warnings == ("SLOW query 2300ms", "upstream Timeout", "request timed out")
    assert scan.errors == ("ERROR slow and failing",)


def test_scan_log_redacts_and_survives_bad_bytes(log: Path) -> None:
    offset = log_end_offset(log)
    _append(log, b"ERROR connect postgres://app:pa55@db/app failed \xff\xfe\r\n")
    (line,) = scan_log(path=log, since_offset=offset).errors
    assert "pa55" not in line
    assert line == "ERROR connect postgres://app:[redacted]@db/app failed \ufffd\ufffd"


def test_scan_log_max_bytes_stops_at_a_line_end_and_resumes(log: Path) -> None:
    log.write_text("".join(f"ERROR {n:03d}\n" for n in range(10)))  # 10 lines of 10 bytes
    first = scan_log(path=log, since_offset=0, max_bytes=35)
    assert (first.end_offset, first.bytes_read) == (30, 35)
    assert first.errors == ("ERROR 000", "ERROR 001", "ERROR 002")
    second = scan_log(path=log, since_offset=first.end_offset, max_bytes=1000)
    assert second.errors[0] == "ERROR 003"
    assert second.end_offset == 100


def test_scan_log_max_bytes_shorter_than_a_line_still_progresses(log: Path) -> None:
    log.write_text("ERROR " + "y" * 100 + "\n")
    scan = scan_log(path=log, since_offset=0, max_bytes=20)
    assert scan.end_offset == 20
    assert scan.errors == ("ERROR " + "y" * 14,)


def test_scan_log_finds_a_line_across_a_chunk_boundary(log: Path) -> None:
    log.write_bytes(b"i" * ((1 << 20) - 4) + b"\nERROR across the boundary\nINFO\n")
    scan = scan_log(path=log, since_offset=0)
    assert scan.errors == ("ERROR across the boundary",)
    assert scan.end_offset == log_end_offset(log)


def test_check_log_no_errors_is_ok_and_lists_warnings(log: Path) -> None:
    offset = log_end_offset(log)
    _append(log, "INFO fine\nslow query 1200ms\n")
    result = check_log(scan_log(path=log, since_offset=offset))
    assert (result.ok, result.kind, result.name, result.reason) == (True, "log", "error log", "")
    assert result.details == ("warning: slow query 1200ms",)


def test_check_log_errors_fail_with_a_count_errors_first(log: Path) -> None:
    offset = log_end_offset(log)
    _append(log, "timeout calling smtp\nERROR a\nERROR b\nERROR c\n")
    result = check_log(scan_log(path=log, since_offset=offset), name="server log")
    assert (result.ok, result.name, result.reason) == (False, "server log", "3 new ERROR lines")
    assert result.details == ("ERROR a", "ERROR b", "ERROR c", "warning: timeout calling smtp")


def test_check_log_single_error_is_singular(log: Path) -> None:
    offset = log_end_offset(log)
    _append(log, "ERROR alone\n")
    assert check_log(scan_log(path=log, since_offset=offset)).reason == "1 new ERROR line"


# -- properties -----------------------------------------------------------------------------------

_WORDS = ["ERROR", "error", "Errors", "TypeError", "slow", "TIMEOUT", "timed out", "ok", " ", "é"]
_LINE = st.lists(st.sampled_from(_WORDS), max_size=5).map("".join)
_LINES = st.lists(_LINE, max_size=15)
# The longest line _LINE makes: five 9-byte words and a newline. Windows must hold one whole.
_LONGEST_LINE = 46


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode())


def _found(scans: list[LogScan]) -> tuple[list[str], list[str]]:
    return [e for s in scans for e in s.errors], [w for s in scans for w in s.warnings]


@settings(max_examples=150, deadline=None)
@given(before=_LINES, partial=_LINE, after=_LINES)
def test_scan_log_in_two_steps_finds_what_one_scan_finds(
    before: list[str], partial: str, after: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "server.log"
        _write(path, "".join(line + "\n" for line in before) + partial)
        first = scan_log(path=path, since_offset=0, max_lines=1000)
        _append(path, "\n" + "".join(line + "\n" for line in after))
        second = scan_log(path=path, since_offset=first.end_offset, max_lines=1000)
        whole = scan_log(path=path, since_offset=0, max_lines=1000)
    assert _found([first, second]) == _found([whole])
    assert second.end_offset == whole.end_offset


@settings(max_examples=100, deadline=None)
@given(lines=_LINES, window=st.integers(min_value=_LONGEST_LINE + 1, max_value=200))
def test_scan_log_in_windows_finds_what_one_scan_finds(lines: list[str], window: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "server.log"
        _write(path, "".join(line + "\n" for line in lines))
        whole = scan_log(path=path, since_offset=0, max_lines=1000)
        scans: list[LogScan] = []
        offset = 0
        for _ in range(1000):  # each window consumes at least one line; 15 lines at most
            scans.append(scan_log(path=path, since_offset=offset, max_lines=1000, max_bytes=window))
            offset = scans[-1].end_offset
            if offset == whole.end_offset:
                break
    assert offset == whole.end_offset
    assert _found(scans) == _found([whole])
