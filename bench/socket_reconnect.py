"""How each synchronous Socket Mode client recovers from a broken link, beside slack_sdk's built-in.

Each candidate runs as its own process: a bare ``slack_bolt.App`` whose ``/rollback`` listener
only acks, connected through one Socket Mode client, against the loopback Slack emulator in this
process. The emulator's Socket Mode endpoint sits behind a relay that can break the link, and
each candidate gets, in turn:

- **refresh**: Slack's ``disconnect`` / ``refresh_requested``, then one envelope at each of
  ``REFRESH_OFFSETS_MS`` after it (a refresh per envelope); each ack's latency is timed, and an
  envelope never acked counts as ``ENVELOPE_TIMEOUT_S`` (Slack gives up after 3 s);
- **drop**: every connection cut at the TCP level, with no close frame; the time until an
  envelope is acked again, and the CPU seconds the process spent meanwhile;
- **half-open**: every connection made silent (nothing more gets through, neither end is told);
  the time until an envelope is acked again, within ``--half-open-bound-s``.

    .venv/bin/python bench/socket_reconnect.py              # all four, about 8 minutes
    .venv/bin/python bench/socket_reconnect.py --clients builtin-tuned bot --drops 1

Candidates: ``builtin`` (slack_bolt's default ``SocketModeHandler`` on slack_sdk's built-in
client, as the bot had it: the baseline), ``builtin-tuned`` (the same client pinging every 2 s,
so that its stale check, 4 pings without a pong, fires after 8 s: inside the 10 s target on
paper), ``websocket-client`` (slack_bolt's websocket-client adapter with its defaults; its only
setting that bears on this, ``ping_interval``, cannot help with a half-open link, as the SDK
gives websocket-client no pong timeout) and ``bot`` (``bot.socket_mode.serve_socket_mode``,
what ``rollback-bot serve`` runs). The async clients need an ``AsyncApp`` and are left out: the
bot's app is a synchronous ``App``.

Targets (from the issue): a dropped or half-open link replaced within 10 s, and acks after a
refresh well within 3 s. A missed target prints ``TARGET MISSED``; the exit code is still 0,
because this is a benchmark, not a test. Exit code 2 means the run itself broke.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, Server, bounded_int, percentile, server_env  # isort: skip

from bot.local.emulator import SlackEmulator

APP_TOKEN = "xapp-1-A0BENCH-socket-reconnect-bench-secret"
BASELINE = "builtin"
CANDIDATES = ("builtin", "builtin-tuned", "websocket-client", "bot")
TUNED_PING_S = 2.0

RECONNECT_TARGET_S = 10.0
ACK_TARGET_S = 3.0
# An envelope without an ack after this long is lost; the figure it counts as.
ENVELOPE_TIMEOUT_S = 5.0
# How long one probe waits for its ack before the next is sent, while waiting for recovery.
PROBE_TIMEOUT_S = 1.0
# When, after each refresh, its one envelope is sent: the first moments are when a client is
# between connections; one envelope at a time, as a ChatOps bot's traffic mostly comes.
REFRESH_OFFSETS_MS = (0, 25, 50, 100, 200, 400, 800, 1600)
START_TIMEOUT_S = 30.0
DROP_BOUND_S = 90.0


# -- the candidate process -------------------------------------------------------------------------


def _bare_app() -> object:
    from slack_bolt import Ack, App
    from slack_sdk import WebClient

    app = App(
        client=WebClient(
            token=os.environ["SLACK_BOT_TOKEN"],
            base_url=os.environ.get("SLACK_API_URL") or WebClient.BASE_URL,
        ),
        # Socket Mode has no request signatures; Bolt still wants the argument.
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    )

    @app.command("/rollback")
    def ack_only(ack: Ack) -> None:
        ack()

    return app


def run_candidate(name: str) -> int:
    """The child process: serve the bare app over Socket Mode with ``name`` until SIGTERM."""
    import logging

    from bot.logs import configure_logging
    from bot.settings import Secret

    token = os.environ["SLACK_APP_TOKEN"]
    configure_logging(secrets=(token, os.environ["SLACK_BOT_TOKEN"]))
    app: Any = _bare_app()
    stop = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    if name == "bot":
        from bot.socket_mode import serve_socket_mode

        serve_socket_mode(app, Secret(token), stop=stop)
        return 0
    logger = logging.getLogger(f"bench.{name}")
    handler: Any
    if name == "websocket-client":
        from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler as WsHandler

        handler = WsHandler(app, token, logger=logger)
    elif name == "builtin-tuned":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, token, logger=logger, ping_interval=TUNED_PING_S)
    else:  # Bolt's defaults, as the bot had them
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, token, logger=logger)
    handler.connect()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handler.close()
    return 0


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    refresh_acks_s: list[float] = field(default_factory=list)
    refresh_lost: int = 0
    drop_recovery_s: list[float] = field(default_factory=list)
    drop_cpu_s: list[float] = field(default_factory=list)
    drop_failed: int = 0
    half_open_recovery_s: list[float] = field(default_factory=list)
    half_open_cpu_s: list[float] = field(default_factory=list)
    half_open_failed: int = 0
    warnings: int = 0


def _probe(emulator: SlackEmulator, timeout: float) -> bool:
    endpoint = emulator.socket_mode
    try:
        ack = endpoint.send("slash_commands", _probe_payload(), timeout=timeout)
    except RuntimeError:  # no connection open right now
        return False
    return ack is not None


def _probe_payload() -> dict[str, str]:
    return {"command": "/rollback", "text": "help", "user_id": "U0ENG", "team_id": "T0EMU",
            "channel_id": "C0INCIDENTS", "api_app_id": "A0ROLLBACK"}  # fmt: skip


def _wait_recovered(emulator: SlackEmulator, opened_before: int, bound_s: float) -> float | None:
    """Seconds from now until a connection opened after ``opened_before`` acks an envelope."""
    start = time.monotonic()
    give_up = start + bound_s
    endpoint = emulator.socket_mode
    while True:
        left = give_up - time.monotonic()
        if left <= 0:
            return None
        if endpoint.wait_opened(opened_before + 1, timeout=left) is None:
            return None
        if _probe(emulator, min(PROBE_TIMEOUT_S, max(0.05, give_up - time.monotonic()))):
            return time.monotonic() - start


def _break_and_recover(
    server: Server, emulator: SlackEmulator, breaker: Callable[[], int], bound_s: float
) -> tuple[float | None, float | None]:
    endpoint = emulator.socket_mode
    opened = endpoint.opened_count
    cpu_before = server.cpu_s()
    if breaker() == 0:
        raise BenchError(f"{server.name}: no connection was open to break")
    recovered = _wait_recovered(emulator, opened, bound_s)
    cpu_after = server.cpu_s()
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return recovered, cpu


def _refresh_round(emulator: SlackEmulator, offset_s: float, outcome: Outcome) -> None:
    """One refresh, then one envelope ``offset_s`` later: its ack latency, or a loss."""
    endpoint = emulator.socket_mode
    opened = endpoint.opened_count
    if endpoint.request_refresh() == 0:
        raise BenchError(f"{outcome.name}: no connection was open to refresh")
    time.sleep(offset_s)
    started = time.perf_counter()
    try:
        ack = endpoint.send("slash_commands", _probe_payload(), timeout=ENVELOPE_TIMEOUT_S)
    except RuntimeError:  # no connection open at all: Slack could not deliver it in time
        ack = None
    if ack is None:
        outcome.refresh_lost += 1
        outcome.refresh_acks_s.append(ENVELOPE_TIMEOUT_S)
    else:
        outcome.refresh_acks_s.append(time.perf_counter() - started)
    # Settle before the next round: the replacement connection must be there and working.
    if _wait_recovered(emulator, opened, DROP_BOUND_S) is None:
        raise BenchError(f"{outcome.name}: no working connection after a refresh")


def measure(name: str, scratch: Path, args: argparse.Namespace, deadline: float) -> Outcome:
    outcome = Outcome(name)
    with SlackEmulator(app_token=APP_TOKEN) as emulator:
        env = server_env(emulator)
        env["SLACK_APP_TOKEN"] = APP_TOKEN
        server = Server(
            name,
            [sys.executable, str(Path(__file__).resolve()), "--candidate", name],
            0,
            scratch / f"{name}.log",
        )
        server.start(env)
        try:
            if not emulator.wait_for(
                lambda e: bool(e.calls("apps.connections.open")), timeout=START_TIMEOUT_S
            ):
                raise BenchError(f"{name} never asked for a connection:\n{server.log_tail()}")
            if _wait_recovered(emulator, 0, START_TIMEOUT_S) is None:
                raise BenchError(f"{name} never acked an envelope:\n{server.log_tail()}")
            for _ in range(args.refreshes):
                for offset_ms in REFRESH_OFFSETS_MS:
                    _check_time(deadline)
                    _refresh_round(emulator, offset_ms / 1000, outcome)
            for _ in range(args.drops):
                _check_time(deadline)
                took, cpu = _break_and_recover(
                    server, emulator, emulator.socket_mode.drop_connections, DROP_BOUND_S
                )
                if took is None:
                    # Not back: there is no connection left to measure anything else on.
                    outcome.drop_failed += 1
                    break
                outcome.drop_recovery_s.append(took)
                outcome.drop_cpu_s.append(cpu if cpu is not None else math.nan)
            for _ in range(args.half_opens if not outcome.drop_failed else 0):
                _check_time(deadline)
                took, cpu = _break_and_recover(
                    server, emulator, emulator.socket_mode.go_silent, args.half_open_bound_s
                )
                if took is None:
                    # Never noticed: there is nothing left to measure on this candidate.
                    outcome.half_open_failed += 1
                    break
                outcome.half_open_recovery_s.append(took)
                outcome.half_open_cpu_s.append(cpu if cpu is not None else math.nan)
        finally:
            server.stop()
        outcome.warnings = sum(server.log_warnings().values())
        log_text = server.log_path.read_text(encoding="utf-8", errors="replace")
        if APP_TOKEN in log_text:
            raise BenchError(f"{name} logged the app-level token")
    return outcome


def _check_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise BenchError("time bound hit")


# -- figures -------------------------------------------------------------------------------------


def _ms(values: Sequence[float], p: float) -> float:
    return percentile(sorted(values), p) * 1000 if values else math.nan


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _fmt(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _ratio(ours: float, baseline: float) -> str:
    if not (math.isfinite(ours) and math.isfinite(baseline)) or baseline == 0:
        return "-"
    return f"{ours / baseline:.2f}x"


HEADER = ("client", "drop: reconnect s", "ratio", "CPU s", "ratio", "CPU/s", "refresh: p50 ms",
          "ratio", "p99 ms", "ratio", "lost", "half-open: reconnect s", "ratio",
          "log warn")  # fmt: skip


def _row(o: Outcome, base: Outcome | None, args: argparse.Namespace) -> tuple[str, ...]:
    def figures(of: Outcome) -> tuple[float, float, float, float, float]:
        return (math.inf if of.drop_failed else _mean(of.drop_recovery_s), _mean(of.drop_cpu_s),
                _ms(of.refresh_acks_s, 50), _ms(of.refresh_acks_s, 99),
                math.inf if of.half_open_failed else _mean(of.half_open_recovery_s))  # fmt: skip

    reconnect, cpu, p50, p99, half = figures(o)
    b = figures(base) if base else (math.nan,) * 5
    half_text = f"> {args.half_open_bound_s:.0f}" if o.half_open_failed else _fmt(half, 2)
    drop_text = f"> {DROP_BOUND_S:.0f}" if o.drop_failed else _fmt(reconnect, 2)
    return (o.name, drop_text, _ratio(reconnect, b[0]), _fmt(cpu, 2), _ratio(cpu, b[1]),
            _fmt(cpu / reconnect if reconnect else math.nan, 2), _fmt(p50, 1), _ratio(p50, b[2]),
            _fmt(p99, 1), _ratio(p99, b[3]), f"{o.refresh_lost}/{len(o.refresh_acks_s)}",
            half_text, _ratio(half, b[4]), str(o.warnings))  # fmt: skip


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cells[i]) for cells in (HEADER, *rows)) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return [line(HEADER), rule, *(line(cells) for cells in rows)]


def _verdict(o: Outcome) -> str:
    worst_drop = math.inf if o.drop_failed else max(o.drop_recovery_s, default=math.nan)
    worst_half = math.inf if o.half_open_failed else max(o.half_open_recovery_s, default=math.nan)
    p99 = _ms(o.refresh_acks_s, 99) / 1000
    met = (worst_drop < RECONNECT_TARGET_S and worst_half < RECONNECT_TARGET_S
           and p99 < ACK_TARGET_S and o.refresh_lost == 0)  # fmt: skip
    return (
        f"target {o.name}: reconnect < {RECONNECT_TARGET_S:.0f} s (worst drop "
        f"{_fmt(worst_drop, 2)} s, half-open {_fmt(worst_half, 2)} s), refresh ack p99 "
        f"< {ACK_TARGET_S:.0f} s ({_fmt(p99, 3)} s), none lost: "
        + ("met" if met else "TARGET MISSED")
    )


def report(outcomes: Sequence[Outcome], args: argparse.Namespace) -> list[str]:
    base = next((o for o in outcomes if o.name == BASELINE), None)
    out = [
        f"Socket Mode recovery: {args.drops} drop(s), {args.refreshes} x "
        f"{len(REFRESH_OFFSETS_MS)} refreshes (one envelope each, "
        f"{'/'.join(map(str, REFRESH_OFFSETS_MS))} ms after), "
        f"{args.half_opens} half-open link(s); {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "reconnect: from the break to the first acked envelope, mean; CPU: the client process "
        "meanwhile (CPU/s: cores kept busy); refresh: ack latency, nearest rank, a lost "
        f"envelope counted as {ENVELOPE_TIMEOUT_S:g} s; ratios against {BASELINE}",
        "",
        *_table([_row(o, base, args) for o in outcomes]),
        "",
    ]
    for o in outcomes:
        drops = ", ".join(f"{s:.2f}" for s in o.drop_recovery_s) or "-"
        halves = ", ".join(f"{s:.2f}" for s in o.half_open_recovery_s) or "-"
        half_cpu = ", ".join(f"{s:.2f}" for s in o.half_open_cpu_s) or "-"
        out.append(
            f"{o.name}: drop reconnects {drops} s; half-open reconnects {halves} s "
            f"(CPU {half_cpu} s)"
        )
    out += ["", *(_verdict(o) for o in outcomes)]
    return out


# -- the run -------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Socket Mode clients' recovery, side by side")
    parser.add_argument("--candidate", choices=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument("--clients", nargs="+", choices=CANDIDATES, default=list(CANDIDATES),
                        help="which candidates to run (default: all)")  # fmt: skip
    parser.add_argument("--drops", type=bounded_int(1, 20), default=2,
                        help="abrupt drops per client (default 2)")  # fmt: skip
    parser.add_argument("--refreshes", type=bounded_int(1, 20), default=2,
                        help="rounds of refreshes per client (default 2)")  # fmt: skip
    parser.add_argument("--half-opens", type=bounded_int(0, 10), default=1,
                        help="half-open links per client (default 1)")  # fmt: skip
    parser.add_argument("--half-open-bound-s", type=float, default=60.0,
                        help="half-open recovery bound (default 60)")  # fmt: skip
    parser.add_argument("--log-dir", type=Path,
                        help="keep each candidate's log here (default: a temp folder)")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="abort the whole run after this long (default 900)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.candidate:
        return run_candidate(args.candidate)
    if not 1 <= args.half_open_bound_s <= 300:
        parser.error("--half-open-bound-s: expected 1..300")
    if not 0 < args.max_seconds <= 3600:
        parser.error("--max-seconds: expected a positive number up to 3600")
    deadline = time.monotonic() + args.max_seconds
    outcomes: list[Outcome] = []
    broke: str | None = None
    with tempfile.TemporaryDirectory(prefix="socket-reconnect-") as scratch:
        logs = args.log_dir or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        try:
            for name in args.clients:
                outcomes.append(measure(name, logs, args, deadline))
        except BenchError as error:
            broke = str(error)
    if outcomes:
        print("\n".join(report(outcomes, args)))
    if broke is not None:
        print(f"ABORTED, the figures are partial or absent: {broke}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
