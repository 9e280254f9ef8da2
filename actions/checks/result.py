"""The result every validation check returns, whatever it checks.

A check that fails, or cannot reach what it checks, is a result with ``ok=False`` and a short
reason a person can act on; it never raises. Results carry their own timing, so the checklist
can show how long each line took.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    #: What was checked, as shown on the checklist ("customers", "server starts", …).
    name: str
    #: The family of check: restart, health, endpoint, frontend, flow, validate, log,
    #: database, migrations, slow_queries.
    kind: str
    ok: bool
    #: Empty when ok; otherwise why, in a few words ("HTTP 500", "timed out after 5 s").
    reason: str
    duration_s: float
    #: Supporting lines: matching log lines, the tail of a command's output, slow queries.
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowStep:
    """One request of a scripted user flow; steps of a flow share one cookie jar."""

    method: str
    path: str
    json: Mapping[str, Any] | None = None
    form: Mapping[str, str] | None = None
    #: None means any 2xx.
    expect_status: int | None = None
    #: Must appear in the body when given.
    expect_text: str | None = None
