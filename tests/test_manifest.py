"""manifest.yml is valid per Slack's published schema; its commands match the bot's listeners.

The schema is a copy of slackapi/manifest-schema (MIT, see tests/fixtures/manifest-schema), so
these tests run from any clone; they never skip.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from bot.ids import SlashCommand

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "fixtures" / "manifest-schema"
REMOTE_PREFIX = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def _validator() -> jsonschema.Draft7Validator:
    # The top schema points at raw GitHub URLs; serve those from the local copies instead.
    resources = []
    for path in (SCHEMAS / "schemas").glob("*.json"):
        resources.append(
            (REMOTE_PREFIX + path.name, Resource.from_contents(json.loads(path.read_text())))
        )
    registry: Registry[Any] = Registry().with_resources(resources)
    top = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    return jsonschema.Draft7Validator(top, registry=registry)


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return data


def test_manifest_is_valid_against_slack_schema() -> None:
    errors = sorted(_validator().iter_errors(_manifest()), key=str)
    assert errors == []


def test_manifest_validator_rejects_upstream_invalid_example() -> None:
    invalid = json.loads((SCHEMAS / "tests/manifests/v1/manifest.invalid.json").read_text())
    valid = json.loads((SCHEMAS / "tests/manifests/v1/manifest.valid.json").read_text())
    validator = _validator()
    assert list(validator.iter_errors(invalid)) != []
    assert list(validator.iter_errors(valid)) == []


def test_manifest_commands_match_registered_commands() -> None:
    in_manifest = {entry["command"] for entry in _manifest()["features"]["slash_commands"]}
    assert in_manifest == {command.value for command in SlashCommand}


def test_manifest_subscribes_to_app_home_and_interactivity() -> None:
    settings = _manifest()["settings"]
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert settings["interactivity"]["is_enabled"] is True
    assert isinstance(settings["socket_mode_enabled"], bool)


# Each Web API method the bot calls, and the bot scope Slack requires for it (None: no scope).
METHOD_SCOPES = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "usergroups_users_list": "usergroups:read",
    "users_info": "users:read",
    "views_publish": None,
    "views_open": None,
    "conversations_replies": "channels:history",
    "files_upload_v2": "files:write",
    "chat_getPermalink": None,
}
# Scopes no single method call needs, each with why the bot asks for it.
STANDING_SCOPES = {
    "commands": "the slash commands",
    "chat:write.public": "post in slack.channel before anyone invites the bot",
    "groups:history": "message.groups: replies in a private incident channel's threads",
    "reactions:read": "reaction_added: a 📌 adds a message to the incident's timeline",
}
_CALL_RE = re.compile(r"\b(?:client|self\._client)\.([a-z]+(?:_[A-Za-z0-9]+)+)\(")


def methods_called(root: Path = ROOT) -> set[str]:
    """The Web API methods production code calls (bot/local is the emulator's own side)."""
    found: set[str] = set()
    for path in (root / "bot").rglob("*.py"):
        if "local" not in path.relative_to(root / "bot").parts:
            found |= set(_CALL_RE.findall(path.read_text()))
    return found


def test_every_web_api_method_called_has_a_known_scope() -> None:
    called = methods_called()
    assert called, "no Web API calls found: the pattern no longer matches the code"
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)


def test_manifest_asks_for_exactly_the_scopes_the_code_needs() -> None:
    needed = {METHOD_SCOPES[m] for m in methods_called()} - {None} | set(STANDING_SCOPES)
    asked = set(_manifest()["oauth_config"]["scopes"]["bot"])
    assert asked == needed


def test_scope_check_would_catch_an_unlisted_method(tmp_path: Path) -> None:
    (tmp_path / "bot" / "local").mkdir(parents=True)
    (tmp_path / "bot" / "x.py").write_text("client.files_uploadV2(file=f)\n")
    (tmp_path / "bot" / "local" / "y.py").write_text("client.admin_users_list()\n")
    assert methods_called(tmp_path) == {"files_uploadV2"}
