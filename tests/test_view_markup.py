"""Every view escapes what it did not compose, in its blocks and in its fallback ``text``.

Slack reads ``<…>`` as a mention or link and notifies from the top-level ``text``, so a git tag
named ``<!channel>`` on a card would ping the whole channel. The only markup left in a message
is the bot's own: ``<@U…>``, ``<#C…>`` and ``<!subteam^S…>``; every ``&`` starts an entity.
"""

from __future__ import annotations

import re

import pytest

from bot.views.blocks import SECTION_LIMIT, cut_mrkdwn, escape, plain_to_mrkdwn
from tests.viewsamples import HOSTILE, mrkdwn_texts, sample_views

# What a correct message may still contain: the bot's own mentions, and entities.
_OWN_MARKUP = re.compile(
    r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!subteam\^S[A-Z0-9]+"
    # A thread's permalink, as chat.getPermalink gives it (the App Home links its threads).
    r"|https://[a-z0-9-]+\.slack\.com/archives/[A-Z0-9]+/p[0-9]+(?:\?[a-z_=.0-9&;A-Z]*)?\|[a-z -]+)>"
)
_ENTITY = re.compile(r"&(?:amp|lt|gt);")
SAMPLES = list(sample_views())


def unsafe_markup(text: str) -> list[str]:
    """What in ``text`` Slack would read as markup the bot did not mean."""
    stripped = _ENTITY.sub("", _OWN_MARKUP.sub("", text))
    return re.findall(r"[<>&].{0,20}", stripped)


def test_markup_checker_would_catch_a_raw_mention_a_link_and_a_bare_ampersand() -> None:
    assert unsafe_markup("ping <!channel> now")
    assert unsafe_markup("<https://evil.example|click>")
    assert unsafe_markup("a && b")
    assert unsafe_markup("cut &lt")
    assert unsafe_markup("<@U0ORCH> and <#C0INCIDENTS> &amp; &lt;x&gt;") == []


@pytest.mark.parametrize(("name", "message"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_view_leaves_no_markup_of_anyone_else_in_blocks_or_text(name: str, message: dict) -> None:  # type: ignore[type-arg]
    for text in mrkdwn_texts(message):
        assert unsafe_markup(text) == [], (name, text[:200])


@pytest.mark.parametrize(("name", "message"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_view_fallback_text_mentions_nobody(name: str, message: dict) -> None:  # type: ignore[type-arg]
    text = str(message.get("text", ""))  # the App Home is a view, with no fallback text
    assert "<@" not in text and "<!" not in text, name


def test_cutting_never_splits_an_entity_or_a_mention() -> None:
    for filler in range(0, 12):
        for tail in ("&lt;", "&amp;", "<@U0ORCH>", "<#C0INCIDENTS>"):
            text = "a" * (SECTION_LIMIT - 4 - filler) + tail * 3
            cut = cut_mrkdwn(text, SECTION_LIMIT)
            assert len(cut) <= SECTION_LIMIT
            assert unsafe_markup(cut) == [], (filler, tail, cut[-12:])


def test_plain_text_becomes_mrkdwn_with_only_the_bot_s_mentions() -> None:
    said = plain_to_mrkdwn(f"Already approved by @U0ORCH; see #C0INCIDENTS. {HOSTILE}")
    assert said.startswith("Already approved by <@U0ORCH>; see <#C0INCIDENTS>.")
    assert unsafe_markup(said) == []
    assert escape("a && <b>") == "a &amp;&amp; &lt;b&gt;"
