"""Every payload the bot can send passes slack_sdk's Block Kit models, filled with the largest
and most hostile data the views can be given (tests/viewsamples.py): messages block by block
(``validate_json`` on each, within 50 blocks), modals and the App Home as whole views."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.viewsamples import sample_modals, sample_views

MESSAGES = [(name, view) for name, view in sample_views() if view.get("type") != "home"]
VIEWS = [(name, view) for name, view in sample_views() if view.get("type") == "home"]
VIEWS += list(sample_modals())


def validate_message(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    assert len(str(message.get("text", ""))) <= 40_000
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


def validate_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()
    for block in view["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


@pytest.mark.parametrize(("name", "message"), MESSAGES, ids=[name for name, _ in MESSAGES])
def test_message_passes_block_kit_validation(name: str, message: dict[str, Any]) -> None:
    validate_message(message)


@pytest.mark.parametrize(("name", "view"), VIEWS, ids=[name for name, _ in VIEWS])
def test_view_passes_block_kit_validation(name: str, view: dict[str, Any]) -> None:
    validate_view(view)


def test_every_new_surface_is_walked() -> None:
    names = {name for name, _ in MESSAGES + VIEWS}
    for wanted in ("home", "postmortem summary", "postmortem modal", "retry checklist", "log"):
        assert wanted in names


def test_validation_would_catch_an_oversized_text_and_a_long_modal_title() -> None:
    with pytest.raises(SlackObjectFormationError):
        validate_message(
            {
                "text": "x",
                "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
            }
        )
    (_, modal) = next(iter(sample_modals()))
    with pytest.raises(SlackObjectFormationError):
        validate_view({**modal, "title": {"type": "plain_text", "text": "x" * 25}})
