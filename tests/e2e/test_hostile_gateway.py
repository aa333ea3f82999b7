"""Hostile requests through the local HTTP gateway of the real local stack (issue #16): oversized bodies get a 413
with a message (never a reset connection), a sign-in ``next=`` with a line break goes home (never a dropped
connection), and a few hundred generated requests to ingest, the API and the console answer below 500.

The bulk of the generated requests (more than 10,000) go through the handlers in-process:
``tests/integration/test_hostile_requests.py``.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.integration.test_hostile_requests import BODIES, CONTENT_TYPES, ISSUE_BODIES
from tests.support.processes import HTTP_TIMEOUT
from tests.unit.test_hostile_input import JSON_VALUES

MIB = 1024 * 1024
GENERATED = 300


@pytest.fixture(scope="module")
def link(client: httpx.Client) -> str:
    response = client.post("/api/v1/integrations/", json={"name": "Hostile gateway", "type": "alertmanager"})
    assert response.status_code == 201, response.text
    return str(response.json()["link"])


@pytest.mark.parametrize("size", [10 * MIB, 10 * MIB + 1, 11 * MIB])
def test_a_body_of_10_mib_or_more_is_a_413_with_a_message(link: str, size: int) -> None:
    body = b'{"title": "' + b"x" * (size - 13) + b'"}'
    assert len(body) == size
    response = httpx.post(link, content=body, headers={"content-type": "application/json"}, timeout=HTTP_TIMEOUT)
    answer = response.json()  # API Gateway's own answer past its quota, ingest's below it
    assert response.status_code == 413 and (answer.get("message") or answer.get("detail")), answer


def sign_in_with_next(stack: LocalStack, target: str) -> httpx.Response:
    with httpx.Client(base_url=stack.base_url, timeout=HTTP_TIMEOUT, follow_redirects=False) as browser:
        form = browser.get("/ui/signin", params={"next": target})
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        return browser.post("/ui/signin", data={"api_key": stack.api_key, "csrf_token": token[1], "next": target})


@pytest.mark.parametrize(
    "target", ["/ui/groups\r\nSet-Cookie: stolen=1", "/ui/groups\nX-Injected: 1", "//evil.example", "/\\evil"]
)
def test_a_sign_in_next_with_a_line_break_or_another_host_goes_home(stack: LocalStack, target: str) -> None:
    response = sign_in_with_next(stack, target)
    assert response.status_code == 303 and response.headers["location"] == "/ui/groups"
    assert "stolen" not in response.headers.get("set-cookie", "") and "x-injected" not in response.headers


def test_console_pages_carry_the_content_security_policy(stack: LocalStack) -> None:
    response = httpx.get(f"{stack.base_url}/ui/signin", timeout=HTTP_TIMEOUT)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


def test_generated_hostile_requests_through_the_gateway_never_answer_5xx(
    stack: LocalStack, client: httpx.Client, link: str
) -> None:
    statuses: Counter[int] = Counter()
    api_paths = ["/api/v1/integrations/", "/api/v1/escalation_chains/", "/api/v1/alert_groups/INOPE/",
                 "/api/v1/users/UADMIN/", "/api/v1/teams/"]  # fmt: skip

    @settings(max_examples=GENERATED, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        body=BODIES | JSON_VALUES.map(json.dumps),
        content_type=CONTENT_TYPES,
        target=st.sampled_from(["ingest", "api", "console"]),
        method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
        path=st.sampled_from(api_paths),
    )
    def send(body: str | bytes | None, content_type: str, target: str, method: str, path: str) -> None:
        content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        headers = {"content-type": content_type}
        if target == "ingest":
            response = httpx.post(link, content=content, headers=headers, timeout=30)
        elif target == "api":
            response = client.request(method, path, content=content, headers=headers)
        else:
            response = httpx.post(f"{stack.base_url}/ui/integrations", content=content, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (target, method, path, content[:200] if content else None, response.text)

    send()
    for body in ISSUE_BODIES:  # the cases of issue #16, to each surface
        for response in (
            httpx.post(link, content=body.encode("utf-8", "surrogatepass"), timeout=30),
            client.request("DELETE", "/api/v1/alert_groups/INOPE/", content=body.encode("utf-8", "surrogatepass")),
        ):
            statuses[response.status_code] += 1
            assert response.status_code < 500, (body[:80], response.text)
    assert sum(statuses.values()) >= GENERATED + 2 * len(ISSUE_BODIES), statuses
    assert not [status for status in statuses if status >= 500], statuses
