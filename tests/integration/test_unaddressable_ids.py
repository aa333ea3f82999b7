"""Ids in requests may be any string, and some cannot be DynamoDB keys at all (a part over 1,024 or 2,048 bytes of
UTF-8, a lone surrogate). No stored thing has such an id: reading one answers "none" (404, or the 400 of a
reference to nothing), never the 503 of DynamoDB refusing the key. Found by the hostile console suite: a route
posted with a 5,000-character chain id answered 503."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.integration.conftest import Invoke, post_alert
from tests.integration.web_browser import Browser

UNADDRESSABLE = ["x" * 5000, "é" * 1500, "ok\ud800"]  # too long; too many bytes, not characters; not UTF-8


@pytest.fixture
def integration(api: Invoke, ingest_handler: ModuleType) -> dict[str, str]:
    status, created = api("POST", "/api/v1/integrations/", {"name": "Ids", "type": "webhook"})
    assert status == 201, created
    assert post_alert(ingest_handler, created["link"], {"title": "t"})[0] == 200
    return created


@pytest.mark.parametrize("bad", UNADDRESSABLE, ids=["long", "multibyte", "surrogate"])
def test_an_id_that_cannot_be_a_key_is_a_thing_that_does_not_exist(
    api: Invoke, integration: dict[str, str], bad: str
) -> None:
    for resource in ("alert_groups", "escalation_chains", "integrations", "users", "teams", "schedules", "routes"):
        status, body = api("GET", f"/api/v1/{resource}/{bad}/")
        assert status == 404, (resource, status, body)
    references = [
        ("/api/v1/routes/", {"integration_id": integration["id"], "routing_regex": "x", "escalation_chain_id": bad}),
        ("/api/v1/routes/", {"integration_id": bad, "routing_regex": "x"}),
        ("/api/v1/escalation_policies/", {"escalation_chain_id": bad, "type": "wait", "duration": 60}),
        ("/api/v1/integrations/", {"name": "Elsewhere", "type": "webhook", "team_id": bad}),
        ("/api/v1/alert_groups/", None),
    ]
    for path, body in references:
        status, answer = api("POST", path, body) if body is not None else api("GET", path, query=f"id={bad[:3000]}")
        assert 400 <= status < 500 or (body is None and status == 200), (path, status, answer)


def test_the_console_answers_a_route_to_a_chain_that_cannot_exist_with_its_message(
    web: ModuleType, admin_key: str, api: Invoke, integration: dict[str, str]
) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    path = f"/ui/integrations/{integration['id']}/routes"
    before = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")[1]["results"]
    form = {"escalation_chain_id": "x" * 5000, "routing_regex": "x", "csrf_token": browser.csrf()}
    response = browser.call("POST", path, form, referer=f"https://tocsin.test{path}")
    assert response["statusCode"] == 303, response["body"][:500]
    assert "error=" in response["headers"]["Location"]
    after = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")[1]["results"]
    assert after == before
