"""A tiny web service that stands in for the team's app (`rollback-bot demo`, the tests).

    python -m bot.local.demo.service serve|restart --port P --root DIR  [--ready-timeout S]
    python -m bot.local.demo.service stop --root DIR

Stdlib only, so the sandbox's ``service.restart`` runs it as ``python -P .../demo/service.py`` from
any directory. DIR is the git working copy it "runs from"; like a real server it reads that code
once, at start-up, so a ``git reset --hard`` only takes effect with the restart that follows it:
no ``server/email-config.ts`` -> email routes and /inbox answer 500 and log ERROR;
``server/slow-query.ts`` -> /api/customers takes 2.5 s and logs "slow query";
a line ``BROKEN`` in ``server/routes.ts`` -> start-up fails (the procedure's drill);
``migrations/phase2_0002_add_deal_stage.sql`` -> deals carry a ``stage``.
Log lines in ``DIR/logs/server.log``: ``<UTC timestamp> <LEVEL> <message>``. The running pid is in
``DIR/.demo-service.pid``. This file is the service itself; ``restart`` and ``stop`` are
``bot/local/demo/control.py`` (pidfile, finding our instances via /proc, waiting for /healthz).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING or __package__:  # imported as bot.local.demo.service (or run with -m)
    from bot.local.demo import control
else:
    # Run as a script: the generated config's service.restart (and control.start) run
    # `python -P /abs/path/bot/local/demo/service.py ...`. -P keeps both this file's directory
    # and the cwd off sys.path, so `bot` may not be importable at all, or may resolve to an
    # installed copy rather than this checkout. So import the sibling file, from this directory
    # only, and take the directory off sys.path again so that bot/'s other modules cannot shadow
    # anything later.
    # (mypy reads only the branch above: TYPE_CHECKING is true for it.)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import control  # type: ignore[no-redef]
    finally:
        del sys.path[0]

SESSION_COOKIE = "connect.sid"
SLOW_QUERY_S = 2.5
MAX_BODY_BYTES = 64 * 1024
EMAIL_DOWN = "email transport unavailable: cannot find module './email-config'"


@dataclass(frozen=True)
class Features:
    """What the code in the working copy makes the service do, read once at start-up."""

    email_ok: bool
    slow_customers: bool
    deal_stage: bool
    startup_error: str | None = None


def read_features(root: Path) -> Features:
    try:
        routes = (root / "server" / "routes.ts").read_text("utf-8").splitlines()
    except OSError as exc:
        return Features(False, False, False, f"cannot load server/routes.ts: {exc}")
    broken = any(line.strip() == "BROKEN" for line in routes)
    return Features(
        email_ok=(root / "server" / "email-config.ts").is_file(),
        slow_customers=(root / "server" / "slow-query.ts").is_file(),
        deal_stage=(root / "migrations" / "phase2_0002_add_deal_stage.sql").is_file(),
        startup_error="SyntaxError: server/routes.ts: unexpected token BROKEN" if broken else None,
    )


class Log:
    """Appends timestamped lines; opened per line so rotation or truncation is harmless."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def write(self, level: str, message: str) -> None:
        clean = "".join(c if c.isprintable() else "?" for c in message)  # paths are client input
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {level:<5} {clean}\n")


@dataclass
class App:
    features: Features
    log: Log
    sessions: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    customers: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": 1, "name": "Ada Motors", "email": "sales@ada-motors.example", "city": "Austin"},
        {"id": 2, "name": "Birch Auto Group", "email": "fleet@birch.example", "city": "Denver"},
        {"id": 3, "name": "Cobalt Cars", "email": "hello@cobalt.example", "city": "Tampa"},
    ])  # fmt: skip
    messages: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": 1, "to": "fleet@birch.example", "subject": "Quote #1042", "body": "Attached."},
        {"id": 2, "to": "hello@cobalt.example", "subject": "Test drive", "body": "Friday?"},
    ])  # fmt: skip
    deals: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": 1, "title": "Birch fleet renewal", "amount": 182000},
        {"id": 2, "title": "Cobalt demo units", "amount": 54000},
    ])  # fmt: skip


@dataclass(frozen=True)
class Reply:
    status: int
    payload: dict[str, Any] | list[Any] | str  # str is HTML
    headers: tuple[tuple[str, str], ...] = ()


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0 (the default): one request per connection, so answering 401/500 before reading a
    # request body cannot leave stray bytes for a next request on the same connection.
    app: App  # bound by a per-server subclass in serve()
    server_version = "autolytiq-demo/1.0"
    timeout = 10  # socket timeout: a client that never sends its body cannot pin a thread

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch writes one access line per request, with its duration

    def log_message(self, format: str, *args: Any) -> None:
        self.app.log.write("WARN", "http: " + format % args)

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        routes = ROUTES.get(url.path, {})
        try:
            if not routes:
                reply = Reply(404, {"error": f"no route for {url.path}"})
            elif method not in routes:
                reply = Reply(405, {"error": f"{method} not allowed on {url.path}"})
            else:
                reply = routes[method](self, parse_qs(url.query))
        except BadRequest as exc:
            reply = Reply(400, {"error": str(exc)})
        except Exception as exc:  # answer 500 rather than drop the connection
            self.app.log.write("ERROR", f"unhandled {type(exc).__name__} on {url.path}: {exc}")
            reply = Reply(500, {"error": "internal error"})
        self._send(reply)
        ms = (time.monotonic() - started) * 1000
        line = f'{self.client_address[0]} "{method} {self.path}" {reply.status} {ms:.0f}ms'
        self.app.log.write("ERROR" if reply.status >= 500 else "INFO", line)

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.payload, str):
            body, ctype = reply.payload.encode("utf-8"), "text/html; charset=utf-8"
        else:
            body, ctype = json.dumps(reply.payload).encode("utf-8"), "application/json"
        self.send_response(reply.status)
        for name, value in (("Content-Type", ctype), ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self) -> dict[str, Any]:
        """The JSON or form body as a dict; an empty body is an empty dict."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise BadRequest(f"Content-Length must be 0..{MAX_BODY_BYTES}")
        raw = self.rfile.read(int(length))
        if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        try:
            data = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        return data

    def logged_in(self) -> bool:
        try:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get(SESSION_COOKIE)
        except CookieError:
            return False
        with self.app.lock:
            return morsel is not None and morsel.value in self.app.sessions

    def email_down(self) -> Reply | None:
        if self.app.features.email_ok:
            return None
        self.app.log.write("ERROR", f"{EMAIL_DOWN} (server/email-config.ts) at {self.path}")
        return Reply(500, {"error": EMAIL_DOWN})


Query = dict[str, list[str]]
NEED_LOGIN = Reply(401, {"error": f"login required: POST /login sets the {SESSION_COOKIE} cookie"})


def _page(title: str, items: list[str]) -> str:
    rows = "".join(f"<li>{item}</li>" for item in items)
    return f"<!doctype html><title>{title}</title><h1>{title}</h1><ul>{rows}</ul>"


def home(h: Handler, q: Query) -> Reply:
    return Reply(
        200,
        _page("Autolytiq CRM", [f'<a href="{p}">{p}</a>' for p, m in ROUTES.items() if "GET" in m]),
    )


def inbox(h: Handler, q: Query) -> Reply:
    if not h.logged_in():
        return NEED_LOGIN
    if failed := h.email_down():
        return failed
    with h.app.lock:
        return Reply(200, _page("Inbox", [html.escape(m["subject"]) for m in h.app.messages]))


def customers(h: Handler, q: Query) -> Reply:
    if h.app.features.slow_customers:  # the unindexed cross-table search of scenario 4
        time.sleep(SLOW_QUERY_S)
        h.app.log.write("WARN", f"slow query: customers search took {SLOW_QUERY_S * 1000:.0f}ms")
    term = q.get("search", [""])[0].lower()
    return Reply(200, [c for c in h.app.customers if term in f"{c['name']} {c['email']}".lower()])


def email_messages(h: Handler, q: Query) -> Reply:
    if failed := h.email_down():
        return failed
    with h.app.lock:
        return Reply(200, list(h.app.messages))


def email_send(h: Handler, q: Query) -> Reply:
    if failed := h.email_down():
        return failed
    body = h.read_body()
    fields = {key: body.get(key) for key in ("to", "subject", "body")}
    if not all(isinstance(v, str) and v for v in fields.values()) or "@" not in str(fields["to"]):
        raise BadRequest("need non-empty strings 'to' (an email address), 'subject' and 'body'")
    with h.app.lock:
        h.app.messages.append({"id": len(h.app.messages) + 1, **fields})
        return Reply(202, {"id": len(h.app.messages), "status": "queued"})


def deals_list(h: Handler, q: Query) -> Reply:
    stage = {"stage": "qualified"} if h.app.features.deal_stage else {}
    with h.app.lock:
        return Reply(200, [{**stage, **deal} for deal in h.app.deals])


def deals_create(h: Handler, q: Query) -> Reply:
    if not h.logged_in():
        return NEED_LOGIN
    body = h.read_body()
    title, amount = body.get("title"), body.get("amount", 0)
    if not isinstance(title, str) or not title.strip():
        raise BadRequest("'title' must be a non-empty string")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise BadRequest("'amount' must be a non-negative number")
    with h.app.lock:
        deal = {"id": len(h.app.deals) + 1, "title": title.strip(), "amount": amount}
        h.app.deals.append(deal)
    return Reply(201, deal)


def login(h: Handler, q: Query) -> Reply:
    user = str(h.read_body().get("username") or "demo")  # the demo lets anyone in
    token = secrets.token_urlsafe(24)
    with h.app.lock:
        h.app.sessions.add(token)
    cookie = f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"
    return Reply(200, {"user": user}, (("Set-Cookie", cookie),))


def healthz(h: Handler, q: Query) -> Reply:
    # The pid lets `restart` tell the instance it started from an old one still on the port.
    return Reply(200, {"status": "ok", "pid": os.getpid(), "email": h.app.features.email_ok})


ROUTES: dict[str, dict[str, Callable[[Handler, Query], Reply]]] = {
    "/": {"GET": home},
    "/inbox": {"GET": inbox},
    "/api/customers": {"GET": customers},
    "/api/email/messages": {"GET": email_messages},
    "/api/email/send": {"POST": email_send},
    "/api/deals": {"GET": deals_list, "POST": deals_create},
    "/login": {"POST": login},
    "/healthz": {"GET": healthz},
}


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)  # unwinds serve_forever so the finally below runs


def serve(root: Path, port: int) -> int:
    """Serve in the foreground until SIGTERM/SIGINT; 1 if the code or the port is unusable."""
    log = Log(root / control.LOG_RELPATH)
    features = read_features(root)

    class BoundHandler(Handler):
        app = App(features, log)

    try:
        if features.startup_error:
            raise OSError(features.startup_error)
        server = ThreadingHTTPServer((control.HOST, port), BoundHandler)
    except OSError as exc:
        log.write("ERROR", f"server failed to start on {control.HOST}:{port}: {exc}")
        return 1
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    pidfile = root / control.PIDFILE_NAME
    pidfile.write_text(f"{os.getpid()}\n", encoding="ascii")
    url = f"http://{control.HOST}:{port}"
    log.write("INFO", f"server listening on {url} pid={os.getpid()} root={root}")
    if not features.email_ok:
        log.write("ERROR", f"{EMAIL_DOWN} (server/email-config.ts): email routes disabled")
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if control.read_pid(pidfile) == os.getpid():  # a newer instance may own the file by now
            pidfile.unlink(missing_ok=True)
        log.write("INFO", f"server stopped pid={os.getpid()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_service", description="Autolytiq demo service")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "restart", "stop"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--root", type=Path, default=Path("."), help="the git working copy")
        if name != "stop":
            cmd.add_argument("--port", type=int, required=True)
        if name == "restart":
            cmd.add_argument("--ready-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if not root.is_dir():
        parser.error(f"--root {root} is not a directory")
    if args.command == "serve":
        return serve(root, args.port)
    try:
        stopped = control.stop(root)
        if args.command == "stop":
            print(f"demo service stopped: {stopped or 'nothing was running'}")
            return 0
        pid = control.start(root, args.port, args.ready_timeout)
    except control.ServiceError as exc:
        print(f"demo_service {args.command} failed: {exc}", file=sys.stderr)
        return 1
    url = f"http://{control.HOST}:{args.port}"
    print(f"demo service running: pid {pid} on {url} (replaced {stopped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
