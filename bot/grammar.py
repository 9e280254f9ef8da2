"""The slash-command grammar of SPEC section 3, as a pure parser.

``parse(command, text)`` turns what a person typed into one frozen request object, or raises
:class:`InputError` whose ``valid_forms`` are the usage lines to show back. Nothing here touches
git, the store or Slack, so every rule is testable as a table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from actions.errors import InputError
from actions.plain_text import has_hidden_characters
from actions.refs import ref_name_problem
from bot.words import (
    SEVERITY_WORDS,
    did_you_mean,
    incident_id,
    is_incident_id,
    looks_like_a_number,
    normalise_severity,
    shown,
    split_first,
    unescape_command,
)

SCENARIOS = ("minor", "critical", "email", "performance", "database", "security")

ROLLBACK_USAGE: dict[str, str] = {
    "help": "/rollback help",
    "scenario": "/rollback scenario <minor|critical|email|performance|database|security> "
    "[1-5|low|medium|high|critical] [trigger text]",
    "blocker": "/rollback blocker <text>",
    "to": "/rollback to <checkpoint-tag|commit>",
    "status": "/rollback status",
    "validate": "/rollback validate",
    "log": "/rollback log [N]",
    "drill": "/rollback drill <scenario>",
    "remove": "/rollback remove <path>...",
    "retry": "/rollback retry <incident>",
    "close": "/rollback close <incident> [note]",
    "postmortem": "/rollback postmortem <incident>",
    "watch": "/rollback watch <on|off>",
    "bisect": "/rollback bisect <incident>",
    "cherry-pick": "/rollback cherry-pick <incident> <commit>...",
}
CHECKPOINT_USAGE = (
    "/checkpoint [T+Nh|before <change>|complete] [message]",
    "/checkpoint list",
)
SEVERITY_USAGE = ("/severity <1-5|low|medium|high|critical> [incident] [reason]",)

MAX_TEXT = 2000
LOG_DEFAULT, LOG_MAX = 5, 50
_LABEL_RE = re.compile(r"^T\+([1-9][0-9]{0,2})h$", re.IGNORECASE)
_HOURS_RE = re.compile(r"^([1-9][0-9]{0,2})h$", re.IGNORECASE)
_COMMIT_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")
# Free text (a trigger, a blocker, a reason) may hold tabs and line breaks pasted from a log.
_FREE_TEXT_ALLOWED = frozenset("\t\n")


# -- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Validate:
    pass


@dataclass(frozen=True)
class Scenario:
    scenario: str
    severity: str | None
    trigger: str


@dataclass(frozen=True)
class Blocker:
    text: str


@dataclass(frozen=True)
class RollbackTo:
    target: str


@dataclass(frozen=True)
class Log:
    count: int


@dataclass(frozen=True)
class Drill:
    scenario: str


@dataclass(frozen=True)
class Remove:
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Retry:
    incident: int


@dataclass(frozen=True)
class Close:
    incident: int
    note: str


@dataclass(frozen=True)
class PostmortemFile:
    incident: int


@dataclass(frozen=True)
class Bisect:
    incident: int


@dataclass(frozen=True)
class Watch:
    on: bool


@dataclass(frozen=True)
class CherryPick:
    incident: int
    commits: tuple[str, ...]


@dataclass(frozen=True)
class CheckpointCreate:
    """``hours`` None means "compute T+N from the phase start"."""

    hours: int | None
    kind: Literal["checkpoint", "complete", "before"]
    message: str


@dataclass(frozen=True)
class CheckpointList:
    pass


@dataclass(frozen=True)
class SeveritySet:
    severity: str
    incident: int | None
    reason: str


RollbackRequest = (
    Help | Status | Validate | Scenario | Blocker | RollbackTo | Log | Drill | Remove | Retry
) | (CherryPick | Close | PostmortemFile | Watch | Bisect)
CheckpointRequest = CheckpointCreate | CheckpointList
Request = RollbackRequest | CheckpointRequest | SeveritySet
_Parser = Callable[[str], RollbackRequest]


# -- parsing --------------------------------------------------------------------------------------


def parse(command: str, text: str) -> Request:
    """Parse one slash command; raise InputError with the valid forms when it does not fit."""
    cleaned = unescape_command(text).strip()
    if len(cleaned) > MAX_TEXT:
        raise InputError(f"That is {len(cleaned)} characters; the limit is {MAX_TEXT}.")
    if has_hidden_characters(cleaned, allowed=_FREE_TEXT_ALLOWED):
        raise InputError(
            "That text holds control characters or invisible direction overrides; type it as "
            "plain text. Nothing was changed."
        )
    if command == "/rollback":
        return _parse_rollback(cleaned)
    if command == "/checkpoint":
        return _parse_checkpoint(cleaned)
    if command == "/severity":
        return _parse_severity(cleaned)
    raise InputError(f"`{command}` is not a rollback-bot command.")


def _parse_rollback(text: str) -> RollbackRequest:
    verb, rest = split_first(text)
    verb = verb.lower()
    if verb in ("", "help"):
        return Help()
    if verb not in ROLLBACK_USAGE:
        guess = did_you_mean(verb, ROLLBACK_USAGE, "/rollback ")
        raise InputError(
            f"`{shown(verb)}` is not a /rollback subcommand.{guess}",
            valid_forms=tuple(ROLLBACK_USAGE.values()),
        )
    try:
        return _ROLLBACK_PARSERS[verb](rest)
    except InputError as error:
        raise InputError(error.user_message, valid_forms=(ROLLBACK_USAGE[verb],)) from None


def _no_arguments(request: RollbackRequest, verb: str) -> _Parser:
    def parse_none(rest: str) -> RollbackRequest:
        if rest:
            raise InputError(f"`/rollback {verb}` takes no arguments.")
        return request

    return parse_none


def _parse_scenario(rest: str) -> Scenario:
    name, rest = split_first(rest)
    name = name.lower()
    if name not in SCENARIOS:
        what = f"`{shown(name)}` is not a scenario." if name else "Which scenario?"
        guess = did_you_mean(name, SCENARIOS, "/rollback scenario ")
        raise InputError(f"{what}{guess} Scenarios: {', '.join(SCENARIOS)}.")
    maybe_severity, after = split_first(rest)
    severity = normalise_severity(maybe_severity)
    if severity is None:
        # "critical 9", "critical -1" or "critical 5.0" is a mistyped severity, not a trigger:
        # a silent default would open the incident at another severity than meant.
        if looks_like_a_number(maybe_severity):
            raise InputError(
                f"`{shown(maybe_severity)}` is not a severity: use 1-5 or low, medium, high, "
                "critical. A trigger that starts with a number goes after the severity, as in "
                "`scenario critical 5 500 errors`."
            )
        return Scenario(scenario=name, severity=None, trigger=rest)
    return Scenario(scenario=name, severity=severity, trigger=after)


def _parse_blocker(rest: str) -> Blocker:
    if not rest:
        raise InputError("Describe the blocker: what is broken and where.")
    return Blocker(text=rest)


def _parse_to(rest: str) -> RollbackTo:
    target, extra = split_first(rest)
    if not target or extra:
        raise InputError("Give exactly one target: a checkpoint tag or a commit id.")
    problem = ref_name_problem(target)
    if problem is not None:
        raise InputError(f"`{shown(target)}` is not a valid tag or commit: {problem}.")
    return RollbackTo(target=target)


def _parse_log(rest: str) -> Log:
    if not rest:
        return Log(count=LOG_DEFAULT)
    if not rest.isdigit() or not 1 <= int(rest) <= LOG_MAX:
        raise InputError(f"N must be a whole number from 1 to {LOG_MAX}.")
    return Log(count=int(rest))


def _parse_drill(rest: str) -> Drill:
    name = rest.lower()
    if name not in SCENARIOS:
        raise InputError(f"Which scenario to drill? One of: {', '.join(SCENARIOS)}.")
    return Drill(scenario=name)


def _parse_remove(rest: str) -> Remove:
    paths = tuple(rest.split())
    if not paths:
        raise InputError("Name at least one path to remove.")
    for path in paths:
        if path.startswith(("-", "/")) or ".." in path.split("/") or "\x00" in path:
            raise InputError(f"`{shown(path)}` must be a path inside the repository.")
    return Remove(paths=paths)


def _parse_retry(rest: str) -> Retry:
    return Retry(incident=incident_id(rest))


def _parse_close(rest: str) -> Close:
    incident, note = split_first(rest)
    return Close(incident=incident_id(incident), note=note)


def _parse_postmortem(rest: str) -> PostmortemFile:
    incident, extra = split_first(rest)
    if extra:
        raise InputError("Name one incident, for example `/rollback postmortem 12`.")
    return PostmortemFile(incident=incident_id(incident))


def _parse_watch(rest: str) -> Watch:
    word = rest.lower()
    if word not in ("on", "off"):
        raise InputError("Say `on` or `off`.")
    return Watch(on=word == "on")


def _parse_cherry_pick(rest: str) -> CherryPick:
    incident, rest = split_first(rest)
    commits = tuple(rest.split())
    if not commits:
        raise InputError("Name the incident and at least one commit id.")
    bad = [commit for commit in commits if not _COMMIT_RE.match(commit)]
    if bad:
        raise InputError(f"`{shown(bad[0])}` is not a commit id (7 to 40 hex digits).")
    return CherryPick(incident=incident_id(incident), commits=commits)


_ROLLBACK_PARSERS: dict[str, _Parser] = {
    "help": _no_arguments(Help(), "help"),
    "status": _no_arguments(Status(), "status"),
    "validate": _no_arguments(Validate(), "validate"),
    "scenario": _parse_scenario,
    "blocker": _parse_blocker,
    "to": _parse_to,
    "log": _parse_log,
    "drill": _parse_drill,
    "remove": _parse_remove,
    "retry": _parse_retry,
    "close": _parse_close,
    "postmortem": _parse_postmortem,
    "watch": _parse_watch,
    "bisect": lambda rest: Bisect(incident=incident_id(rest)),
    "cherry-pick": _parse_cherry_pick,
}


def _parse_checkpoint(text: str) -> CheckpointRequest:
    first, rest = split_first(text)
    lowered = first.lower()
    try:
        if lowered == "list":
            if rest:
                raise InputError("`/checkpoint list` takes no arguments.")
            return CheckpointList()
        if lowered == "complete":
            return CheckpointCreate(hours=None, kind="complete", message=rest)
        if lowered == "before":
            if not rest:
                raise InputError("Say what change this checkpoint comes before.")
            return CheckpointCreate(hours=None, kind="before", message=rest)
        match = _LABEL_RE.match(first) or _HOURS_RE.match(first)
        if match:
            # "12h" is the label T+12h: a word shaped like hours is never silently a message.
            return CheckpointCreate(hours=int(match.group(1)), kind="checkpoint", message=rest)
        if first.upper().startswith("T+"):
            raise InputError(f"`{shown(first)}` is not a label: use T+<hours>h, e.g. T+4h.")
        return CheckpointCreate(hours=None, kind="checkpoint", message=text)
    except InputError as error:
        raise InputError(error.user_message, valid_forms=CHECKPOINT_USAGE) from None


def _parse_severity(text: str) -> SeveritySet:
    level, rest = split_first(text)
    severity = normalise_severity(level)
    if severity is None:
        what = f"`{shown(level)}` is not a severity." if level else "Which severity?"
        guess = did_you_mean(level.lower(), SEVERITY_WORDS, "/severity ")
        raise InputError(
            f"{what}{guess} Use 1-5 or low, medium, high, critical.", valid_forms=SEVERITY_USAGE
        )
    maybe_incident, after = split_first(rest)
    if is_incident_id(maybe_incident):
        return SeveritySet(severity=severity, incident=incident_id(maybe_incident), reason=after)
    if maybe_incident.startswith("#") or looks_like_a_number(maybe_incident):
        # "4 0", "4 #x" or a 20-digit number meant an incident: re-rating the newest one
        # instead would change an incident nobody named.
        raise InputError(
            f"`{shown(maybe_incident)}` is not an incident number (for example 12 or #12).",
            valid_forms=SEVERITY_USAGE,
        )
    return SeveritySet(severity=severity, incident=None, reason=rest)
