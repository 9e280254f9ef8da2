"""Reading the body of a signed Slack request: what it is, and whether it has the shape Slack sends.

Slack sends three kinds of body to the request URL:

- a slash command: a form (``application/x-www-form-urlencoded``) of text fields;
- an interaction (a click, a modal): a form with exactly one field, ``payload``, a JSON object;
- an Events API callback: a JSON object.

Bolt's own reader takes any form whose text contains the word "payload" for an interaction, so
``/rollback blocker API payload too large`` was dropped with a 404; and a body that is signed
but malformed (a list, a string, an interaction without actions) reached a listener and ended
in a 500. Here the body is read strictly, by its content type, and checked for the fields the
bot relies on; anything else is :class:`Refused`, which the front door answers with 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: Slack's forms have a couple of dozen fields; more is not Slack.
MAX_FORM_FIELDS = 100


@dataclass(frozen=True)
class Refused:
    """Why a body is not one Slack would send; said in one log line, never to the sender."""

    reason: str


def read_body(text: str, content_type: str) -> dict[str, Any] | Refused:
    """The body as the dict Bolt's listeners read, or why it cannot be one."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON:
        body = _json_object(text, "the JSON body")
    elif media == FORM:
        body = _form(text)
    else:
        return Refused(f"content type {media or 'missing'!r} is neither a form nor JSON")
    if isinstance(body, Refused):
        return body
    problem = shape_problem(body)
    return Refused(problem) if problem else body


def _json_object(text: str, what: str) -> dict[str, Any] | Refused:
    try:
        value = json.loads(text)
    except RecursionError:
        return Refused(f"{what} is nested too deeply")
    except ValueError:
        return Refused(f"{what} is not valid JSON")
    if not isinstance(value, dict):
        return Refused(f"{what} is a JSON {type(value).__name__}, not an object")
    return value


def _form(text: str) -> dict[str, Any] | Refused:
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError as error:
        return Refused(f"the form cannot be read ({str(error)[:80]})")
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            return Refused(f"the form repeats the field {name[:40]!r}")
        fields[name] = value
    # An interaction is a form of exactly one field; a command that merely mentions the word
    # "payload" in its text, channel or user name is a command.
    if set(fields) == {"payload"}:
        return _json_object(fields["payload"], "the interaction payload")
    return fields


def shape_problem(body: dict[str, Any]) -> str | None:
    """What is missing from a body the bot would act on; None when it has what it needs."""
    kind = body.get("type")
    if "command" in body:
        return _text_fields(body, "command", "user_id")
    if kind in ("block_actions", "view_submission", "view_closed"):
        user = body.get("user")
        if not isinstance(user, dict) or not _is_text(user.get("id")):
            return f"a {kind} without the user who made it"
        if kind == "block_actions":
            actions = body.get("actions")
            if not isinstance(actions, list) or not actions:
                return "a block_actions without actions"
            if not all(isinstance(a, dict) and _is_text(a.get("action_id")) for a in actions):
                return "a block_actions whose actions have no action_id"
        elif not isinstance(body.get("view"), dict):
            return f"a {kind} without its view"
        return None
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not _is_text(event.get("type")):
            return "an event_callback without an event"
    return None


def _text_fields(body: dict[str, Any], *names: str) -> str | None:
    missing = [name for name in names if not _is_text(body.get(name))]
    return f"a command without {', '.join(missing)}" if missing else None


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)
