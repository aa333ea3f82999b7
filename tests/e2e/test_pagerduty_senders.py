"""Debian's real Alertmanager with ``pagerduty_configs`` pointed at the local stack: a firing alert opens a
group, its resolution resolves it.

Only Events v2 (``routing_key``) is exercised with the real sender: Alertmanager 0.25 ignores ``url`` for v1
(``service_key``) and always posts to events.pagerduty.com, which no test may reach. The v1 endpoint is tested
with Alertmanager-shaped v1 events in tests/integration/test_pagerduty.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT, Alertmanager, wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("pd-stack"), workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def integration(stack: LocalStack) -> dict[str, Any]:
    created = httpx.post(
        f"{stack.base_url}/api/v1/integrations/",
        headers={"Authorization": stack.api_key},
        json={"name": "PagerDuty senders", "type": "pagerduty"},
        timeout=HTTP_TIMEOUT,
    )
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture(scope="module")
def alertmanager(
    tmp_path_factory: pytest.TempPathFactory, stack: LocalStack, integration: dict[str, Any]
) -> Iterator[Alertmanager]:
    key = integration["routing_key"]
    config = {
        "route": {
            "receiver": "pd-v2",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "pd-v2",
                "pagerduty_configs": [
                    {"routing_key": key, "url": f"{stack.base_url}/v2/enqueue", "send_resolved": True}
                ],
            },
        ],
    }
    with Alertmanager(Path(tmp_path_factory.mktemp("pd-alertmanager")), config) as running:
        yield running


def post_alert(alertmanager: Alertmanager, name: str, via: str, resolved: bool = False) -> None:
    """Fire (Alertmanager stamps ``startsAt`` by its own clock) or resolve (``endsAt`` = the ``startsAt`` it stamped).

    Times come from Alertmanager, never from this process: under ``make test-timeshift`` the test's clock is shifted
    and Alertmanager's (a Go binary, out of libfaketime's reach) is not."""
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "via": via, "severity": "critical"},
        "annotations": {"summary": f"{name} is down"},
    }
    if resolved:
        firing = httpx.get(
            f"{alertmanager.url}/api/v2/alerts", params={"filter": f'alertname="{name}"'}, timeout=HTTP_TIMEOUT
        )
        [stamped] = firing.json()
        alert["startsAt"] = alert["endsAt"] = stamped["startsAt"]
    response = httpx.post(f"{alertmanager.url}/api/v2/alerts", json=[alert], timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text


def groups(stack: LocalStack, integration: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.base_url}/api/v1/alert_groups/",
        headers={"Authorization": stack.api_key},
        params={"integration_id": integration["id"]},
        timeout=HTTP_TIMEOUT,
    )
    return list(response.json()["results"])


@pytest.mark.e2e
@pytest.mark.parametrize("via", ["v2"])
def test_alertmanager_pagerduty_receiver_fires_and_resolves_a_group(
    stack: LocalStack, integration: dict[str, Any], alertmanager: Alertmanager, via: str
) -> None:
    name = f"PagerDutyVia{via.upper()}"
    post_alert(alertmanager, name, via)

    def mine() -> list[dict[str, Any]]:
        return [g for g in groups(stack, integration) if name in (g["title"] or "")]

    [group] = wait_for(lambda: mine() or None, 30, f"the {via} trigger from Alertmanager")
    assert group["state"] == "firing"
    post_alert(alertmanager, name, via, resolved=True)
    wait_for(lambda: [g for g in mine() if g["state"] == "resolved"] or None, 30, f"the {via} resolve")
    assert len(mine()) == 1  # the resolve joined the group instead of opening another
