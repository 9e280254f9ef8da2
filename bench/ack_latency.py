"""Slash-command acknowledgement latency of ``rollback-bot serve`` beside a bare Bolt app.

Starts the real entry point (``python -m bot serve``) on a demo sandbox and the baseline
(``bench/minimal_app.py``: a bare ``slack_bolt.App`` whose ``/rollback`` listener only acks, in
the same ``SlackFrontDoor`` on the same ``create_http_server`` settings), each as its own process,
with the loopback Slack emulator in this process. Then, in alternating rounds, N sender threads
each send signed ``/rollback help`` commands back to back and time the HTTP round trip of each
request, i.e. the ack Slack waits for, not the reply the bot posts afterwards to response_url.

    .venv/bin/python bench/ack_latency.py --senders 20 --requests-per-sender 25 --warmup 20

Targets (from the issue): bot p99 under 100 ms with 20 concurrent senders, and bot p99 within
1.5x of the minimal app's. A missed target prints ``TARGET MISSED``; the exit code is still 0,
because this is a benchmark, not a test. Exit code 2 means the run itself broke (a server did
not start, or the time bound was hit) and the figures are partial or absent.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.local.demo.sandbox import build_sandbox, free_port
from bot.local.emulator import SlackEmulator, SlackSender

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import HOST, SIGNING_SECRET, BenchError, Server, percentile, server_env  # isort: skip

MINIMAL_APP = Path(__file__).resolve().with_name("minimal_app.py")
USER_ID = "U0ENG"
COMMAND, TEXT = "/rollback", "help"

P99_TARGET_MS = 100.0
RATIO_TARGET = 1.5
TARGET_SENDERS = 20

# Slack gives up on an ack after 3 s; 10 s only bounds a hung request, it is not a target.
REQUEST_TIMEOUT_S = 10.0
# How long to wait for the bot's response_url replies to land before the next phase.
DRAIN_TIMEOUT_S = 15.0
MAX_TOTAL_REQUESTS = 50_000

BOT, MINIMAL = "bot", "minimal"


# -- one round -----------------------------------------------------------------------------------


@dataclass
class SenderOutcome:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_acked: int = 0
    started: float | None = None
    finished: float | None = None
    cut_short: bool = False


@dataclass(frozen=True)
class RoundResult:
    app: str
    round: int
    latencies_s: list[float]
    errors: Counter[str]
    wall_s: float
    # Bot only: replies that reached response_url, of those its acks promised.
    replies: int | None = None
    expected_replies: int | None = None
    # Server CPU over the round (warm-up, measured phase and, for the bot, its replies), and
    # the acks it covers: CPU per request tells "more work" apart from "more waiting".
    server_cpu_s: float | None = None
    acked: int = 0
    cut_short: bool = False


def _send_one(sender: SlackSender) -> tuple[float | None, str | None]:
    """(latency, None) for a 200 ack, (None, why) otherwise."""
    try:
        sent = sender.slash_command(COMMAND, TEXT, user_id=USER_ID)
    except httpx.HTTPError as error:
        return None, type(error).__name__
    if sent.status != 200:
        return None, f"HTTP {sent.status}"
    return sent.elapsed_s, None


def _sender_loop(
    *,
    server: Server,
    emulator: SlackEmulator,
    warmups: int,
    requests: int,
    barrier: threading.Barrier,
    deadline: float,
    outcome: SenderOutcome,
) -> None:
    # One sender, hence one httpx.Client and one keep-alive connection, per thread: a shared
    # client would serialise the senders on its pool lock and measure that instead.
    with SlackSender(
        events_url=server.events_url,
        signing_secret=SIGNING_SECRET,
        emulator=emulator,
        timeout_s=REQUEST_TIMEOUT_S,
    ) as sender:
        # Warm-up opens this thread's connection and wakes the server's threads (each opens its
        # own SQLite connection on first use), so neither lands in the measured figures.
        for _ in range(warmups):
            if time.monotonic() > deadline:
                break
            latency, _why = _send_one(sender)
            outcome.warmup_acked += latency is not None
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            outcome.cut_short = True
            return
        outcome.started = time.perf_counter()
        for _ in range(requests):
            if time.monotonic() > deadline:
                outcome.cut_short = True
                break
            latency, why = _send_one(sender)
            if latency is not None:
                outcome.latencies_s.append(latency)
            else:
                outcome.errors[why or "unknown"] += 1
        outcome.finished = time.perf_counter()


def _reply_count(emulator: SlackEmulator) -> int:
    return sum(1 for m in emulator.messages() if m.via == "response_url")


def _wait_replies(emulator: SlackEmulator, version: int, count: int, deadline: float) -> None:
    # Each reply bumps the emulator's version once; watching that is far cheaper than copying
    # every recorded message on each wake-up, and the exact count is taken once afterwards.
    timeout = max(0.1, min(DRAIN_TIMEOUT_S, deadline - time.monotonic()))
    emulator.wait_for(lambda emu: emu.version >= version + count, timeout=timeout)


def run_round(
    server: Server,
    number: int,
    *,
    emulator: SlackEmulator,
    senders: int,
    per_sender: int,
    warmup: int,
    deadline: float,
) -> RoundResult:
    is_bot = server.name == BOT
    replies_before = _reply_count(emulator) if is_bot else 0
    version_before = emulator.version
    cpu_before = server.cpu_s()
    outcomes = [SenderOutcome() for _ in range(senders)]

    def settle() -> None:
        # Runs once, when the last sender finishes warming up: let the bot's warm-up replies
        # drain so the measured phase does not start with its listener threads still busy.
        if is_bot:
            _wait_replies(emulator, version_before, sum(o.warmup_acked for o in outcomes), deadline)

    barrier = threading.Barrier(
        senders, action=settle, timeout=max(1.0, deadline - time.monotonic())
    )
    # Warm-up requests are spread over the senders so they run concurrently, like the real load.
    threads = [
        threading.Thread(
            target=_sender_loop,
            name=f"sender-{i}",
            daemon=True,  # a hung request must not keep the process alive past the bound
            kwargs={
                "server": server,
                "emulator": emulator,
                "warmups": warmup // senders + (i < warmup % senders),
                "requests": per_sender,
                "barrier": barrier,
                "deadline": deadline,
                "outcome": outcome,
            },
        )
        for i, outcome in enumerate(outcomes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT_S)
    hung = any(thread.is_alive() for thread in threads)

    latencies = [latency for o in outcomes for latency in o.latencies_s]
    errors: Counter[str] = Counter()
    for o in outcomes:
        errors.update(o.errors)
    starts = [o.started for o in outcomes if o.started is not None]
    ends = [o.finished for o in outcomes if o.finished is not None]
    wall_s = max(ends) - min(starts) if starts and ends else 0.0

    replies = expected = None
    if is_bot:
        expected = sum(o.warmup_acked for o in outcomes) + len(latencies)
        _wait_replies(emulator, version_before, expected, deadline)
        replies = _reply_count(emulator) - replies_before
    cpu_after = server.cpu_s()
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return RoundResult(
        app=server.name,
        round=number,
        latencies_s=latencies,
        errors=errors,
        wall_s=wall_s,
        replies=replies,
        expected_replies=expected,
        server_cpu_s=cpu,
        acked=sum(o.warmup_acked for o in outcomes) + len(latencies),
        cut_short=hung or any(o.cut_short for o in outcomes),
    )


# -- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    n: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    per_s: float
    cpu_ms_per_req: float


def stats(results: Sequence[RoundResult]) -> Stats:
    ordered = sorted(latency for r in results for latency in r.latencies_s)
    wall_s = sum(r.wall_s for r in results)
    n = len(ordered)
    # CPU per acked request, warm-up included: the CPU figures cover the warm-up too.
    cpu = [r.server_cpu_s for r in results]
    acked = sum(r.acked for r in results)
    known = acked > 0 and all(c is not None for c in cpu)
    cpu_ms = sum(c or 0.0 for c in cpu) / acked * 1000 if known else math.nan
    return Stats(
        n=n,
        errors=sum(sum(r.errors.values()) for r in results),
        p50_ms=percentile(ordered, 50) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        max_ms=(ordered[-1] * 1000) if ordered else math.nan,
        mean_ms=(sum(ordered) / n * 1000) if n else math.nan,
        per_s=n / wall_s if wall_s > 0 else math.nan,
        cpu_ms_per_req=cpu_ms,
    )


def _verdict(met: bool) -> str:
    return "met" if met else "TARGET MISSED"


def _fmt(value: float, digits: int) -> str:
    # An app with no successful request has no figures; "nan" would read like a number.
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def report(results: Sequence[RoundResult], args: argparse.Namespace, *, judged: bool) -> list[str]:
    """The table and, unless the run broke (``judged`` false), the verdict on each target."""
    header = ("round", "app", "n", "err", "p50 ms", "p99 ms", "max ms", "mean ms", "req/s",
              "CPU ms/req", "replies")  # fmt: skip
    rows: list[tuple[str, ...]] = []

    def row(label: str, app: str, group: Sequence[RoundResult]) -> None:
        s = stats(group)
        replies = "-"
        if app == BOT:
            got = sum(r.replies or 0 for r in group)
            replies = f"{got}/{sum(r.expected_replies or 0 for r in group)}"
        figures = (s.p50_ms, s.p99_ms, s.max_ms, s.mean_ms)
        rows.append(
            (label, app, str(s.n), str(s.errors), *(_fmt(ms, 1) for ms in figures),
             _fmt(s.per_s, 0), _fmt(s.cpu_ms_per_req, 2), replies)
        )  # fmt: skip

    for r in results:
        row(str(r.round), r.app, [r])
    by_app = {app: [r for r in results if r.app == app] for app in (BOT, MINIMAL)}
    for app, group in by_app.items():
        row("all", app, group)

    widths = [max(len(cells[i]) for cells in (header, *rows)) for i in range(len(header))]
    left = {0, 1}  # text columns left-aligned, figures right-aligned

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i not in left else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"  # fmt: skip
    rounds = max((r.round for r in results), default=0)
    out = [
        f"ack latency of `{COMMAND} {TEXT}`: {args.senders} senders x {args.requests_per_sender} "
        f"requests per round, warm-up {args.warmup}, {rounds} round(s) per app in ABBA order, "
        f"keep-alive; {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "latency: HTTP round trip of each signed slash command (the ack), percentiles by nearest "
        "rank; CPU: server process CPU per ack, including the bot's work after it",
        "",
        line(header),
        rule,
        *(line(cells) for cells in rows),
        "",
    ]

    if not judged:
        out.append("targets not judged: the run broke, these figures are partial")
        return out
    bot, minimal = stats(by_app[BOT]), stats(by_app[MINIMAL])
    ratio = bot.p99_ms / minimal.p99_ms if minimal.p99_ms > 0 else math.nan
    per_round = []
    for number in range(1, rounds + 1):
        pair = {r.app: stats([r]) for r in results if r.round == number}
        if BOT in pair and MINIMAL in pair and pair[MINIMAL].p99_ms > 0:
            per_round.append(f"round {number}: {pair[BOT].p99_ms / pair[MINIMAL].p99_ms:.2f}x")
    out.append(f"bot p99 / minimal p99: {ratio:.2f}x ({', '.join(per_round) or 'no pairs'})")
    at = "" if args.senders == TARGET_SENDERS else f" (target is set at {TARGET_SENDERS} senders)"
    out.append(
        f"target bot p99 < {P99_TARGET_MS:.0f} ms{at}: "
        f"{_verdict(bot.p99_ms < P99_TARGET_MS)} ({_fmt(bot.p99_ms, 1)} ms)"
    )
    out.append(
        f"target bot p99 <= {RATIO_TARGET}x minimal p99: {_verdict(ratio <= RATIO_TARGET)} "
        f"({ratio:.3f}x)"
    )
    # A failed request is an ack Slack never got; no percentile can excuse it.
    out.append(
        f"no failed acks: {_verdict(bot.errors == 0)} (bot {bot.errors}, minimal {minimal.errors})"
    )
    for r in results:
        if r.errors:
            kinds = ", ".join(f"{why} x{count}" for why, count in r.errors.most_common())
            out.append(f"  round {r.round} {r.app} errors: {kinds}")
    return out


# -- the run -------------------------------------------------------------------------------------


def _positive(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"expected 1..{limit}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="ack latency of rollback-bot serve beside a bare Bolt app"
    )
    parser.add_argument("--senders", type=_positive(200), default=TARGET_SENDERS,
                        help="concurrent sender threads (default 20)")  # fmt: skip
    parser.add_argument("--requests-per-sender", type=_positive(2000), default=25,
                        help="measured requests per sender per round (default 25)")  # fmt: skip
    parser.add_argument("--warmup", type=int, default=20,
                        help="unmeasured requests per round, spread over the senders")  # fmt: skip
    parser.add_argument("--rounds", type=_positive(10), default=2,
                        help="rounds per app, alternating bot and minimal (default 2)")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="abort the whole run after this long (default 120)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.warmup <= 10_000:
        parser.error("--warmup: expected 0..10000")
    if not 0 < args.max_seconds <= 3600:
        parser.error("--max-seconds: expected a positive number up to 3600")
    total = 2 * args.rounds * (args.senders * args.requests_per_sender + args.warmup)
    if total > MAX_TOTAL_REQUESTS:
        parser.error(f"{total} requests in all; keep it under {MAX_TOTAL_REQUESTS}")

    deadline = time.monotonic() + args.max_seconds
    results: list[RoundResult] = []
    broke: str | None = None
    with tempfile.TemporaryDirectory(prefix="ack-latency-") as scratch, SlackEmulator() as emu:
        sandbox = build_sandbox(Path(scratch) / "sandbox")
        bot = Server(
            BOT,
            [sys.executable, "-m", "bot", "serve", "--config", str(sandbox.config_path),
             "--host", HOST, "--port", "{port}"],
            free_port(),
            Path(scratch) / "bot.log",
        )  # fmt: skip
        minimal = Server(
            MINIMAL,
            [sys.executable, str(MINIMAL_APP), "--host", HOST, "--port", "{port}"],
            free_port(),
            Path(scratch) / "minimal.log",
        )
        servers = (bot, minimal)
        for server in servers:
            server.argv = [a.replace("{port}", str(server.port)) for a in server.argv]
        try:
            env = server_env(emu)
            for server in servers:
                server.start(env)
            for server in servers:
                server.wait_healthy(deadline)
            for number in range(1, args.rounds + 1):
                # ABBA order (bot first, then minimal first, ...): a drift over the run, such
                # as a warming page cache or a growing database, then weighs on both alike.
                order = servers if number % 2 else servers[::-1]
                for server in order:
                    result = run_round(
                        server,
                        number,
                        emulator=emu,
                        senders=args.senders,
                        per_sender=args.requests_per_sender,
                        warmup=args.warmup,
                        deadline=deadline,
                    )
                    results.append(result)
                    if result.cut_short:
                        raise BenchError(f"time bound of {args.max_seconds:.0f} s hit")
        except BenchError as error:
            broke = str(error)
        finally:
            for server in servers:
                server.stop()
        warnings = {server.name: server.log_warnings() for server in servers}

    if results:
        print("\n".join(report(results, args, judged=broke is None)))
    for name, found in warnings.items():
        if found:
            shown = "; ".join(f"{text} x{count}" for text, count in found.most_common(3))
            print(f"{name} log: {sum(found.values())} warning/error line(s): {shown}")
    if broke is not None:
        print(f"ABORTED, the figures are partial or absent: {broke}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
