"""New ERROR, slow and timeout lines in the service's log since the last look.

The procedure's ``tail -f logs/server.log | grep -i "slow\\|timeout\\|error"``, made incremental:
each scan starts at the offset where the previous one stopped, so a 1 GB log with 1 MB appended
costs about 1 MB. A line still being written (no newline yet) is left for the next scan, so it
is never reported half-written nor skipped.

Lines are matched with plain substring searches on a lower-cased copy of each chunk rather than
a regular expression: both run in C, but the searches are several times faster per byte, which
is what a full scan of a large log pays.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from actions.checks.result import CheckResult
from actions.redact import redact

_CHUNK_BYTES = 1 << 20
# A run this long without a newline is treated as a line of its own, so memory stays bounded
# and a file with no newlines cannot stall the scanner.
_MAX_LINE_BYTES = 1 << 20
_SHOWN_LINE_CHARS = 500
_ERROR_WORD = b"error"
_WARNING_WORDS = (b"slow", b"timeout", b"timed out")
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class LogScan:
    path: Path
    start_offset: int
    #: Where the next scan should start.
    end_offset: int
    bytes_read: int
    #: New lines holding the word ERROR (any case), the first ``max_lines``, each capped.
    errors: tuple[str, ...]
    #: New lines with slow / timeout / timed out that are not error lines, capped likewise.
    warnings: tuple[str, ...]
    #: The file was shorter than ``since_offset`` (rotated or truncated): scanned from 0.
    rotated: bool
    #: No such file: an empty scan, not a failure of the scanner.
    missing: bool
    #: All matching lines, including those beyond the cap.
    error_count: int = 0
    warning_count: int = 0
    #: Why the file could not be read ("permission denied"), or "" when it could.
    problem: str = ""
    duration_s: float = 0.0


def log_end_offset(path: Path) -> int:
    """Where a scan started now would begin: the current size, 0 when the file is missing."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class _Found:
    """Matching lines in file order: counted in full, kept up to the cap."""

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max_lines
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.error_count = 0
        self.warning_count = 0

    def add(self, region: bytes) -> None:
        """Match the lines of ``region``, which holds whole lines only."""
        low = region.lower()
        error_lines = _lines_with(low, _ERROR_WORD, whole_word=True)
        warning_lines: dict[int, int] = {}
        for word in _WARNING_WORDS:
            for start, end in _lines_with(low, word, whole_word=False).items():
                if start not in error_lines:
                    warning_lines[start] = end
        self.error_count += len(error_lines)
        self.warning_count += len(warning_lines)
        self._keep(self.errors, region, error_lines)
        self._keep(self.warnings, region, warning_lines)

    def _keep(self, kept: list[str], region: bytes, lines: dict[int, int]) -> None:
        for start in sorted(lines)[: max(self.max_lines - len(kept), 0)]:
            kept.append(_shown(region[start : lines[start]]))


def _lines_with(low: bytes, word: bytes, *, whole_word: bool) -> dict[int, int]:
    """Start -> end of every line of ``low`` containing ``word``."""
    lines: dict[int, int] = {}
    at = low.find(word)
    while at != -1:
        after = at + len(word)
        if whole_word and (
            (at > 0 and low[at - 1] in _WORD_BYTES)
            or (after < len(low) and low[after] in _WORD_BYTES)
        ):
            at = low.find(word, at + 1)
            continue
        start = low.rfind(b"\n", 0, at) + 1
        end = low.find(b"\n", after)
        if end == -1:
            end = len(low)
        lines[start] = end
        # One hit per line is enough: carry on from the next line.
        at = low.find(word, end + 1)
    return lines


def _shown(raw: bytes) -> str:
    text = redact(raw.rstrip(b"\r").decode("utf-8", "replace"))
    if len(text) > _SHOWN_LINE_CHARS:
        text = text[: _SHOWN_LINE_CHARS - 1] + "…"
    return text


def scan_log(
    *, path: Path, since_offset: int, max_lines: int = 50, max_bytes: int | None = None
) -> LogScan:
    """Scan the bytes of ``path`` after ``since_offset`` (at most ``max_bytes`` of them).

    Reads in chunks from the offset and keeps no more than a chunk and one line in memory.
    ``end_offset`` is the end of the last complete line read; pass it as ``since_offset`` next
    time. Decodes as UTF-8 with replacement and redacts what it keeps.

    Rotation is recognised by size alone: a file replaced by one that has already grown past
    ``since_offset`` is read from that offset, so its first lines go unseen.
    """
    if since_offset < 0:
        raise ValueError(f"since_offset must be 0 or more, not {since_offset}")
    started = time.monotonic()
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return LogScan(path, since_offset, 0, 0, (), (), False, True)
    except OSError as exc:
        problem = (exc.strerror or type(exc).__name__).lower()
        return LogScan(path, since_offset, since_offset, 0, (), (), False, False, problem=problem)
    found = _Found(max_lines)
    with handle:
        # The size is taken once: lines appended while this scan runs belong to the next one.
        size = os.fstat(handle.fileno()).st_size
        rotated = size < since_offset
        start = 0 if rotated else since_offset
        stop = size if max_bytes is None else min(size, start + max(max_bytes, 0))
        consumed, bytes_read = _read_lines(handle, found, start=start, stop=stop, size=size)
    return LogScan(
        path=path,
        start_offset=start,
        end_offset=consumed,
        bytes_read=bytes_read,
        errors=tuple(found.errors),
        warnings=tuple(found.warnings),
        rotated=rotated,
        missing=False,
        error_count=found.error_count,
        warning_count=found.warning_count,
        duration_s=time.monotonic() - started,
    )


def _read_lines(
    handle: BinaryIO, found: _Found, *, start: int, stop: int, size: int
) -> tuple[int, int]:
    """Feed the complete lines between ``start`` and ``stop`` to ``found``, a chunk at a time:
    (the offset after the last line taken, the bytes read)."""
    handle.seek(start)
    consumed = start
    carry = b""
    bytes_read = 0
    while consumed + len(carry) < stop:
        chunk = handle.read(min(_CHUNK_BYTES, stop - consumed - len(carry)))
        if not chunk:
            break  # truncated under us; what was read still counts
        bytes_read += len(chunk)
        buffer = carry + chunk if carry else chunk
        cut = buffer.rfind(b"\n") + 1
        if cut == 0 and len(buffer) >= _MAX_LINE_BYTES:
            cut = len(buffer)
        if cut:
            found.add(buffer[:cut])
            consumed += cut
        carry = buffer[cut:]
    if carry and consumed == start and stop < size:
        # max_bytes is smaller than this one line: take the window whole, or every later
        # scan would stop at the same place.
        found.add(carry)
        consumed += len(carry)
    return consumed, bytes_read


def check_log(scan: LogScan, *, name: str = "error log") -> CheckResult:
    """ok iff the scan found no new ERROR line (kind "log").

    details: the error lines, then the warning lines prefixed "warning: ", which do not fail
    the check but are what the performance scenario looks for.
    """
    notes: list[str] = []
    if scan.problem:
        reason = f"cannot read the log ({scan.problem})"
        return CheckResult(name, "log", False, reason, scan.duration_s, (str(scan.path),))
    if scan.missing:
        notes.append(f"no log file at {scan.path} yet")
    if scan.rotated:
        notes.append("log rotated or truncated since the last scan: scanned from the start")
    details = (
        *notes,
        *scan.errors,
        *(f"warning: {line}" for line in scan.warnings),
    )
    errors = max(scan.error_count, len(scan.errors))
    if not errors:
        return CheckResult(name, "log", True, "", scan.duration_s, details)
    reason = f"{errors} new ERROR line{'s' if errors != 1 else ''}"
    if errors > len(scan.errors):
        reason += f" (first {len(scan.errors)} shown)"
    return CheckResult(name, "log", False, reason, scan.duration_s, details)
