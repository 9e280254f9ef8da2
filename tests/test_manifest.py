"""manifest.yml is valid per Slack's published schema; its commands match the bot's listeners.

The schema is a copy of slackapi/manifest-schema (MIT, see tests/fixtures/manifest-schema), so
these tests run from any clone; they never skip.
"""

from __future__ import annotations

import json
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
