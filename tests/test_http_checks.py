"""HTTP checks against a real service on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from actions.checks.http import (
    FlowStep,
    check_endpoint,
    check_flow,
    check_frontend,
    check_health,
)
from tests.httpservers import PASSWORD, USER, HttpService, free_port, serve


@pytest.fixture
def service() -> Iterator[HttpService]:
    with serve() as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as shared:
        yield shared


# -- endpoints ------------------------------------------------------------------------------------


def test_check_endpoint_fast_2xx_is_ok(service: HttpService, client: httpx.Client) -> None:
    result = check_endpoint(
        client=client,
        name="customers",
        url=service.url("/healthy"),
        timeout_s=5,
        slow_after_s=2,
    )
    assert result.ok, result
    assert (result.name, result.kind, result.reason) == ("customers", "endpoint", "")
    assert result.details[0].startswith("GET /healthy -> 200 in ")
    assert 0 < result.duration_s < 2


def test_check_endpoint_500_fails_with_the_status(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_endpoint(
        client=client, name="deals", url=service.url("/fail"), timeout_s=5, slow_after_s=2
    )
    assert not result.ok
    assert result.reason == "HTTP 500"
    assert result.details[0].startswith("GET /fail -> 500 in ")


def test_check_endpoint_404_fails_with_the_status(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_endpoint(
        client=client, name="x", url=service.url("/nope"), timeout_s=5, slow_after_s=2
    )
    assert (result.ok, result.reason) == (False, "HTTP 404")


def test_check_endpoint_slow_answer_fails_with_its_time(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_endpoint(
        client=client,
        name="customers",
        url=service.url("/slow?s=0.4"),
        timeout_s=5,
        slow_after_s=0.2,
    )
    assert not result.ok
    assert result.reason.endswith(" s, over the 0.2 s limit"), result.reason
    assert 0.4 <= float(result.reason.split(" ")[0]) < 2
    assert result.duration_s >= 0.4


def test_check_endpoint_hanging_is_cut_at_its_timeout(
    service: HttpService, client: httpx.Client
) -> None:
    started = time.monotonic()
    result = check_endpoint(
        client=client, name="inbox", url=service.url("/hang"), timeout_s=0.5, slow_after_s=2
    )
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.reason == "timed out after 0.5 s"
    assert 0.45 <= elapsed < 2.5
    assert result.details == ("GET /hang -> timed out after 0.5 s",)


def test_check_endpoint_closed_port_is_connection_refused(client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/customers"
    result = check_endpoint(client=client, name="c", url=url, timeout_s=2, slow_after_s=2)
    assert (result.ok, result.reason) == (False, "connection refused")
    assert result.details == ("GET /api/customers -> connection refused",)


def test_check_endpoint_close_mid_response_has_its_own_reason(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_endpoint(
        client=client, name="c", url=service.url("/close-mid"), timeout_s=2, slow_after_s=2
    )
    assert (result.ok, result.reason) == (False, "connection closed mid-response")


def test_check_endpoint_close_before_response_is_not_mid_response(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_endpoint(
        client=client, name="c", url=service.url("/close-early"), timeout_s=2, slow_after_s=2
    )
    assert (result.ok, result.reason) == (False, "connection closed before a response")


def test_check_endpoint_non_http_answer_is_invalid_response(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_endpoint(
        client=client, name="c", url=service.url("/garbage"), timeout_s=2, slow_after_s=2
    )
    assert (result.ok, result.reason) == (False, "invalid response")


def test_check_endpoint_bad_url_is_a_result_not_an_exception(client: httpx.Client) -> None:
    result = check_endpoint(client=client, name="c", url="ftp://x/y", timeout_s=1, slow_after_s=1)
    assert (result.ok, result.reason) == (False, "invalid URL")


def test_check_endpoint_details_never_show_url_credentials(
    service: HttpService, client: httpx.Client
) -> None:
    url = service.url("/healthy").replace("http://", "http://ops:hunter2@")
    result = check_endpoint(client=client, name="c", url=url, timeout_s=2, slow_after_s=2)
    assert result.ok
    assert "hunter2" not in repr(result)


# -- frontend -------------------------------------------------------------------------------------


def test_check_frontend_html_page_is_ok(service: HttpService, client: httpx.Client) -> None:
    result = check_frontend(
        client=client, name="frontend", url=service.url("/page"), timeout_s=2, slow_after_s=3
    )
    assert result.ok, result
    assert (result.kind, result.reason) == ("frontend", "")


def test_check_frontend_json_200_is_not_a_page(service: HttpService, client: httpx.Client) -> None:
    result = check_frontend(
        client=client, name="frontend", url=service.url("/healthy"), timeout_s=2, slow_after_s=3
    )
    assert not result.ok
    assert result.reason == "not a page (content type application/json)"


def test_check_frontend_empty_body_fails(service: HttpService, client: httpx.Client) -> None:
    result = check_frontend(
        client=client, name="frontend", url=service.url("/empty-page"), timeout_s=2, slow_after_s=3
    )
    assert (result.ok, result.reason) == (False, "empty page")


def test_check_frontend_500_fails_with_the_status(
    service: HttpService, client: httpx.Client
) -> None:
    result = check_frontend(
        client=client, name="frontend", url=service.url("/fail"), timeout_s=2, slow_after_s=3
    )
    assert (result.ok, result.reason) == (False, "HTTP 500")


# -- flows ----------------------------------------------------------------------------------------

LOGIN = FlowStep("POST", "/login", form={"user": USER, "password": PASSWORD})


def test_check_flow_login_then_gated_steps_pass(service: HttpService) -> None:
    steps = [
        LOGIN,
        FlowStep("GET", "/inbox", expect_text="Inbox"),
        FlowStep("POST", "/api/deals", json={"title": "new deal"}, expect_status=200),
    ]
    result = check_flow(
        name="create deal", base_url=service.base_url, steps=steps, timeout_s=5, slow_after_s=2
    )
    assert result.ok, result
    assert result.kind == "flow"
    assert [line.split(" -> ")[0] for line in result.details] == [
        "1 POST /login",
        "2 GET /inbox",
        "3 POST /api/deals",
    ]


def test_check_flow_json_login_also_sets_the_session(service: HttpService) -> None:
    steps = [
        FlowStep("POST", "/login", json={"user": USER, "password": PASSWORD}),
        FlowStep("GET", "/api/deals"),
    ]
    result = check_flow(
        name="deals", base_url=service.base_url, steps=steps, timeout_s=5, slow_after_s=2
    )
    assert result.ok, result


def test_check_flow_without_login_fails_naming_the_gated_step(service: HttpService) -> None:
    steps = [FlowStep("GET", "/healthy"), FlowStep("POST", "/api/deals", json={"t": 1})]
    result = check_flow(
        name="create deal", base_url=service.base_url, steps=steps, timeout_s=5, slow_after_s=2
    )
    assert not result.ok
    assert result.reason == "step 2 POST /api/deals: HTTP 401"


def test_check_flow_stops_at_the_first_failing_step(service: HttpService) -> None:
    bad_login = FlowStep("POST", "/login", form={"user": USER, "password": "wrong"})
    steps = [bad_login, FlowStep("GET", "/inbox")]
    result = check_flow(
        name="login", base_url=service.base_url, steps=steps, timeout_s=5, slow_after_s=2
    )
    assert result.reason == "step 1 POST /login: HTTP 401"
    assert service.hits("/inbox") == 0


def test_check_flow_expect_text_mismatch_fails(service: HttpService) -> None:
    steps = [LOGIN, FlowStep("GET", "/inbox", expect_text="Compose")]
    result = check_flow(
        name="inbox", base_url=service.base_url, steps=steps, timeout_s=5, slow_after_s=2
    )
    assert not result.ok
    assert result.reason == "step 2 GET /inbox: 'Compose' not in the response"


def test_check_flow_expect_status_mismatch_fails(service: HttpService) -> None:
    steps = [FlowStep("GET", "/healthy", expect_status=201)]
    result = check_flow(
        name="x", base_url=service.base_url, steps=steps, timeout_s=5, slow_after_s=2
    )
    assert result.reason == "step 1 GET /healthy: HTTP 200, expected 201"


def test_check_flow_timeout_bounds_the_whole_flow(service: HttpService) -> None:
    steps = [FlowStep("GET", "/slow?s=0.4"), FlowStep("GET", "/slow?s=0.4")]
    started = time.monotonic()
    result = check_flow(
        name="slow flow", base_url=service.base_url, steps=steps, timeout_s=0.6, slow_after_s=2
    )
    elapsed = time.monotonic() - started
    assert result.reason == "step 2 GET /slow?s=0.4: timed out after 0.6 s"
    assert elapsed < 2.0


def test_check_flow_sessions_do_not_leak_between_runs(service: HttpService) -> None:
    first = check_flow(
        name="a", base_url=service.base_url, steps=[LOGIN], timeout_s=5, slow_after_s=2
    )
    second = check_flow(
        name="b",
        base_url=service.base_url,
        steps=[FlowStep("GET", "/inbox")],
        timeout_s=5,
        slow_after_s=2,
    )
    assert first.ok
    assert second.reason == "step 1 GET /inbox: HTTP 401"


def test_check_flow_unreachable_service_is_a_failed_step() -> None:
    result = check_flow(
        name="x",
        base_url=f"http://127.0.0.1:{free_port()}",
        steps=[LOGIN],
        timeout_s=2,
        slow_after_s=2,
    )
    assert result.reason == "step 1 POST /login: connection refused"


# -- health ---------------------------------------------------------------------------------------


def test_check_health_answering_server_is_ok(service: HttpService, client: httpx.Client) -> None:
    result = check_health(client=client, url=service.url("/healthy"), timeout_s=2)
    assert (result.ok, result.name, result.kind) == (True, "server answers", "health")


def test_check_health_down_server_fails(client: httpx.Client) -> None:
    result = check_health(client=client, url=f"http://127.0.0.1:{free_port()}/", timeout_s=2)
    assert (result.ok, result.reason) == (False, "connection refused")
