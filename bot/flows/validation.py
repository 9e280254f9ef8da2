"""The procedure's "Rollback validation checklist", built from the config, run and recorded.

Six items: the server starts (or, without a restart, answers), database queries work, critical
endpoints respond (2xx, under the slow threshold), the frontend loads, critical user flows pass,
and no new ERROR lines in the log. The restart runs first; the middle four run concurrently,
each with its own timeout, the group bounded; the log is scanned last, so ERROR lines that the
checks' own requests provoke count against this run, not the next. When it fails, diagnostics
follow: slow queries and the phase's migrations, as the procedure's scenarios 4 and 5 ask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from actions.checks.app_migrations import compare_migrations, migrations_check
from actions.checks.checklist import Check, ChecklistResult, run_checklist
from actions.checks.database import find_slow_queries, probe_database, slow_queries_check
from actions.checks.http import check_endpoint, check_flow, check_frontend, check_health
from actions.checks.logscan import check_log, log_end_offset, scan_log
from actions.checks.result import CheckResult
from actions.checks.service import restart_service, run_validate_command
from bot.config import ChecksConfig, FlowCheck
from bot.deps import Deps
from bot.flows.asker import Asker
from store import Surface, TimelineAction

LOG_OFFSET_KEY = "validation.log_offset"

OnResult = Callable[[CheckResult], None]


@dataclass(frozen=True)
class ChecklistSoFar:
    """A checklist part of the way: the checks that finished, in that order, and the rest."""

    done: tuple[CheckResult, ...]
    pending: tuple[str, ...]


def following(names: Sequence[str], report: Callable[[ChecklistSoFar], None]) -> OnResult:
    """An ``on_result`` that reports the whole checklist so far after each check; the checks
    finish on several threads at once."""
    lock = threading.Lock()
    done: list[CheckResult] = []

    def note(result: CheckResult) -> None:
        with lock:
            done.append(result)
            finished = tuple(done)
        seen = {r.name for r in finished}
        report(ChecklistSoFar(finished, tuple(name for name in names if name not in seen)))

    return note


@dataclass(frozen=True)
class ValidationReport:
    checklist: ChecklistResult
    diagnostics: tuple[CheckResult, ...]
    restarted: bool

    @property
    def ok(self) -> bool:
        return self.checklist.ok


def planned_check_names(deps: Deps, *, restart: bool) -> list[str]:
    """The checklist's lines in order, before any has run (for a "running" message)."""
    config = deps.settings.config
    names = ["server starts" if restart else "server answers"]
    if deps.settings.database_url is not None:
        names.append("database queries")
    if config.service.validate:
        names.append("validate command")
    names += [check.name for check in config.checks.endpoints]
    names += [check.name for check in config.checks.frontend]
    names += [flow.name for flow in config.checks.flows]
    if config.service.log_file is not None:
        names.append("error log")
    return names


def validate_now(deps: Deps, asker: Asker) -> ValidationReport:
    """``/rollback validate``: the checklist now, shown to the asker as each check finishes."""
    names = planned_check_names(deps, restart=False)
    asker.progress(ChecklistSoFar((), tuple(names)))
    return run_validation(
        deps,
        actor=asker.actor,
        surface=asker.surface,
        on_result=following(names, asker.progress),
    )


def run_validation(
    deps: Deps,
    *,
    actor: str,
    surface: Surface,
    restart: bool = False,
    on_result: OnResult | None = None,
    email: bool = False,
) -> ValidationReport:
    """Run the checklist (restarting the service first when asked) and record the verdict.
    ``email``: the email scenario's own checks (``checks.email_flows``) run as well."""
    config = deps.settings.config
    log_since = _log_start(deps)
    with httpx.Client(timeout=config.checks.timeout_s, follow_redirects=False) as http:
        first = _restart(deps, http) if restart else None
        if first is not None and on_result is not None:
            on_result(first)
        checks = _checks(deps, http, include_health=not restart)
        if email:
            limits = config.checks
            checks += [
                _flow_check(flow, config.service.base_url, limits) for flow in limits.email_flows
            ]
        checklist = run_checklist(
            checks, timeout_s=config.checks.checklist_timeout_s, on_result=on_result
        )
    last = _scan_log(deps, log_since)
    if last is not None and on_result is not None:
        on_result(last)
    before = (first,) if first is not None else ()
    after = (last,) if last is not None else ()
    checklist = replace(
        checklist,
        results=(*before, *checklist.results, *after),
        duration_s=checklist.duration_s + sum(r.duration_s for r in (*before, *after)),
    )
    report = ValidationReport(
        checklist=checklist,
        diagnostics=() if checklist.ok else collect_diagnostics(deps),
        restarted=restart,
    )
    deps.store.append_event(
        actor=actor,
        surface=surface,
        action=TimelineAction.VALIDATION,
        details={
            "verdict": "pass" if report.ok else "fail",
            "failing": [result.name for result in checklist.failing],
            "duration_s": round(checklist.duration_s, 3),
            "restarted": restart,
        },
    )
    return report


def run_scratch_checklist(deps: Deps, *, base_url: str, cwd: Path) -> ChecklistResult:
    """The checklist against a scratch service (a drill's clone): its endpoints, pages and
    flows, and the validate command in the clone. Never the live database, never recorded:
    a drill's verdict is the drill's, not the service's."""
    config = deps.settings.config
    scratch = replace(
        config,
        git=replace(config.git, path=cwd),
        service=replace(config.service, base_url=base_url.rstrip("/"), log_file=None),
    )
    offline = replace(deps, settings=replace(deps.settings, config=scratch, database_url=None))
    with httpx.Client(timeout=config.checks.timeout_s, follow_redirects=False) as http:
        # A clone's own validate script gets no secret of the bot's: its own PATH and HOME only.
        scratch_env = {"PATH": deps.settings.tool_path, "HOME": str(cwd)}
        checks = _checks(offline, http, include_health=True, env=scratch_env)
        return run_checklist(checks, timeout_s=config.checks.checklist_timeout_s)


def collect_diagnostics(deps: Deps) -> tuple[CheckResult, ...]:
    """Slow queries and the phase's migrations, when a database is configured."""
    url = deps.settings.database_url
    if url is None:
        return ()
    database = deps.settings.config.database
    slow = find_slow_queries(
        url=url.reveal(), min_mean_ms=database.slow_query_ms, timeout_s=database.timeout_s
    )
    migrations = compare_migrations(
        url=url.reveal(),
        repo=deps.settings.config.git.path,
        directory=database.migrations_dir,
        phase=deps.settings.config.project.phase,
        table=database.migrations_table,
        timeout_s=database.timeout_s,
    )
    return (
        slow_queries_check(slow, min_mean_ms=database.slow_query_ms),
        migrations_check(migrations),
    )


def _log_start(deps: Deps) -> int:
    log_file = deps.settings.config.service.log_file
    if log_file is None:
        return 0
    recorded = deps.store.read_value(LOG_OFFSET_KEY)
    if recorded is not None and recorded.isdigit():
        return int(recorded)
    # The first run has no "since": what it counts is what its own checks provoke.
    return log_end_offset(log_file)


def _restart(deps: Deps, http: httpx.Client) -> CheckResult:
    service = deps.settings.config.service
    return restart_service(
        command=service.restart,
        cwd=deps.settings.config.git.path,
        command_timeout_s=service.restart_timeout_s,
        health_url=service.base_url + service.health_path,
        ready_timeout_s=service.ready_timeout_s,
        client=http,
        secrets=deps.settings.secret_values(),
    )


def _scan_log(deps: Deps, since: int) -> CheckResult | None:
    log_file = deps.settings.config.service.log_file
    if log_file is None:
        return None
    scan = scan_log(path=log_file, since_offset=since)
    deps.store.write_value(LOG_OFFSET_KEY, str(scan.end_offset))
    return check_log(scan)


def _checks(
    deps: Deps,
    http: httpx.Client,
    *,
    include_health: bool,
    env: dict[str, str] | None = None,
) -> list[Check]:
    config = deps.settings.config
    service, limits = config.service, config.checks
    base = service.base_url
    checks: list[Check] = []
    if include_health:
        url = base + service.health_path
        checks.append(
            Check(
                "server answers",
                "health",
                lambda: check_health(client=http, url=url, timeout_s=limits.timeout_s),
            )
        )
    if deps.settings.database_url is not None:
        db_url, database = deps.settings.database_url.reveal(), config.database
        checks.append(
            Check(
                "database queries",
                "database",
                lambda: probe_database(
                    url=db_url, sql=database.probe_sql, timeout_s=database.timeout_s
                ),
            )
        )
    if service.validate:
        checks.append(_validate_check(deps, service.validate, env))
    for endpoint in config.checks.endpoints:
        checks.append(
            _endpoint_check(
                http,
                base,
                endpoint.name,
                endpoint.path,
                endpoint.method,
                limits.timeout_s,
                limits.slow_after_s,
            )
        )
    for page in config.checks.frontend:
        checks.append(
            _frontend_check(http, base, page.name, page.path, limits.timeout_s, limits.slow_after_s)
        )
    checks += [_flow_check(flow, base, limits) for flow in config.checks.flows]
    return checks


def _validate_check(deps: Deps, command: str, env: dict[str, str] | None) -> Check:
    config = deps.settings.config
    return Check(
        "validate command",
        "validate",
        lambda: run_validate_command(
            command=command,
            cwd=config.git.path,
            env=env,
            timeout_s=config.service.validate_timeout_s,
            secrets=deps.settings.secret_values(),
        ),
    )


def _flow_check(flow: FlowCheck, base: str, limits: ChecksConfig) -> Check:
    return Check(
        flow.name,
        "flow",
        lambda: check_flow(
            name=flow.name,
            base_url=base,
            steps=flow.steps,
            # Each step may take the per-request timeout; the flow as a whole, their sum.
            timeout_s=limits.timeout_s * len(flow.steps),
            slow_after_s=limits.slow_after_s,
        ),
    )


def _endpoint_check(
    http: httpx.Client,
    base: str,
    name: str,
    path: str,
    method: str,
    timeout_s: float,
    slow_after_s: float,
) -> Check:
    return Check(
        name,
        "endpoint",
        lambda: check_endpoint(
            client=http,
            name=name,
            url=base + path,
            method=method,
            timeout_s=timeout_s,
            slow_after_s=slow_after_s,
        ),
    )


def _frontend_check(
    http: httpx.Client, base: str, name: str, path: str, timeout_s: float, slow_after_s: float
) -> Check:
    return Check(
        name,
        "frontend",
        lambda: check_frontend(
            client=http, name=name, url=base + path, timeout_s=timeout_s, slow_after_s=slow_after_s
        ),
    )
