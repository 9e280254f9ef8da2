"""The Slack Web API emulator, driven by slack_sdk's real clients over loopback sockets."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.local.emulator import SlackEmulator

CHANNEL = "C0INCIDENTS"
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "confirm_rollback",
    "title": {"type": "plain_text", "text": "Confirm"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Roll back?"}}],
}
HOME: dict[str, Any] = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Status"}}],
}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        yield emu


@pytest.fixture
def web(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url, timeout=5)


def api_error(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Make a WebClient call that must fail; the Slack error code it failed with."""
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return str(info.value.response["error"])


# -- auth and routing -----------------------------------------------------------------------------


def test_auth_test_valid_token_returns_bot_identity(web: WebClient) -> None:
    reply = web.auth_test()
    assert reply["team_id"] == "T0EMU"
    assert reply["user_id"] == "U0BOT"
    assert reply["bot_id"] == "B0BOT"


def test_auth_test_wrong_token_is_invalid_auth(emulator: SlackEmulator) -> None:
    client = WebClient(token="xoxb-not-the-token", base_url=emulator.api_url, timeout=5)
    assert api_error(client.auth_test) == "invalid_auth"


def test_api_missing_token_is_not_authed(emulator: SlackEmulator) -> None:
    client = WebClient(base_url=emulator.api_url, timeout=5)
    assert api_error(client.auth_test) == "not_authed"


def test_api_token_in_json_body_is_ignored(emulator: SlackEmulator) -> None:
    # Slack reads the token of a JSON request only from the Authorization header.
    reply = httpx.post(f"{emulator.api_url}auth.test", json={"token": emulator.bot_token})
    assert reply.status_code == 200
    assert reply.json() == {"ok": False, "error": "not_authed"}


def test_api_token_in_form_field_accepted_and_not_recorded(emulator: SlackEmulator) -> None:
    form = {"token": emulator.bot_token, "channel": CHANNEL, "text": "hi"}
    reply = httpx.post(f"{emulator.api_url}chat.postMessage", data=form)
    assert reply.json()["ok"] is True
    [call] = emulator.calls("chat.postMessage")
    assert call.args == {"channel": CHANNEL, "text": "hi"}
    assert call.ok is True


def test_api_unknown_method_is_unknown_method(web: WebClient) -> None:
    assert api_error(web.api_call, "rollback.doIt") == "unknown_method"


def test_emulator_other_path_is_404(emulator: SlackEmulator) -> None:
    assert httpx.get(f"{emulator.base_url}/nothing").status_code == 404


def test_emulator_stop_closes_the_port() -> None:
    with SlackEmulator() as emu:
        url = f"{emu.api_url}auth.test"
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, timeout=1)


# -- chat.* ---------------------------------------------------------------------------------------


def test_post_message_records_blocks_thread_and_broadcast(
    emulator: SlackEmulator, web: WebClient
) -> None:
    parent = web.chat_postMessage(channel=CHANNEL, text="Rollback started")
    reply = web.chat_postMessage(
        channel=CHANNEL,
        text="phase 1 done",
        blocks=[section("*phase 1* done")],
        thread_ts=parent["ts"],
        reply_broadcast=True,
    )
    assert reply["channel"] == CHANNEL
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert reply["message"]["blocks"][0]["block_id"]  # Slack fills in missing block ids
    message = emulator.messages(CHANNEL)[-1]
    assert (message.ts, message.thread_ts, message.via) == (reply["ts"], parent["ts"], "api")
    assert message.reply_broadcast is True
    assert message.user == "U0BOT"
    assert message.blocks[0]["text"]["text"] == "*phase 1* done"


def test_post_message_form_body_blocks_json_string_parsed(
    emulator: SlackEmulator, web: WebClient
) -> None:
    # Form callers (and slack_sdk's params= path) send blocks as a JSON string field.
    blocks = json.dumps([section("from a form")])
    web.api_call("chat.postMessage", params={"channel": CHANNEL, "text": "t", "blocks": blocks})
    assert emulator.messages(CHANNEL)[0].blocks[0]["text"]["text"] == "from a form"


def test_post_message_ts_unique_and_increasing(web: WebClient) -> None:
    stamps = [web.chat_postMessage(channel=CHANNEL, text=str(i))["ts"] for i in range(25)]
    assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
    assert [Decimal(ts) for ts in stamps] == sorted({Decimal(ts) for ts in stamps})


def test_post_message_to_user_id_lands_in_dm(emulator: SlackEmulator, web: WebClient) -> None:
    reply = web.chat_postMessage(channel="U0ENG", text="your rollback finished")
    opened = web.conversations_open(users="U0ENG")
    assert reply["channel"] == opened["channel"]["id"]
    assert emulator.messages(reply["channel"])[0].text == "your rollback finished"


def test_post_message_without_text_or_blocks_is_no_text(web: WebClient) -> None:
    # Straight to api_call: chat_postMessage() would warn about the missing text first.
    assert api_error(web.api_call, "chat.postMessage", json={"channel": CHANNEL}) == "no_text"


def test_post_message_51_blocks_is_invalid_blocks(web: WebClient) -> None:
    blocks = [section(str(i)) for i in range(51)]
    assert (
        api_error(web.chat_postMessage, channel=CHANNEL, text="t", blocks=blocks)
        == "invalid_blocks"
    )


def test_post_message_channel_name_is_channel_not_found(web: WebClient) -> None:
    assert api_error(web.chat_postMessage, channel="#incidents", text="t") == "channel_not_found"


def test_post_message_malformed_blocks_string_is_invalid_blocks_format(web: WebClient) -> None:
    params = {"channel": CHANNEL, "text": "t", "blocks": "[{not json"}
    assert api_error(web.api_call, "chat.postMessage", params=params) == "invalid_blocks_format"


def test_update_edits_text_and_keeps_blocks(emulator: SlackEmulator, web: WebClient) -> None:
    posted = web.chat_postMessage(channel=CHANNEL, text="pending", blocks=[section("pending")])
    reply = web.chat_update(channel=CHANNEL, ts=posted["ts"], text="done")
    assert (reply["ts"], reply["text"]) == (posted["ts"], "done")
    [message] = emulator.messages(CHANNEL)
    assert (message.text, message.edited) == ("done", True)
    assert message.blocks[0]["text"]["text"] == "pending"


def test_update_unknown_ts_is_message_not_found(web: WebClient) -> None:
    assert (
        api_error(web.chat_update, channel=CHANNEL, ts="1700000000.000001", text="x")
        == "message_not_found"
    )


def test_update_ephemeral_is_message_not_found(web: WebClient) -> None:
    ts = web.chat_postEphemeral(channel=CHANNEL, user="U0ENG", text="only you")["message_ts"]
    assert api_error(web.chat_update, channel=CHANNEL, ts=ts, text="x") == "message_not_found"


def test_post_ephemeral_records_message_for_user(emulator: SlackEmulator, web: WebClient) -> None:
    reply = web.chat_postEphemeral(channel=CHANNEL, user="U0ENG", text="only you")
    [message] = emulator.messages(CHANNEL)
    assert message.ts == reply["message_ts"]
    assert message.ephemeral_to == "U0ENG"


def test_post_ephemeral_unknown_user_is_user_not_found(web: WebClient) -> None:
    assert (
        api_error(web.chat_postEphemeral, channel=CHANNEL, user="U0NOBODY", text="x")
        == "user_not_found"
    )


# -- views.* --------------------------------------------------------------------------------------


def test_views_open_records_modal(emulator: SlackEmulator, web: WebClient) -> None:
    reply = web.views_open(trigger_id=emulator.new_trigger_id(), view=MODAL)
    view = reply["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "confirm_rollback"
    assert [v["id"] for v in emulator.open_views()] == [view["id"]]


def test_views_open_unissued_trigger_is_invalid_trigger_id(web: WebClient) -> None:
    assert api_error(web.views_open, trigger_id="1.2.abc", view=MODAL) == "invalid_trigger_id"


def test_views_open_reused_trigger_is_exchanged_trigger_id(
    emulator: SlackEmulator, web: WebClient
) -> None:
    trigger_id = emulator.new_trigger_id()
    web.views_open(trigger_id=trigger_id, view=MODAL)
    assert api_error(web.views_open, trigger_id=trigger_id, view=MODAL) == "exchanged_trigger_id"


def test_views_open_stale_trigger_is_expired_trigger_id() -> None:
    now = [1000.0]
    with SlackEmulator(trigger_ttl_s=3.0, clock=lambda: now[0]) as emu:
        web = WebClient(token=emu.bot_token, base_url=emu.api_url, timeout=5)
        trigger_id = emu.new_trigger_id()
        now[0] += 3.5  # past Slack's three seconds
        assert api_error(web.views_open, trigger_id=trigger_id, view=MODAL) == "expired_trigger_id"


def test_views_open_101_blocks_is_invalid_blocks(emulator: SlackEmulator, web: WebClient) -> None:
    view = {**MODAL, "blocks": [section(str(i)) for i in range(101)]}
    assert (
        api_error(web.views_open, trigger_id=emulator.new_trigger_id(), view=view)
        == "invalid_blocks"
    )


def test_views_update_by_view_id_and_external_id(emulator: SlackEmulator, web: WebClient) -> None:
    opened = web.views_open(
        trigger_id=emulator.new_trigger_id(), view={**MODAL, "external_id": "rb-42"}
    )["view"]
    by_id = web.views_update(view_id=opened["id"], view={**MODAL, "callback_id": "step2"})
    by_ext = web.views_update(external_id="rb-42", view={**MODAL, "external_id": "rb-42"})
    assert by_id["view"]["id"] == by_ext["view"]["id"] == opened["id"]
    assert by_id["view"]["callback_id"] == "step2"
    assert emulator.open_views()[0]["external_id"] == "rb-42"


def test_views_update_stale_hash_is_hash_conflict(emulator: SlackEmulator, web: WebClient) -> None:
    opened = web.views_open(trigger_id=emulator.new_trigger_id(), view=MODAL)["view"]
    web.views_update(view_id=opened["id"], view=MODAL, hash=opened["hash"])
    assert (
        api_error(web.views_update, view_id=opened["id"], view=MODAL, hash="0.stale")
        == "hash_conflict"
    )


def test_views_update_unknown_view_is_not_found(web: WebClient) -> None:
    assert api_error(web.views_update, view_id="V0NOPE", view=MODAL) == "not_found"


def test_views_publish_sets_home_view_with_stable_id(
    emulator: SlackEmulator, web: WebClient
) -> None:
    first = web.views_publish(user_id="U0ENG", view=HOME)["view"]
    second = web.views_publish(user_id="U0ENG", view=HOME)["view"]
    home = emulator.home_view("U0ENG")
    assert home is not None
    assert first["id"] == second["id"] == home["id"]
    assert home["type"] == "home"
    assert emulator.home_view("U0OTHER") is None


def test_views_publish_modal_view_is_invalid_arguments(web: WebClient) -> None:
    assert api_error(web.views_publish, user_id="U0ENG", view=MODAL) == "invalid_arguments"


# -- users, conversations, usergroups -------------------------------------------------------------


def test_conversations_open_dm_id_stable_per_user(web: WebClient) -> None:
    first = web.conversations_open(users="U0ENG")
    second = web.conversations_open(users=["U0ENG"])
    other = web.conversations_open(users="U0ORCH")
    assert first["channel"]["id"] == second["channel"]["id"]
    assert first["channel"]["id"].startswith("D")
    assert other["channel"]["id"] != first["channel"]["id"]
    assert (first["already_open"], second["already_open"]) == (False, True)


def test_conversations_open_unknown_user_is_user_not_found(web: WebClient) -> None:
    assert api_error(web.conversations_open, users="U0NOBODY") == "user_not_found"


def test_users_info_returns_profile(web: WebClient) -> None:
    user = web.users_info(user="U0ORCH")["user"]
    assert (user["id"], user["name"], user["real_name"]) == (
        "U0ORCH",
        "orchestrator",
        "orchestrator",
    )
    assert user["profile"]["display_name"] == "orchestrator"


def test_users_info_unknown_user_is_user_not_found(web: WebClient) -> None:
    assert api_error(web.users_info, user="U0NOBODY") == "user_not_found"


def test_usergroups_users_list_returns_members() -> None:
    groups = {"S0SRE": ["U0ENG", "U0ORCH"]}
    with SlackEmulator(usergroups=groups) as emu:
        web = WebClient(token=emu.bot_token, base_url=emu.api_url, timeout=5)
        assert web.usergroups_users_list(usergroup="S0SRE")["users"] == ["U0ENG", "U0ORCH"]
        assert api_error(web.usergroups_users_list, usergroup="S0ORCH") == ("no_such_subteam")


# -- response_url and acks ------------------------------------------------------------------------


def test_response_url_in_channel_posts_channel_message(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG")
    reply = WebhookClient(url).send(text="Rolling back", response_type="in_channel")
    assert reply.status_code == 200
    [message] = emulator.messages(CHANNEL)
    assert (message.text, message.ephemeral_to, message.via) == (
        "Rolling back",
        None,
        "response_url",
    )


def test_response_url_default_is_ephemeral_to_user(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG")
    WebhookClient(url).send(text="only you")
    assert emulator.messages(CHANNEL)[0].ephemeral_to == "U0ENG"


def test_response_url_replace_original_edits_message(
    emulator: SlackEmulator, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel=CHANNEL, text="Approve?", blocks=[section("Approve?")])["ts"]
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG", message_ts=ts)
    reply = WebhookClient(url).send(text="Approved by eng", replace_original=True)
    assert reply.status_code == 200
    [message] = emulator.messages(CHANNEL)
    assert (message.ts, message.text, message.edited, message.blocks) == (
        ts,
        "Approved by eng",
        True,
        [],
    )


def test_response_url_delete_original_deletes_message(
    emulator: SlackEmulator, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel=CHANNEL, text="Approve?")["ts"]
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG", message_ts=ts)
    assert WebhookClient(url).send_dict({"delete_original": True}).status_code == 200
    assert emulator.messages(CHANNEL)[0].deleted is True


def test_response_url_thread_ts_posts_in_thread(emulator: SlackEmulator, web: WebClient) -> None:
    parent = web.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG")
    WebhookClient(url).send_dict(
        {"text": "reply", "response_type": "in_channel", "thread_ts": parent}
    )
    assert emulator.messages(CHANNEL)[-1].thread_ts == parent


def test_response_url_unknown_id_is_404(emulator: SlackEmulator) -> None:
    reply = WebhookClient(f"{emulator.base_url}/response/nope").send(text="x")
    assert reply.status_code == 404
    assert emulator.messages() == []


def test_response_url_sixth_use_is_refused(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG")
    statuses = [WebhookClient(url).send(text=str(i)).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert len(emulator.messages(CHANNEL)) == 5


def test_response_url_without_text_is_400(emulator: SlackEmulator) -> None:
    url = emulator.new_response_url(channel=CHANNEL, user="U0ENG")
    reply = WebhookClient(url).send_dict({"response_type": "in_channel"})
    assert reply.status_code == 400
    assert json.loads(reply.body)["error"] == "no_text"


def test_record_ack_ephemeral_unless_in_channel(emulator: SlackEmulator) -> None:
    quiet = emulator.record_ack(channel=CHANNEL, user="U0ENG", payload={"text": "on it"})
    loud = emulator.record_ack(
        channel=CHANNEL, user="U0ENG", payload={"text": "all", "response_type": "in_channel"}
    )
    empty = emulator.record_ack(channel=CHANNEL, user="U0ENG", payload={})
    assert quiet is not None and loud is not None
    assert (quiet.ephemeral_to, quiet.via) == ("U0ENG", "ack")
    assert loud.ephemeral_to is None
    assert empty is None
    assert len(emulator.messages(CHANNEL)) == 2


# -- rate limits ----------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(emulator: SlackEmulator, web: WebClient) -> None:
    emulator.set_rate_limit("chat.postMessage", retry_after_s=7, times=1)
    with pytest.raises(SlackApiError) as info:
        web.chat_postMessage(channel=CHANNEL, text="t")
    assert info.value.response.status_code == 429
    assert info.value.response["error"] == "ratelimited"
    assert info.value.response.headers["Retry-After"] == "7"
    assert web.chat_postMessage(channel=CHANNEL, text="t")["ok"] is True


def test_rate_limit_retry_handler_gets_through(emulator: SlackEmulator) -> None:
    emulator.set_rate_limit("chat.postMessage", retry_after_s=0, times=1)
    client = WebClient(
        token=emulator.bot_token,
        base_url=emulator.api_url,
        timeout=5,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert client.chat_postMessage(channel=CHANNEL, text="t")["ok"] is True
    assert [c.error for c in emulator.calls("chat.postMessage")] == ["ratelimited", None]
    assert len(emulator.messages(CHANNEL)) == 1


# -- waiting --------------------------------------------------------------------------------------


def test_wait_for_wakes_on_message_from_other_thread(
    emulator: SlackEmulator, web: WebClient
) -> None:
    timer = threading.Timer(0.1, lambda: web.chat_postMessage(channel=CHANNEL, text="late"))
    timer.start()
    try:
        assert emulator.wait_for(lambda e: len(e.messages(CHANNEL)) == 1, timeout=2.0)
    finally:
        timer.join(2.0)
    assert emulator.messages(CHANNEL)[0].text == "late"


def test_wait_for_unmet_predicate_returns_false_after_timeout(emulator: SlackEmulator) -> None:
    started = time.monotonic()
    assert emulator.wait_for(lambda e: False, timeout=0.2) is False
    assert 0.2 <= time.monotonic() - started < 1.0


def test_wait_for_change_returns_newer_version(emulator: SlackEmulator, web: WebClient) -> None:
    before = emulator.version
    assert emulator.wait_for_change(before, timeout=0.05) == before
    web.chat_postMessage(channel=CHANNEL, text="t")
    assert emulator.wait_for_change(before, timeout=1.0) > before
