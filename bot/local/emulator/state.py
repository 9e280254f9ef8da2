"""The emulated workspace's mutable state.

Not thread-safe on its own: :class:`~bot.local.emulator.webapi.SlackEmulator` holds one lock around
every read and write, so the method handlers here can stay plain sequential code.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.local.emulator.records import (
    ApiCall,
    ApiError,
    Identity,
    JsonDict,
    Message,
    TsClock,
    new_block_id,
    new_trigger_id,
    random_id,
)

# The people of a fresh workspace: an engineer, an orchestrator (the only member of S0ORCH), a
# bystander, and a lead for the escalation levels beyond the orchestrators.
DEFAULT_USERS: Mapping[str, str] = {
    "U0ENG": "eng",
    "U0ORCH": "orchestrator",
    "U0OTHER": "other",
    "U0LEAD": "lead",
}
DEFAULT_USERGROUPS: Mapping[str, Sequence[str]] = {"S0ORCH": ["U0ORCH"]}


def copy_people(
    users: Mapping[str, str] | None, usergroups: Mapping[str, Sequence[str]] | None
) -> dict[str, Any]:
    """The workspace's ``users`` and ``usergroups`` (the defaults unless given), as copies."""
    groups = DEFAULT_USERGROUPS if usergroups is None else usergroups
    return {
        "users": dict(DEFAULT_USERS if users is None else users),
        "usergroups": {group: list(members) for group, members in groups.items()},
    }


@dataclass
class ResponseTarget:
    """Where a ``response_url`` posts, and how much of its allowance is left."""

    channel: str
    user: str
    message_ts: str | None
    created: float
    uses: int = 0
    # The last message this URL posted: a slash command has no original message, so Slack's
    # replace_original / delete_original there act on what the URL itself said before.
    last_posted_ts: str | None = None


@dataclass
class RateLimit:
    retry_after_s: int
    remaining: int


@dataclass
class Fault:
    """What the next calls of a method get instead of a normal answer (see SlackEmulator)."""

    method: str
    channel: str | None  # only calls about this channel; None for any
    remaining: int  # how many more calls it applies to; -1 for all of them
    error: str | None = None  # answer {"ok": false, "error": error} and do nothing
    status: int | None = None  # answer this HTTP status and do nothing
    delay_s: float = 0.0  # do the work, then answer this late (Slack slower than the client)

    def applies(self, method: str, channel: object) -> bool:
        wanted = self.channel is None or self.channel == channel
        return self.remaining != 0 and self.method == method and wanted

    def spend(self) -> None:
        if self.remaining > 0:
            self.remaining -= 1


@dataclass
class WorkspaceState:
    identity: Identity
    users: dict[str, str]
    usergroups: dict[str, list[str]]
    trigger_ttl_s: float
    response_url_max_uses: int
    response_url_ttl_s: float
    messages: list[Message] = field(default_factory=list)
    calls: list[ApiCall] = field(default_factory=list)
    home_views: dict[str, JsonDict] = field(default_factory=dict)
    modals: dict[str, JsonDict] = field(default_factory=dict)
    triggers: dict[str, float] = field(default_factory=dict)
    exchanged_triggers: set[str] = field(default_factory=set)
    response_targets: dict[str, ResponseTarget] = field(default_factory=dict)
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    open_dms: set[str] = field(default_factory=set)
    #: Files being uploaded (files.getUploadURLExternal), by id, with their bytes once sent.
    uploads: dict[str, JsonDict] = field(default_factory=dict)
    upload_base: str = ""  # where upload URLs point: the emulator's own /upload/
    ts_clock: TsClock = field(default_factory=TsClock)
    #: Seconds on a monotonic scale, for what expires (triggers, response URLs); tests pass
    #: their own to age them without sleeping.
    clock: Callable[[], float] = time.monotonic

    # -- messages -------------------------------------------------------------------------------

    def add_message(self, **fields: Any) -> Message:
        fields.setdefault("user", self.identity.bot_user_id)
        message = Message(ts=self.ts_clock.next(), **fields)
        self.messages.append(message)
        return message

    def find_message(self, channel: str, ts: str | None, *, ephemeral_ok: bool) -> int | None:
        """Index of the live message at (channel, ts); ephemerals only when the caller may."""
        for index, message in enumerate(self.messages):
            if message.channel != channel or message.ts != ts or message.deleted:
                continue
            if message.ephemeral and not ephemeral_ok:
                continue
            return index
        return None

    def change_message(self, index: int, **changes: Any) -> Message:
        updated = replace(self.messages[index], **changes)
        self.messages[index] = updated
        return updated

    def message_dict(self, message: Message) -> JsonDict:
        """The message object Slack returns from chat.* calls and puts in interaction payloads."""
        ident = self.identity
        out: JsonDict = {
            "user": message.user,
            "type": "message",
            "ts": message.ts,
            "text": message.text,
            "team": ident.team_id,
        }
        if message.via != "person":  # what the app itself posted carries its bot and app ids
            out.update(bot_id=ident.bot_id, app_id=ident.app_id)
        if message.blocks:
            out["blocks"] = copy.deepcopy(message.blocks)
        if message.thread_ts is not None:
            out["thread_ts"] = message.thread_ts
            out["parent_user_id"] = message.user
        if message.files:
            out["files"] = copy.deepcopy(message.files)
        if message.edited:
            out["edited"] = {"user": message.user, "ts": message.ts}
        return out

    # -- users and channels ---------------------------------------------------------------------

    def known_user(self, user_id: str) -> bool:
        return user_id in self.users or user_id == self.identity.bot_user_id

    def dm_channel(self, user_id: str) -> str:
        # Derived, not allocated, so the same user gets the same DM id for the emulator's life.
        return "D" + user_id[1:]

    def mpim_channel(self, user_ids: Sequence[str]) -> str:
        digest = hashlib.sha256(",".join(sorted(user_ids)).encode()).hexdigest()
        return "G" + digest[:10].upper()

    def user_object(self, user_id: str) -> JsonDict:
        is_bot = user_id == self.identity.bot_user_id
        display = "rollback-bot" if is_bot else self.users[user_id]
        return {
            "id": user_id,
            "team_id": self.identity.team_id,
            "name": display,
            "deleted": False,
            "real_name": display,
            "tz": "Etc/UTC",
            "tz_offset": 0,
            "is_bot": is_bot,
            "is_admin": False,
            "is_app_user": False,
            "profile": {
                "real_name": display,
                "real_name_normalized": display,
                "display_name": display,
                "display_name_normalized": display,
                "team": self.identity.team_id,
            },
        }

    # -- triggers and response URLs -------------------------------------------------------------

    def issue_trigger(self) -> str:
        trigger_id = new_trigger_id()
        self.triggers[trigger_id] = self.clock()
        return trigger_id

    def exchange_trigger(self, trigger_id: str) -> None:
        """Spend a trigger id as views.open does: once, and only while it is fresh."""
        if trigger_id in self.exchanged_triggers:
            raise ApiError("exchanged_trigger_id")
        issued = self.triggers.pop(trigger_id, None)
        if issued is None:
            raise ApiError("invalid_trigger_id")
        self.exchanged_triggers.add(trigger_id)
        if self.clock() - issued > self.trigger_ttl_s:
            raise ApiError("expired_trigger_id")

    def issue_response_target(self, channel: str, user: str, message_ts: str | None) -> str:
        url_id = secrets.token_urlsafe(18)
        self.response_targets[url_id] = ResponseTarget(
            channel=channel, user=user, message_ts=message_ts, created=self.clock()
        )
        return url_id

    def spend_response_target(self, url_id: str) -> ResponseTarget:
        """Look up a response_url and count one use: Slack allows five within 30 minutes."""
        target = self.response_targets.get(url_id)
        if target is None or self.clock() - target.created > self.response_url_ttl_s:
            raise ApiError("expired_url")
        if target.uses >= self.response_url_max_uses:
            raise ApiError("used_url")
        target.uses += 1
        return target

    # -- views ----------------------------------------------------------------------------------

    def build_view(self, spec: Mapping[str, Any], *, view_id: str) -> JsonDict:
        """The stored view object, shaped like the ``view`` that views.* methods return."""
        ident = self.identity
        return {
            "id": view_id,
            "team_id": ident.team_id,
            "type": spec["type"],
            "blocks": with_block_ids(spec.get("blocks") or []),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": copy.deepcopy(spec.get("title")),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": copy.deepcopy(spec.get("close")),
            "submit": copy.deepcopy(spec.get("submit")),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": ident.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": ident.team_id,
            "bot_id": ident.bot_id,
        }

    def find_view(self, *, view_id: str | None, external_id: str | None) -> JsonDict | None:
        for view in [*self.modals.values(), *self.home_views.values()]:
            if view_id and view["id"] == view_id:
                return view
            if external_id and view["external_id"] == external_id:
                return view
        return None

    def store_view(self, view: JsonDict) -> None:
        """Put a (possibly updated) view back wherever a view with its id lives."""
        if view["type"] == "home":
            for user_id, home in self.home_views.items():
                if home["id"] == view["id"]:
                    self.home_views[user_id] = view
                    return
        self.modals[view["id"]] = view

    def new_view_id(self) -> str:
        return random_id("V")


def with_block_ids(blocks: Sequence[JsonDict]) -> list[JsonDict]:
    """Copy blocks, giving each one without a ``block_id`` a generated one as Slack does."""
    out = copy.deepcopy(list(blocks))
    for block in out:
        if not block.get("block_id"):
            block["block_id"] = new_block_id()
    return out
