"""A loopback Slack Web API emulator for tests and the local console.

Point slack_sdk's ``WebClient(base_url=emulator.api_url)`` at it and it answers the methods the
bot uses with Slack's shapes and error codes, records what the bot said, and lets a test or a
terminal block until something new arrives.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from bot.local.emulator.methods import METHODS
from bot.local.emulator.payloads import Actor, Workspace, default_channel_name, slash_command_fields
from bot.local.emulator.records import (
    EMULATOR_BOT_TOKEN,
    ApiCall,
    ApiError,
    Identity,
    JsonDict,
    Message,
)
from bot.local.emulator.responses import apply_response_url, record_ack
from bot.local.emulator.server import ApiRequest, HttpReply, ServerThread
from bot.local.emulator.socketmode import SocketModeEndpoint
from bot.local.emulator.state import Fault, RateLimit, WorkspaceState, copy_people
from bot.local.emulator.workspace import WorkspaceQueries


class SlackEmulator(WorkspaceQueries):
    """Slack's Web API and response URLs on 127.0.0.1, with thread-safe recorded state."""

    def __init__(
        self,
        *,
        bot_token: str = EMULATOR_BOT_TOKEN,
        team_id: str = "T0EMU",
        bot_user_id: str = "U0BOT",
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        bot_id: str = "B0BOT",
        app_id: str = "A0ROLLBACK",
        team_domain: str = "emulator",
        trigger_ttl_s: float = 3.0,
        response_url_max_uses: int = 5,
        response_url_ttl_s: float = 30 * 60,
        app_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Socket Mode is off unless an app-level token is given: apps.connections.open needs it.
        self._app_token = app_token
        self._socket_mode: SocketModeEndpoint | None = None
        self._state = WorkspaceState(
            identity=Identity(
                bot_token=bot_token,
                team_id=team_id,
                team_domain=team_domain,
                bot_user_id=bot_user_id,
                bot_id=bot_id,
                app_id=app_id,
            ),
            **copy_people(users, usergroups),
            trigger_ttl_s=trigger_ttl_s,
            response_url_max_uses=response_url_max_uses,
            response_url_ttl_s=response_url_ttl_s,
            clock=clock,
        )
        # One re-entrant lock for all state, so a wait_for predicate may call the query methods.
        self._cond = threading.Condition(threading.RLock())
        self._version = 0
        self._server: ServerThread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._server = ServerThread(self)
        self._server.start()
        with self._cond:
            self._state.upload_base = f"{self.base_url}/upload/"
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        socket_mode, self._socket_mode = self._socket_mode, None
        if socket_mode is not None:
            socket_mode.stop()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def api_url(self) -> str:
        # Trailing slash: slack_sdk appends the method name to base_url as-is.
        return f"{self.base_url}/api/"

    # -- identity -------------------------------------------------------------------------------

    @property
    def bot_token(self) -> str:
        return self._state.identity.bot_token

    @property
    def team_id(self) -> str:
        return self._state.identity.team_id

    @property
    def bot_user_id(self) -> str:
        return self._state.identity.bot_user_id

    def user_name(self, user_id: str) -> str | None:
        with self._cond:
            return self._state.users.get(user_id)

    # -- recorded state -------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Bumped on every change, so a waiter can tell whether anything happened since."""
        with self._cond:
            return self._version

    # -- things the sender (playing the Slack client) does --------------------------------------

    def new_trigger_id(self) -> str:
        """A fresh trigger id that views.open will accept once, within ``trigger_ttl_s``."""
        with self._cond:
            return self._state.issue_trigger()

    def new_response_url(self, *, channel: str, user: str, message_ts: str | None = None) -> str:
        with self._cond:
            url_id = self._state.issue_response_target(channel, user, message_ts)
        return f"{self.base_url}/response/{url_id}"

    def record_ack(self, *, channel: str, user: str, payload: JsonDict) -> Message | None:
        """Show a slash command's HTTP ack body as Slack does; None if it carries no message."""
        with self._cond:
            message = record_ack(self._state, channel, user, payload)
            if message is not None:
                self._changed()
            return message

    def close_view(self, view_id: str) -> bool:
        """Close a modal, as Slack does when a view_submission is acked with no body."""
        with self._cond:
            closed = self._state.modals.pop(view_id, None) is not None
            if closed:
                self._changed()
            return closed

    def set_rate_limit(self, method: str, retry_after_s: int, times: int) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and Retry-After."""
        with self._cond:
            self._state.rate_limits[method] = RateLimit(retry_after_s, times)

    def refuse(
        self, method: str, error: str, *, channel: str | None = None, times: int = -1
    ) -> None:
        """Answer ``method`` (for ``channel``, or any) with Slack's ``error`` and do nothing:
        e.g. ``refuse("chat.postMessage", "not_in_channel", channel="C0INCIDENTS")`` is a bot
        that lost the channel. ``times`` -1 means until :meth:`heal`."""
        with self._cond:
            self._state.faults.append(Fault(method, channel, times, error=error))

    def fail_http(self, method: str, status: int = 500, *, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status``, doing nothing."""
        with self._cond:
            self._state.faults.append(Fault(method, None, times, status=status))

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Carry out the next ``times`` calls of ``method``, then answer ``seconds`` late."""
        with self._cond:
            self._state.faults.append(Fault(method, None, times, delay_s=seconds))

    def heal(self) -> None:
        with self._cond:  # forget every fault set with refuse, fail_http or slow
            self._state.faults.clear()

    # -- waiting --------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[SlackEmulator], bool], *, timeout: float) -> bool:
        """Block until ``predicate(self)`` holds, re-checking on each change; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def wait_for_change(self, since_version: int, timeout: float) -> int:
        """Block until the version passes ``since_version`` or the timeout ends; the version."""
        self.wait_for(lambda emu: emu._version > since_version, timeout=timeout)
        return self.version

    # -- HTTP entry points (called from server threads) -----------------------------------------

    def handle_api(self, request: ApiRequest) -> HttpReply:
        delay_s = 0.0
        with self._cond:
            fault = next(
                (
                    f
                    for f in self._state.faults
                    if f.applies(request.method, request.args.get("channel"))
                ),
                None,
            )
            if fault is not None:
                fault.spend()
                delay_s = fault.delay_s
            status, body, headers = self._answer(request, fault)
            self._state.calls.append(
                ApiCall(
                    method=request.method,
                    args=copy.deepcopy(request.args),
                    at=time.time(),
                    ok=body.get("ok") is True,
                    error=body.get("error"),
                )
            )
            self._changed()
        if delay_s:
            # Outside the lock: the work is done and visible; only the answer is late.
            time.sleep(delay_s)
        return HttpReply(status, body, headers)

    def handle_response_url(self, url_id: str, body: bytes) -> HttpReply:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        with self._cond:
            try:
                target = self._state.spend_response_target(url_id)
                if not isinstance(payload, dict):
                    raise ApiError("invalid_payload")
                apply_response_url(self._state, target, payload)
            except ApiError as err:
                return HttpReply(_response_url_status(err.code), {"ok": False, "error": err.code})
            self._changed()
        return HttpReply(200, {"ok": True})

    @property
    def socket_mode(self) -> SocketModeEndpoint:
        """The Socket Mode endpoint; exists once an app has asked for a connection URL."""
        if self._socket_mode is None:
            raise RuntimeError("no app has opened a Socket Mode connection")
        return self._socket_mode

    def socket_slash_command(
        self,
        command: str,
        text: str,
        *,
        user_id: str,
        channel_id: str = "C0INCIDENTS",
        retry_attempt: int = 0,
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> JsonDict | None:
        """Deliver a slash command over Socket Mode as Slack does; the app's ack, or None."""
        identity = self._state.identity
        workspace = Workspace(identity.team_id, identity.team_domain, identity.app_id)
        actor = Actor(
            user_id,
            self.user_name(user_id) or user_id.lower(),
            channel_id,
            default_channel_name(channel_id),
        )
        fields = slash_command_fields(
            workspace,
            actor,
            command=command,
            text=text,
            response_url=self.new_response_url(channel=channel_id, user=user_id),
            trigger_id=self.new_trigger_id(),
        )
        return self.socket_mode.send(
            "slash_commands",
            dict(fields),
            retry_attempt=retry_attempt,
            retry_reason="timeout" if retry_attempt else "",
            envelope_id=envelope_id,
            timeout=timeout,
        )

    def _open_socket_connection(self, request: ApiRequest) -> JsonDict:
        if not request.token:
            return {"ok": False, "error": "not_authed"}
        if self._app_token is None or request.token != self._app_token:
            # A bot token here is the classic mistake; Slack names it.
            return {
                "ok": False,
                "error": "not_allowed_token_type"
                if request.token.startswith("xoxb-")
                else "invalid_auth",
            }
        if self._socket_mode is None:
            self._socket_mode = SocketModeEndpoint()
            self._socket_mode.start()
        return {"ok": True, "url": self._socket_mode.new_url()}

    def _answer(
        self, request: ApiRequest, fault: Fault | None
    ) -> tuple[int, JsonDict, dict[str, str]]:
        if fault is not None and fault.status is not None:
            return fault.status, {"ok": False, "error": "fatal_error"}, {}
        if fault is not None and fault.error is not None:
            return 200, {"ok": False, "error": fault.error}, {}
        return self._dispatch(request)

    def _dispatch(self, request: ApiRequest) -> tuple[int, JsonDict, dict[str, str]]:
        if request.method == "apps.connections.open":
            return 200, self._open_socket_connection(request), {}
        handler = METHODS.get(request.method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if not request.token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if request.token != self._state.identity.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        limit = self._state.rate_limits.get(request.method)
        if limit is not None and limit.remaining > 0:
            limit.remaining -= 1
            headers = {"Retry-After": str(limit.retry_after_s)}
            return 429, {"ok": False, "error": "ratelimited"}, headers
        try:
            return 200, handler(self._state, request.args), {}
        except ApiError as err:
            return 200, {"ok": False, "error": err.code}, {}

    def _changed(self) -> None:
        self._version += 1
        self._cond.notify_all()


def _response_url_status(code: str) -> int:
    if code in ("expired_url", "used_url", "message_not_found"):
        return 404
    return 400
