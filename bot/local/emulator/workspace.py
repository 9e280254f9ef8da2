"""What a test (or the console) reads from the emulated workspace, and what people do in it:
the calls the bot made, messages, views, uploaded files; a person posting.

Mixed into :class:`bot.local.emulator.webapi.SlackEmulator`, which holds the lock and state.
"""

from __future__ import annotations

import copy
import threading

from bot.local.emulator.records import ApiCall, JsonDict, Message
from bot.local.emulator.server import HttpReply
from bot.local.emulator.state import WorkspaceState


class WorkspaceQueries:
    """Thread-safe reads of the workspace, and a person's own actions in it."""

    _cond: threading.Condition
    _state: WorkspaceState

    def _changed(self) -> None:
        raise NotImplementedError

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._cond:
            found = [c for c in self._state.calls if method is None or c.method == method]
            return copy.deepcopy(found)

    def messages(self, channel: str | None = None) -> list[Message]:
        """Every message in posting order, deleted ones included (flagged ``deleted``)."""
        with self._cond:
            found = [m for m in self._state.messages if channel is None or m.channel == channel]
            # Copies, so a caller mutating blocks cannot rewrite the record.
            return copy.deepcopy(found)

    def message(self, channel: str, ts: str) -> Message | None:
        with self._cond:
            for message in self._state.messages:
                if message.channel == channel and message.ts == ts:
                    return copy.deepcopy(message)
            return None

    def post_as(
        self, user: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> Message:
        """A person posts (in a thread when ``thread_ts``); the ``message`` event Slack would
        send for it is :func:`message_event`."""
        with self._cond:
            message = self._state.add_message(
                channel=channel, text=text, thread_ts=thread_ts, user=user, via="person"
            )
            self._changed()
            return copy.deepcopy(message)

    def message_payload(self, message: Message) -> JsonDict:
        """The message object Slack would put in an interaction payload or an API answer."""
        with self._cond:
            return self._state.message_dict(message)

    def home_view(self, user_id: str) -> JsonDict | None:
        with self._cond:
            return copy.deepcopy(self._state.home_views.get(user_id))

    def open_views(self) -> list[JsonDict]:
        """Modals currently open, oldest first."""
        with self._cond:
            return copy.deepcopy(list(self._state.modals.values()))

    def handle_upload(self, file_id: str, body: bytes) -> HttpReply:
        """The bytes of a file, POSTed to the URL files.getUploadURLExternal gave out."""
        with self._cond:
            upload = self._state.uploads.get(file_id)
            if upload is None or upload.get("content") is not None:
                return HttpReply(404, {"ok": False, "error": "not_found"})
            if len(body) != upload["length"]:
                return HttpReply(400, {"ok": False, "error": "length_mismatch"})
            upload["content"] = body
            self._changed()
        return HttpReply(200, {"ok": True})

    def uploaded(self, file_id: str) -> bytes | None:
        """What was uploaded as ``file_id`` (None until its bytes arrived)."""
        with self._cond:
            upload = self._state.uploads.get(file_id)
            return None if upload is None else upload.get("content")
