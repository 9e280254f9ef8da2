"""The App Home for a long migration: build and publish it for a store of --incidents incidents
(default 10,000) and --events timeline rows (default 200,000), beside an empty store.

Both stores sit beside the same demo sandbox (a real repository and its bare origin, so the
Home reads git as it does in production) and publish through the loopback Slack emulator. The
big store holds what a long migration leaves: a few open incidents, thousands closed or rolled
back with their post-mortems, a frozen phase, and the timeline. Each repetition publishes once
on each store, alternating which goes first; the first repetition warms caches and the
permalinks the Home keeps, and is not counted.

    .venv/bin/python bench/home.py --incidents 10000 --events 200000 --reps 20

Target: the big store's p50 under 100 ms, and its p50 at most 1.5x the empty store's (the
Home's reads are bounded, so the store's size must not show). A missed target prints
``TARGET MISSED``; the exit code is still 0. Exit code 2 means the run broke.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk import WebClient

from bot.config import StoreConfig, load_config
from bot.deps import Deps
from bot.local.demo.sandbox import build_sandbox
from bot.local.emulator import SlackEmulator
from bot.settings import Secret, SlackSettings, settings_from
from bot.slack.home import publish_home
from store import IncidentState, SqliteStore

# Run as a script, this folder is first on sys.path: the harness is a sibling module.
from harness import BenchError, bounded_int, percentile, print_ratio, run_in_temp_folder, timing_row  # isort: skip

TARGET_MS = 100.0
RATIO_TARGET = 1.5
USER = "U0LEAD"
OPEN_INCIDENTS = 12
_STATES = (IncidentState.CLOSED, IncidentState.RESOLVED, IncidentState.CLOSED)


def fill_store(path: Path, *, incidents: int, events: int, now: datetime) -> None:
    """Write a long migration's store straight into SQLite (the schema made by SqliteStore)."""
    SqliteStore(path).close()  # creates the schema
    db = sqlite3.connect(path)
    try:
        with db:
            db.executemany(
                "INSERT INTO incidents (id, scenario, severity, trigger, requester, channel, "
                "state, created_at, updated_at, message_ts, decision, from_sha, to_sha, "
                "target_ref, backup_branch, source, lesson) "
                "VALUES (?, ?, '5', ?, 'U0ENG', 'C0INCIDENTS', ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "'scenario', ?)",
                (_incident_row(i, incidents, now) for i in range(1, incidents + 1)),
            )
            db.executemany(
                "INSERT INTO postmortems (incident_id, channel, thread_ts, summary_ts, fields, "
                "impact, opened_at, updated_at) VALUES (?, 'C0INCIDENTS', ?, ?, ?, '[]', ?, ?)",
                (
                    (
                        i,
                        f"{1700000000 + i}.000100",
                        f"{1700000000 + i}.000200",
                        '{"x": "y"}',
                        _at(now, incidents - i),
                        _at(now, incidents - i),
                    )
                    for i in range(1, incidents + 1, 2)
                ),
            )
            db.execute(
                "INSERT INTO freezes (phase, incident_id, frozen_at, frozen_by) "
                "VALUES ('phase2', ?, ?, 'U0ORCH')",
                [incidents - OPEN_INCIDENTS, _at(now, 30)],
            )
            db.executemany(
                "INSERT INTO timeline (at, actor, surface, action, incident_id, details) "
                "VALUES (?, 'U0ENG', 'slack', 'thread_reply', ?, ?)",
                (
                    (_at(now, (events - n) // 60), 1 + n % incidents, '{"text": "a reply"}')
                    for n in range(events)
                ),
            )
    finally:
        db.close()


def _at(now: datetime, minutes_ago: int) -> str:
    return (now - timedelta(minutes=minutes_ago)).isoformat(timespec="microseconds")


def _incident_row(i: int, total: int, now: datetime) -> tuple[object, ...]:
    if i > total - OPEN_INCIDENTS:  # the newest: some waiting, a few rolled back and open
        state = IncidentState.AWAITING_APPROVAL if i % 3 else IncidentState.ROLLED_BACK
    else:
        state = _STATES[i % len(_STATES)]
    rolled = state in (IncidentState.CLOSED, IncidentState.ROLLED_BACK)
    at = _at(now, total - i)
    decision = json.dumps({"level": "critical", "rule": "severity-4-plus"})
    return (
        i,
        "critical",
        f"incident {i}: the deals API answers 500",
        state.value,
        at,
        at,
        f"{1700000000 + i}.000100",
        decision,
        "a" * 40 if rolled else None,
        "b" * 40 if rolled else None,
        "phase2-checkpoint-T+8h" if rolled else None,
        f"phase2-broken-{i}" if rolled else None,
        "added a test" if state is IncidentState.RESOLVED else None,
    )


def _deps(config_path: Path, store_path: Path, emulator: SlackEmulator) -> Deps:
    config = replace(load_config(config_path), store=StoreConfig(store_path))
    slack = SlackSettings(
        bot_token=Secret(emulator.bot_token),
        signing_secret=Secret("unused"),
        app_token=None,
        api_url=emulator.api_url,
    )
    settings = settings_from(config, slack, {})
    return Deps(settings, SqliteStore(store_path))


def _publish_once(deps: Deps, client: WebClient) -> float:
    began = time.perf_counter()
    if publish_home(deps, client, [USER]) != 1:
        raise BenchError("the App Home was not published")
    return time.perf_counter() - began


def run(args: argparse.Namespace, folder: Path) -> None:
    give_up = time.monotonic() + args.time_limit
    sandbox = build_sandbox(folder / "sandbox")
    now = datetime.now(UTC)
    started = time.perf_counter()
    fill_store(folder / "big.db", incidents=args.incidents, events=args.events, now=now)
    SqliteStore(folder / "empty.db").close()
    print(f"filled the big store in {time.perf_counter() - started:.1f} s")
    with SlackEmulator() as emulator:
        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
        stores = {
            "big": _deps(sandbox.config_path, folder / "big.db", emulator),
            "empty": _deps(sandbox.config_path, folder / "empty.db", emulator),
        }
        times: dict[str, list[float]] = {"big": [], "empty": []}
        try:
            for rep in range(args.reps + 1):
                order = list(stores.items()) if rep % 2 == 0 else list(stores.items())[::-1]
                for label, deps in order:
                    if time.monotonic() > give_up:
                        raise BenchError(f"--time-limit ran out after {rep} reps")
                    elapsed = _publish_once(deps, client)
                    if rep:
                        times[label].append(elapsed)
        finally:
            for deps in stores.values():
                deps.close()
        blocks = len((emulator.home_view(USER) or {}).get("blocks", []))
    print(f"App Home build + views.publish ({args.reps} reps, alternating; {blocks} blocks):")
    big = f"{args.incidents} incidents, {args.events} timeline rows"
    print(timing_row(f"ours: {big}", times["big"], width=52))
    print(timing_row("baseline: the same Home on an empty store", times["empty"], width=52))
    p50_ms = percentile(sorted(times["big"]), 50) * 1000
    verdict = "met" if p50_ms < TARGET_MS else "TARGET MISSED"
    print(f"big store p50: {p50_ms:.1f} ms; target: under {TARGET_MS:g} ms: {verdict}")
    print_ratio(
        what="big store",
        ours=times["big"],
        baseline=times["empty"],
        target=RATIO_TARGET,
        baseline_name="empty store",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=bounded_int(20, 1_000_000), default=10_000)
    parser.add_argument("--events", type=bounded_int(0, 10_000_000), default=200_000)
    parser.add_argument("--reps", type=bounded_int(1, 1000), default=20)
    parser.add_argument("--time-limit", type=bounded_int(10, 3600), default=600)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary folder")
    args = parser.parse_args(argv)
    print(
        f"home bench: {args.incidents} incidents, {args.events} timeline rows, {args.reps} reps; "
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{platform.machine()}"
    )
    return run_in_temp_folder("home-bench-", args.dir, lambda folder: run(args, folder))


if __name__ == "__main__":
    sys.exit(main())
