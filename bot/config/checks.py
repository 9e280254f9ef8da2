"""``[checks]``: the endpoints, pages and user flows the validation checklist runs."""

from __future__ import annotations

from actions.checks.result import FlowStep
from actions.errors import ConfigError
from bot.config.model import ChecksConfig, EndpointCheck, FlowCheck
from bot.config.section import Section, seconds

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _parse_path(section: Section) -> str:
    path = section.text("path", "a path starting with '/'")
    if not path.startswith("/"):
        raise ConfigError(f"{section.key('path')}: expected a path starting with '/', got {path!r}")
    return path


def _parse_method(section: Section, default: str = "GET") -> str:
    method = (section.optional_text("method", "an HTTP method") or default).upper()
    if method not in _METHODS:
        raise ConfigError(f"{section.key('method')}: expected one of {', '.join(_METHODS)}")
    return method


def _parse_endpoint(section: Section) -> EndpointCheck:
    check = EndpointCheck(
        name=section.text("name"), path=_parse_path(section), method=_parse_method(section)
    )
    section.finish()
    return check


def _parse_step(section: Section) -> FlowStep:
    method = _parse_method(section)
    path = _parse_path(section)
    body = section.optional_mapping("json", "a table sent as the JSON body")
    form = section.optional_mapping("form", "a table of form fields")
    if form is not None and not all(isinstance(v, str) for v in form.values()):
        raise ConfigError(f"{section.key('form')}: expected string values")
    status = section.optional_int("expect_status", "an HTTP status such as 200")
    if status is not None and not 100 <= status <= 599:
        raise ConfigError(f"{section.key('expect_status')}: expected an HTTP status, got {status}")
    step = FlowStep(
        method=method,
        path=path,
        json=body,
        form=form,
        expect_status=status,
        expect_text=section.optional_text("expect_text"),
    )
    section.finish()
    return step


def _parse_flow(section: Section) -> FlowCheck:
    name = section.text("name")
    steps = tuple(_parse_step(step) for step in section.table_list("steps"))
    if not steps:
        raise ConfigError(f"{section.key('steps')}: expected at least one step")
    section.finish()
    return FlowCheck(name=name, steps=steps)


def parse_checks(top: Section) -> ChecksConfig:
    if not top.has("checks"):
        return ChecksConfig()
    section = top.table("checks")
    checks = ChecksConfig(
        endpoints=tuple(_parse_endpoint(item) for item in section.table_list("endpoints")),
        frontend=tuple(_parse_endpoint(item) for item in section.table_list("frontend")),
        flows=tuple(_parse_flow(item) for item in section.table_list("flows")),
        email_flows=tuple(_parse_flow(item) for item in section.table_list("email_flows")),
        timeout_s=seconds(section, "timeout_s", 10.0),
        slow_after_s=seconds(section, "slow_after_s", 2.0),
        checklist_timeout_s=seconds(section, "checklist_timeout_s", 120.0),
        interval_min=section.number("interval_min", 30.0, "a number of minutes (0 turns it off)"),
    )
    if not 0 <= checks.interval_min <= 24 * 60:
        raise ConfigError(f"{section.key('interval_min')}: expected 0 to 1440 minutes")
    section.finish()
    return checks
