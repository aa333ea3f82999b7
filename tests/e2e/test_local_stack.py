"""The local stack end to end: every example payload of ../shared/fixtures/payloads through real HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT

REPO = Path(__file__).resolve().parents[2]
# The shared fixtures beside the repository (as CI lays them out); the package's copies otherwise.
SHARED = REPO.parent / "shared" / "fixtures" / "payloads"
FIXTURES = SHARED if SHARED.is_dir() else REPO / "layers/core/python/oncall/examples"
# inbound_email arrives by mail, not HTTP; legacy_grafana_alerting is posted to the grafana_alerting URL.
HTTP_TYPES = {
    "alertmanager": "alertmanager",
    "grafana_alerting": "grafana_alerting",
    "grafana": "grafana",
    "legacy_alertmanager": "legacy_alertmanager",
    "webhook": "webhook",
    "formatted_webhook": "formatted_webhook",
    "elastalert": "elastalert",
    "kapacitor": "kapacitor",
    "zabbix": "zabbix",
}
EXPECTED_TITLES = {
    "alertmanager": "[2 firing] InstanceDown",
    "grafana_alerting": "[3 firing] InstanceDown",
    "grafana": "TestAlert",
    "legacy_alertmanager": "TestAlert",
    "webhook": "This alert was sent by user for demonstration purposes",
    "formatted_webhook": "TestAlert: The whole system is down",
    "elastalert": "This alert was sent by user for demonstration purposes",
    "kapacitor": "TestAlert",
    "zabbix": "TestAlert: The whole system is down",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.e2e
@pytest.mark.parametrize("kind", sorted(HTTP_TYPES))
def test_every_example_payload_becomes_a_group(client: httpx.Client, kind: str) -> None:
    created = client.post("/api/v1/integrations/", json={"name": f"e2e {kind}", "type": kind})
    assert created.status_code == 201, created.text
    integration = created.json()
    response = httpx.post(integration["link"], json=fixture(kind), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text

    page = client.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()
    assert page["count"] == 1
    [group] = page["results"]
    assert group["title"].startswith(EXPECTED_TITLES[kind])
    assert group["state"] == "firing"
    assert group["last_alert"]["payload"] in (fixture(kind), *fixture(kind).get("alerts", []))
    alerts = client.get("/api/v1/alerts/", params={"alert_group_id": group["id"]}).json()
    assert alerts["count"] == group["alerts_count"] >= 1


@pytest.mark.e2e
def test_legacy_grafana_alerting_posts_to_the_grafana_alerting_url(client: httpx.Client) -> None:
    integration = client.post(
        "/api/v1/integrations/", json={"name": "legacy ga", "type": "legacy_grafana_alerting"}
    ).json()
    assert "/integrations/v1/grafana_alerting/" in integration["link"]
    assert (
        httpx.post(integration["link"], json=fixture("legacy_grafana_alerting"), timeout=HTTP_TIMEOUT).status_code
        == 200
    )


@pytest.mark.e2e
def test_trailing_slash_is_optional_and_errors_are_clear(client: httpx.Client, stack: LocalStack) -> None:
    integration = client.post("/api/v1/integrations/", json={"name": "slash", "type": "webhook"}).json()
    assert httpx.post(integration["link"].rstrip("/"), json={"a": 1}, timeout=HTTP_TIMEOUT).status_code == 200
    assert httpx.post(integration["link"], content=b"nope", timeout=HTTP_TIMEOUT).status_code == 400
    unknown = httpx.post(f"{stack.base_url}/integrations/v1/webhook/unknowntoken/", json={"a": 1}, timeout=HTTP_TIMEOUT)
    assert unknown.status_code == 403
    assert httpx.get(f"{stack.base_url}/api/v1/integrations/", timeout=HTTP_TIMEOUT).status_code == 401


@pytest.mark.e2e
def test_data_survives_a_restart_of_the_local_stack(tmp_path: Path) -> None:
    with LocalStack(tmp_path, workers=1) as first:
        key = first.api_key
        headers = {"Authorization": key}
        integration = httpx.post(
            f"{first.base_url}/api/v1/integrations/",
            headers=headers,
            json={"name": "kept", "type": "webhook"},
            timeout=HTTP_TIMEOUT,
        ).json()
        assert (
            httpx.post(integration["link"], json={"message": "before restart"}, timeout=HTTP_TIMEOUT).status_code == 200
        )
    with LocalStack(tmp_path, workers=1) as second:
        assert second.api_key == key  # the same key is kept in .local/api_key
        groups = httpx.get(f"{second.base_url}/api/v1/alert_groups/", headers=headers, timeout=HTTP_TIMEOUT).json()
        assert [g["title"] for g in groups["results"]] == ["before restart"]


@pytest.mark.e2e
def test_api_key_from_the_environment_becomes_the_admin_key(tmp_path: Path) -> None:
    with LocalStack(tmp_path, workers=1, env={"TOCSIN_API_KEY": "my-own-key"}) as running:
        assert running.api_key == "my-own-key"
        response = httpx.get(f"{running.base_url}/api/v1/integrations/", headers={"Authorization": "my-own-key"})
        assert response.status_code == 200
    assert os.environ.get("TOCSIN_API_KEY") is None
