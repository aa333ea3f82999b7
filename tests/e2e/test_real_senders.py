"""Real senders end to end: Debian's Prometheus and Alertmanager firing at the local stack on loopback.

Prometheus scrapes a gauge the test serves (``tocsin_test_value``) and evaluates ``tocsin_test_value > 0``
every second; Alertmanager sends the group to the integration's link (``send_resolved: true``), an
always-firing rule to the integration's heartbeat URL, and another by e-mail (its e-mail notifier, no TLS) to an
inbound_email integration through the stack's SMTP port. The test flips the gauge and watches the alert groups
through the API. ``make system`` installs both (Debian packages ``prometheus`` and ``prometheus-alertmanager``);
without them the tests are skipped, except on CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.support.processes import (
    ALERTMANAGER_BINARIES,
    PROMETHEUS_BINARIES,
    Alertmanager,
    MetricExporter,
    Prometheus,
    wait_for,
    which,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        (which(*ALERTMANAGER_BINARIES) is None or which(*PROMETHEUS_BINARIES) is None) and not os.environ.get("CI"),
        reason="Prometheus and Alertmanager are not installed (make system)",
    ),
]

RULE = "TocsinTestValue"
HEARTBEAT_RULE = "TocsinHeartbeat"
MAIL_RULE = "TocsinMail"
MAIL_FROM = "alertmanager@monitoring.example.org"
SENDER_TIMEOUT = 30.0  # a notification normally arrives 2-4 s after the gauge flips


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(Path(tmp_path_factory.mktemp("senders-stack"))) as running:
        yield running


@pytest.fixture(scope="module")
def integration(api: httpx.Client) -> dict[str, Any]:
    created = api.post("/api/v1/integrations/", json={"name": "Prometheus", "type": "alertmanager"})
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.fixture(scope="module")
def mail_integration(api: httpx.Client) -> dict[str, Any]:
    created = api.post("/api/v1/integrations/", json={"name": "Alertmanager mail", "type": "inbound_email"})
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.fixture(scope="module")
def exporter() -> Iterator[MetricExporter]:
    with MetricExporter(value=0) as running:
        yield running


@pytest.fixture(scope="module")
def alertmanager(
    tmp_path_factory: pytest.TempPathFactory,
    stack: LocalStack,
    integration: dict[str, Any],
    mail_integration: dict[str, Any],
) -> Iterator[Alertmanager]:
    link = integration["link"]
    config = {
        "global": {
            "smtp_smarthost": f"127.0.0.1:{stack.smtp_port}",  # the local stack's SMTP server, no TLS
            "smtp_from": MAIL_FROM,
            "smtp_require_tls": False,
        },
        "route": {
            "receiver": "tocsin",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "3s",
            "routes": [
                {
                    "receiver": "tocsin-heartbeat",
                    "matchers": [f'alertname="{HEARTBEAT_RULE}"'],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "2s",
                },
                {
                    "receiver": "tocsin-mail",
                    "matchers": [f'alertname="{MAIL_RULE}"'],
                    "group_wait": "1s",
                    "repeat_interval": "1h",
                },
            ],
        },
        "receivers": [
            {"name": "tocsin", "webhook_configs": [{"url": link, "send_resolved": True}]},
            {"name": "tocsin-heartbeat", "webhook_configs": [{"url": f"{link}heartbeat/", "send_resolved": False}]},
            {"name": "tocsin-mail", "email_configs": [{"to": mail_integration["inbound_email"]}]},
        ],
    }
    with Alertmanager(Path(tmp_path_factory.mktemp("alertmanager")), config) as running:
        yield running


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, exporter: MetricExporter, alertmanager: Alertmanager
) -> Iterator[Prometheus]:
    rules = [
        {
            "alert": RULE,
            "expr": "tocsin_test_value > 0",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "the test gauge is {{ $value }}"},
        },
        {"alert": HEARTBEAT_RULE, "expr": "vector(1)"},
        {
            "alert": MAIL_RULE,
            "expr": "vector(1)",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "mailed by Alertmanager"},
        },
    ]
    with Prometheus(
        Path(tmp_path_factory.mktemp("prometheus")),
        scrape_targets=[exporter.target],
        rules=rules,
        alertmanager_url=alertmanager.url,
    ) as running:
        yield running


def groups(api: httpx.Client, integration: dict[str, Any]) -> list[dict[str, Any]]:
    page = api.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()
    return list(page["results"])


def rule_groups(api: httpx.Client, integration: dict[str, Any]) -> list[dict[str, Any]]:
    """Groups of the test rule, newest first."""
    return [g for g in groups(api, integration) if RULE in g["title"]]


def diagnostics(*processes: Alertmanager | Prometheus) -> str:
    return "\n".join(f"--- {p.name} log:\n{p.output()}" for p in processes)


@pytest.fixture(scope="module")
def first_group(
    api: httpx.Client,
    integration: dict[str, Any],
    exporter: MetricExporter,
    alertmanager: Alertmanager,
    prometheus: Prometheus,
) -> dict[str, Any]:
    """The group of the rule's first firing notification (the gauge flips to 1)."""
    exporter.set(1)
    try:
        [group] = wait_for(lambda: rule_groups(api, integration), SENDER_TIMEOUT, "the firing group")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{diagnostics(alertmanager, prometheus)}") from None
    return group


def test_rule_fires_resolves_and_fires_again(
    api: httpx.Client,
    integration: dict[str, Any],
    exporter: MetricExporter,
    prometheus: Prometheus,
    first_group: dict[str, Any],
) -> None:
    group = first_group
    assert group["state"] == "firing"
    # Alertmanager sends no numFiring: ingest counts alerts[].status, as OnCall does, for the default title.
    assert group["title"] == f"[1 firing] {RULE}", group["title"]
    payload = group["last_alert"]["payload"]
    assert payload["status"] == "firing" and payload["receiver"] == "tocsin" and payload["version"] == "4"
    assert payload["groupKey"] == f'{{}}:{{alertname="{RULE}"}}'
    assert payload["groupLabels"] == {"alertname": RULE}
    [alert] = payload["alerts"]
    labels = {"alertname": RULE, "severity": "critical", "job": "tocsin-test", "instance": exporter.target}
    assert alert["labels"] == labels and alert["status"] == "firing"
    assert alert["annotations"] == {"summary": "the test gauge is 1"}
    assert alert["generatorURL"].startswith(prometheus.url)
    assert group["source_link"] == alert["generatorURL"]

    # Alertmanager repeats the unchanged notification (repeat_interval 3 s here, 4 h by default): the same body
    # from the same integration within the retry window (3 minutes) is taken for a retry and stores nothing new,
    # so after three repeats the group still holds its one alert (OnCall would count each repeat; with the default
    # repeat_interval the two agree).
    time.sleep(3 * 3 + 2)
    [same] = rule_groups(api, integration)
    assert same["id"] == group["id"] and same["alerts_count"] == 1

    exporter.set(0)
    resolved = wait_for(
        lambda: [g for g in rule_groups(api, integration) if g["state"] == "resolved"], SENDER_TIMEOUT, "resolve"
    )
    assert [g["id"] for g in resolved] == [group["id"]]
    assert resolved[0]["last_alert"]["payload"]["status"] == "resolved"

    exporter.set(1)
    both = wait_for(lambda: len(g := rule_groups(api, integration)) == 2 and g, SENDER_TIMEOUT, "the second group")
    newest, oldest = both
    assert oldest["id"] == group["id"] and oldest["state"] == "resolved"
    assert newest["id"] != group["id"] and newest["state"] == "firing"
    assert newest["title"] == group["title"]
    exporter.set(0)  # leave the rule quiet for the next test


def test_alertmanager_email_becomes_an_inbound_email_alert(
    api: httpx.Client,
    mail_integration: dict[str, Any],
    stack: LocalStack,
    alertmanager: Alertmanager,
    prometheus: Prometheus,
) -> None:
    """Alertmanager's e-mail notifier (HTML only) to ``<token>@<inbound domain>`` through the stack's SMTP port."""
    assert mail_integration["inbound_email"].endswith(f"@{stack.inbound_domain}")
    try:
        [group] = wait_for(lambda: groups(api, mail_integration), SENDER_TIMEOUT, "the mailed alert")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{diagnostics(alertmanager, prometheus)}\n{stack.output()[-3000:]}") from None
    assert group["title"] == f"[FIRING:1] {MAIL_RULE} (warning)"
    assert group["state"] == "firing"
    payload = group["last_alert"]["payload"]
    assert payload["sender"] == MAIL_FROM and payload["subject"] == group["title"]
    # The notifier's HTML body, read as text: the alert's labels and annotations are there.
    for text in (f"alertname = {MAIL_RULE}", "severity = warning", "summary = mailed by Alertmanager"):
        assert text in payload["message"], payload["message"]


def test_heartbeat_stays_alive_until_alertmanager_stops(
    stack: LocalStack,
    api: httpx.Client,
    integration: dict[str, Any],
    alertmanager: Alertmanager,
    prometheus: Prometheus,
) -> None:
    from oncall import heartbeat
    from oncall.store.dynamodb import DynamoStore

    from local.dynamodb import client

    def status() -> dict[str, Any]:
        return dict(api.get(f"/api/v1/integrations/{integration['id']}/").json()["heartbeat"])

    beat = wait_for(lambda: (s := status())["status"] == "alive" and s, SENDER_TIMEOUT, "a live heartbeat")
    first_beat = beat["last_heartbeat_time"]
    wait_for(lambda: status()["last_heartbeat_time"] != first_beat, SENDER_TIMEOUT, "the next heartbeat")
    assert not [g for g in groups(api, integration) if "heartbeat" in g["title"]]

    alertmanager.stop()
    last_beat = datetime.fromisoformat(status()["last_heartbeat_time"])
    # The stack's own sweep runs once a minute; run one as if the timeout had passed.
    store = DynamoStore("tocsin", client=client(stack.dynamodb_endpoint))
    # (+30 s: a beat Alertmanager had in flight while stopping may land after last_beat was read)
    later = max(datetime.now(UTC), last_beat) + timedelta(seconds=beat["timeout_seconds"] + 30)
    assert heartbeat.check(store, later) == "Found 1 expired heartbeats"

    # "[1 firing] Prometheus heartbeat is missing": the heartbeat alert is shaped like Alertmanager's own.
    missing = [g for g in groups(api, integration) if g["title"].endswith("Prometheus heartbeat is missing")]
    assert len(missing) == 1 and missing[0]["state"] == "firing"
    assert status()["status"] == "expired"
    assert heartbeat.check(store, later + timedelta(seconds=120)) == "Found 0 expired heartbeats"
