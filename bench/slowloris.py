"""Slowloris: ``/healthz`` and signed-command latency of ``rollback-bot serve`` while idle
half-sent connections are held open, beside the same server with none, in the same run.

Starts the real entry point (``python -m bot serve``) on a demo sandbox, with the loopback Slack
emulator in this process. In alternating rounds (ABBA: baseline, loaded, loaded, baseline, ...)
it sends --requests ``GET /healthz`` and as many signed ``/rollback help`` commands, one after
the other, each on a fresh connection as a new Slack client would open. In a loaded phase
--idle sockets first send the start of a request (request line and some headers) and then go
silent; a watcher thread replaces each one the server closes, as a slowloris client keeps its
count up. A last phase opens --idle more and, without replacing them, times how long the
server keeps each one.

    .venv/bin/python bench/slowloris.py --idle 250 --requests 50 --rounds 2

Targets: every request answered, and loaded p99 under Slack's 3 s ack window. A missed target
prints ``TARGET MISSED``; the exit code is still 0, because this is a benchmark, not a test.
Exit code 2 means the run itself broke (the server did not start, or the time bound was hit)
and the figures are partial or absent.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import selectors
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from bot.local.demo.sandbox import build_sandbox, free_port
from bot.local.emulator import SlackEmulator, SlackSender

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import HOST, SIGNING_SECRET, BenchError, Server, bounded_int, percentile, server_env  # isort: skip

USER_ID = "U0ENG"
COMMAND, TEXT = "/rollback", "help"
HEALTHZ, SIGNED = "healthz", "command"
BASELINE, LOADED = "baseline", "loaded"

SLACK_ACK_WINDOW_MS = 3000.0
# Only bounds a hung request (the old limits held one up for up to a minute); not a target.
REQUEST_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 15.0
# The lifetime phase waits at most this long for the server to close the idle connections.
LIFETIME_BOUND_S = 60.0
FD_HEADROOM = 64  # this process's own files beside the idle sockets

HALF_SENT = (
    b"POST /slack/events HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"X-Slack-Request-Timestamp: 17"
)


# -- the idle connections ------------------------------------------------------------------------


class IdleHolder:
    """Holds ``count`` half-sent connections, watched by a thread of its own.

    Each one the server closes is recorded with how long it lived (since its last byte) and,
    while ``reopen`` is set, replaced at once.
    """

    def __init__(self, port: int, count: int, *, deadline: float, reopen: bool) -> None:
        self._port = port
        self._count = count
        self._deadline = deadline
        self.reopen = reopen
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="idle-holder", daemon=True)
        self.lifetimes_s: list[float] = []
        self.answered = 0  # closed with an answer (e.g. a 400), not silently
        self.open_errors: Counter[str] = Counter()

    def __enter__(self) -> IdleHolder:
        # All of them before any measurement: the load is there from the first request on.
        for _ in range(self._count):
            self._open_one()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    def held(self) -> int:
        return len(self._selector.get_map())

    def wait_all_closed(self, timeout_s: float) -> bool:
        """Stop replacing, and wait (bounded) until the server has closed every one."""
        self.reopen = False
        give_up = min(self._deadline, time.monotonic() + timeout_s)
        while self.held() and time.monotonic() < give_up:
            self._stop.wait(0.05)
        return self.held() == 0

    def _open_one(self) -> None:
        try:
            sock = socket.create_connection((HOST, self._port), timeout=CONNECT_TIMEOUT_S)
        except OSError as error:
            self.open_errors[type(error).__name__] += 1
            return
        try:
            sock.sendall(HALF_SENT)
        except OSError as error:
            self.open_errors[type(error).__name__] += 1
            sock.close()
            return
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, time.monotonic())

    def _watch(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            for key, _events in self._selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.answered += bool(data)
                self._selector.unregister(sock)
                sock.close()
                self.lifetimes_s.append(time.monotonic() - key.data)
                if self.reopen and not self._stop.is_set():
                    self._open_one()


# -- one phase -----------------------------------------------------------------------------------


@dataclass
class Phase:
    round: int
    name: str
    idle: int
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: {HEALTHZ: [], SIGNED: []})
    errors: Counter[str] = field(default_factory=Counter)
    held_at_end: int = 0
    reaped: int = 0
    expected_replies: int = 0
    replies: int = 0
    cut_short: bool = False


def _reply_count(emulator: SlackEmulator) -> int:
    return sum(1 for m in emulator.messages() if m.via == "response_url")


def _send_requests(
    server: Server, emulator: SlackEmulator, phase: Phase, count: int, deadline: float
) -> None:
    # "Connection: close" on every request: each one connects afresh, as a new Slack client
    # does, so what the idle connections cost the accept path is in the figures.
    with httpx.Client(timeout=REQUEST_TIMEOUT_S, headers={"Connection": "close"}) as client:
        sender = SlackSender(
            events_url=server.events_url,
            signing_secret=SIGNING_SECRET,
            emulator=emulator,
            client=client,
        )
        for _ in range(count):
            if time.monotonic() > deadline:
                phase.cut_short = True
                return
            started = time.perf_counter()
            try:
                status = client.get(server.base_url + "/healthz").status_code
            except httpx.HTTPError as error:
                phase.errors[f"{HEALTHZ} {type(error).__name__}"] += 1
            else:
                if status == 200:
                    phase.latencies_s[HEALTHZ].append(time.perf_counter() - started)
                else:
                    phase.errors[f"{HEALTHZ} HTTP {status}"] += 1
            try:
                sent = sender.slash_command(COMMAND, TEXT, user_id=USER_ID)
            except httpx.HTTPError as error:
                phase.errors[f"{SIGNED} {type(error).__name__}"] += 1
                continue
            if sent.status == 200:
                phase.latencies_s[SIGNED].append(sent.elapsed_s)
                phase.expected_replies += 1
            else:
                phase.errors[f"{SIGNED} HTTP {sent.status}"] += 1


def run_phase(
    server: Server,
    emulator: SlackEmulator,
    *,
    number: int,
    idle: int,
    requests: int,
    deadline: float,
) -> Phase:
    phase = Phase(round=number, name=LOADED if idle else BASELINE, idle=idle)
    before = emulator.version
    replies_before = _reply_count(emulator)
    if idle:
        with IdleHolder(server.port, idle, deadline=deadline, reopen=True) as holder:
            _send_requests(server, emulator, phase, requests, deadline)
            phase.held_at_end = holder.held()
            phase.reaped = len(holder.lifetimes_s)
            phase.errors.update({f"idle {k}": v for k, v in holder.open_errors.items()})
    else:
        _send_requests(server, emulator, phase, requests, deadline)
    # Each reply bumps the emulator's version; wait for them so the next phase starts quiet.
    timeout = max(0.1, min(DRAIN_TIMEOUT_S, deadline - time.monotonic()))
    emulator.wait_for(lambda e: e.version >= before + phase.expected_replies, timeout=timeout)
    phase.replies = _reply_count(emulator) - replies_before
    return phase


@dataclass(frozen=True)
class Lifetimes:
    asked: int
    lifetimes_s: list[float]
    still_open: int
    answered: int


def measure_lifetimes(server: Server, idle: int, deadline: float) -> Lifetimes:
    with IdleHolder(server.port, idle, deadline=deadline, reopen=False) as holder:
        holder.wait_all_closed(LIFETIME_BOUND_S)
        return Lifetimes(
            asked=idle,
            lifetimes_s=sorted(holder.lifetimes_s),
            still_open=holder.held(),
            answered=holder.answered,
        )


# -- figures -------------------------------------------------------------------------------------


def _ms(values: Sequence[float], p: float) -> float:
    return percentile(sorted(values), p) * 1000


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _ratio(loaded: float, baseline: float) -> str:
    return "-" if math.isnan(loaded) or not baseline > 0 else f"{loaded / baseline:.2f}x"


def _pooled(phases: Sequence[Phase], name: str, kind: str) -> list[float]:
    return [latency for p in phases if p.name == name for latency in p.latencies_s[kind]]


def _errors(phases: Sequence[Phase], name: str | None = None, kind: str = "") -> int:
    return sum(
        count
        for p in phases
        if name is None or p.name == name
        for why, count in p.errors.items()
        if why.startswith(kind)
    )


def report(
    phases: Sequence[Phase],
    lifetimes: Lifetimes | None,
    args: argparse.Namespace,
    *,
    open_files: str,
    judged: bool,
) -> list[str]:
    header = ("round", "phase", "idle", "request", "n", "err", "p50 ms", "p99 ms", "max ms")
    rows: list[tuple[str, ...]] = []

    def row(label: str, name: str, idle: str, kind: str, values: list[float], errors: int) -> None:
        rows.append(
            (label, name, idle, kind, str(len(values)), str(errors),
             _fmt(_ms(values, 50)), _fmt(_ms(values, 99)), _fmt(_ms(values, 100)))
        )  # fmt: skip

    for p in phases:
        for kind in (HEALTHZ, SIGNED):
            row(str(p.round), p.name, str(p.idle), kind, p.latencies_s[kind],
                _errors([p], kind=kind))  # fmt: skip
    for name, idle in ((BASELINE, 0), (LOADED, args.idle)):
        for kind in (HEALTHZ, SIGNED):
            row("all", name, str(idle), kind, _pooled(phases, name, kind),
                _errors(phases, name, kind))  # fmt: skip

    widths = [max(len(cells[i]) for cells in (header, *rows)) for i in range(len(header))]
    left = {0, 1, 3}

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i not in left else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"  # fmt: skip
    out = [
        f"slowloris: `GET /healthz` and signed `{COMMAND} {TEXT}`, {args.requests} of each per "
        f"phase, each on a fresh connection; loaded phases hold {args.idle} idle half-sent "
        f"connections; {args.rounds} round(s) in ABBA order; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; server open-files limit {open_files}",
        "latency: HTTP round trip (connect included), percentiles by nearest rank",
        "",
        line(header),
        rule,
        *(line(cells) for cells in rows),
        "",
    ]
    for kind in (HEALTHZ, SIGNED):
        base, loaded = _pooled(phases, BASELINE, kind), _pooled(phases, LOADED, kind)
        out.append(
            f"{kind} loaded / baseline: p50 {_ratio(_ms(loaded, 50), _ms(base, 50))}, "
            f"p99 {_ratio(_ms(loaded, 99), _ms(base, 99))}"
        )
    loaded_phases = [p for p in phases if p.name == LOADED]
    out.append(
        "idle connections held at the end of each loaded phase: "
        + ", ".join(f"{p.held_at_end}/{p.idle}" for p in loaded_phases)
        + f"; closed by the server and replaced meanwhile: {sum(p.reaped for p in loaded_phases)}"
    )
    replies = sum(p.replies for p in phases)
    out.append(
        f"command replies at response_url: {replies}/{sum(p.expected_replies for p in phases)}"
    )
    if lifetimes is not None:
        life = lifetimes.lifetimes_s
        out.append(
            f"idle half-sent connection lifetime (from its last byte to the server's close): "
            f"p50 {_fmt(percentile(life, 50), 2)} s, max {_fmt(percentile(life, 100), 2)} s; "
            f"{len(life)}/{lifetimes.asked} closed within {LIFETIME_BOUND_S:.0f} s, "
            f"{lifetimes.answered} with an answer"
        )
    out.append("")
    if not judged:
        out.append("targets not judged: the run broke, these figures are partial")
        return out
    failed = _errors(phases)
    out.append(f"every request answered: {_verdict(failed == 0)} ({failed} failed)")
    for p in phases:
        if p.errors:
            kinds = ", ".join(f"{why} x{count}" for why, count in p.errors.most_common())
            out.append(f"  round {p.round} {p.name} errors: {kinds}")
    worst = max(_ms(_pooled(phases, LOADED, kind), 99) for kind in (HEALTHZ, SIGNED))
    out.append(
        f"loaded p99 < {SLACK_ACK_WINDOW_MS:.0f} ms (Slack's ack window): "
        f"{_verdict(worst < SLACK_ACK_WINDOW_MS)} ({_fmt(worst)} ms)"
    )
    return out


def _verdict(met: bool) -> str:
    return "met" if met else "TARGET MISSED"


def _open_files_limit(server: Server) -> str:
    """The server's soft RLIMIT_NOFILE, from /proc ("?" elsewhere)."""
    if server.process is None:
        return "?"
    try:
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
    except OSError:
        return "?"
    for row in limits.splitlines():
        if row.startswith("Max open files"):
            return row.split()[3]
    return "?"


# -- the run -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=bounded_int(1, 5000), default=250,
                        help="half-sent connections per loaded phase (default 250)")  # fmt: skip
    parser.add_argument("--requests", type=bounded_int(1, 2000), default=50,
                        help="requests of each kind per phase (default 50)")  # fmt: skip
    parser.add_argument("--warmup", type=bounded_int(0, 200), default=5,
                        help="unmeasured requests of each kind before the first round")  # fmt: skip
    parser.add_argument("--rounds", type=bounded_int(1, 10), default=2,
                        help="rounds, each a baseline and a loaded phase (default 2)")  # fmt: skip
    parser.add_argument("--no-lifetime", action="store_true",
                        help="skip the last phase, which times how long they live")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=240.0,
                        help="abort the whole run after this long (default 240)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 < args.max_seconds <= 3600:
        parser.error("--max-seconds: expected a positive number up to 3600")
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < args.idle + FD_HEADROOM:
        parser.error(f"--idle {args.idle} needs an open-files limit of at least "
                     f"{args.idle + FD_HEADROOM} here (ulimit -n is {soft})")  # fmt: skip

    deadline = time.monotonic() + args.max_seconds
    phases: list[Phase] = []
    lifetimes: Lifetimes | None = None
    open_files = "?"
    broke: str | None = None
    with tempfile.TemporaryDirectory(prefix="slowloris-") as scratch, SlackEmulator() as emu:
        sandbox = build_sandbox(Path(scratch) / "sandbox")
        port = free_port()
        server = Server(
            "bot",
            [sys.executable, "-m", "bot", "serve", "--config", str(sandbox.config_path),
             "--host", HOST, "--port", str(port)],
            port,
            Path(scratch) / "bot.log",
        )  # fmt: skip
        try:
            server.start(server_env(emu))
            server.wait_healthy(deadline)
            open_files = _open_files_limit(server)
            if args.warmup:
                # Wakes the server's threads (each opens its own SQLite connection on first use).
                run_phase(server, emu, number=0, idle=0, requests=args.warmup, deadline=deadline)
            for number in range(1, args.rounds + 1):
                # ABBA order: a drift over the run (a growing store, a warming cache) weighs on
                # the baseline and the loaded phases alike.
                order = (0, args.idle) if number % 2 else (args.idle, 0)
                for idle in order:
                    phase = run_phase(
                        server,
                        emu,
                        number=number,
                        idle=idle,
                        requests=args.requests,
                        deadline=deadline,
                    )
                    phases.append(phase)
                    if phase.cut_short:
                        raise BenchError(f"time bound of {args.max_seconds:.0f} s hit")
            if not args.no_lifetime:
                lifetimes = measure_lifetimes(server, args.idle, deadline)
        except BenchError as error:
            broke = str(error)
        finally:
            server.stop()
        warnings = server.log_warnings()

    if phases:
        print("\n".join(report(phases, lifetimes, args, open_files=open_files,
                               judged=broke is None)))  # fmt: skip
    if warnings:
        shown = "; ".join(f"{text} x{count}" for text, count in warnings.most_common(3))
        print(f"bot log: {sum(warnings.values())} warning/error line(s): {shown}")
    if broke is not None:
        print(f"ABORTED, the figures are partial or absent: {broke}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
