"""Tocsin is never silently down: the dead-man's switch ping of the minute sweep, the metrics the alarms watch,
the domain's logs as the handlers' JSON with the request's correlation id, and the console's warning when alarms
reach nobody. Handlers are the real ones, on DynamoDB Local; the pinged monitor is a real HTTP server."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from oncall import telemetry
from oncall.notify.channels import NotificationFailed
from oncall.settings import Env

from local.dynamodb import free_port
from tests.integration.conftest import Context, http_event, load_handler
from tests.integration.escalation_world import World
from tests.integration.web_browser import Browser

REPO = Path(__file__).resolve().parents[2]
SECRET_PATH = "/ping/5f3c0a8e-secret-check-id"


@dataclass
class Monitor:
    """A healthchecks-style endpoint on 127.0.0.1: records each request's method and path, answers ``status``."""

    status: int = 200
    requests: list[tuple[str, str]] = field(default_factory=list)

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}{SECRET_PATH}?rid=1"


@pytest.fixture
def monitor() -> Iterator[tuple[Monitor, str]]:
    state = Monitor()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, state.url(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sweep(table_name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The heartbeat_check handler with the service name CDK gives it, its metrics printed (as in Lambda)."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", telemetry.service_name("heartbeat_check"))
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv(Env.OUTBOUND_ALLOW_HTTP, "1")  # the monitor below listens on plain http, on loopback
    monkeypatch.setenv(Env.OUTBOUND_ALLOW_LOOPBACK, "1")
    telemetry.drain()
    return load_handler("heartbeat_check")


def with_deadman_url(sweep: ModuleType, url: str | None) -> None:
    """The deployment's ``deadman_url`` setting, as the stack would give it to the function."""
    sweep.container.settings = dataclasses.replace(sweep.container.settings, deadman_url=url)


def published(capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """What the handlers printed as CloudWatch EMF: (metric, dimensions) -> sum of the values."""
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in capsys.readouterr().out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        dimensions = tuple(sorted((name, document[name]) for name in directive["Dimensions"][0]))
        for metric in directive["Metrics"]:
            values = document[metric["Name"]]
            key = (metric["Name"], dimensions)
            totals[key] = totals.get(key, 0.0) + sum(values if isinstance(values, list) else [values])
    return totals


SWEEP_SERVICE = (("service", "tocsin-heartbeat_check"),)


def test_every_completed_sweep_pings_the_dead_mans_switch_once(
    sweep: ModuleType, monitor: tuple[Monitor, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state, url = monitor
    with_deadman_url(sweep, url)
    for _ in range(3):
        sweep.handler({}, Context())
    assert state.requests == [("GET", f"{SECRET_PATH}?rid=1")] * 3
    metrics = published(capsys)
    assert metrics[(telemetry.SWEEPS, SWEEP_SERVICE)] == 3
    assert metrics[(telemetry.OLDEST_DEFERRED_START_AGE, SWEEP_SERVICE)] == 0  # nothing waits to start
    assert (telemetry.DEADMAN_PINGS_FAILED, SWEEP_SERVICE) not in metrics


@pytest.mark.parametrize("failure", ["HTTP 503", "ConnectError"])
def test_a_failing_ping_is_logged_and_counted_and_never_fails_the_sweep(
    failure: str,
    sweep: ModuleType,
    monitor: tuple[Monitor, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, url = monitor
    if failure == "HTTP 503":
        state.status = 503
    else:
        url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"  # nothing listens there
    with_deadman_url(sweep, url)
    with caplog.at_level("WARNING", logger="oncall.deadman"):
        result = sweep.handler({}, Context())
    assert result["result"].startswith("Found 0 expired heartbeats")  # the sweep did its work
    metrics = published(capsys)
    assert metrics[(telemetry.DEADMAN_PINGS_FAILED, SWEEP_SERVICE)] == 1
    assert metrics[(telemetry.SWEEPS, SWEEP_SERVICE)] == 1
    assert f"ping to 127.0.0.1 failed: {failure}" in caplog.text
    assert "secret-check-id" not in caplog.text  # such URLs carry a secret: only the host is logged


def test_without_a_url_the_sweep_pings_nothing(
    sweep: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with_deadman_url(sweep, None)
    sweep.handler({}, Context())
    assert "outbound" not in vars(sweep.container)  # not even an HTTP client was made
    assert published(capsys)[(telemetry.SWEEPS, SWEEP_SERVICE)] == 1


def test_notifications_are_counted_per_channel_sent_and_failed(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    sent = world.notifier.email

    def email(to: str, notification: Any) -> None:
        if to.startswith("bob@"):
            raise NotificationFailed("SES refused: MessageRejected")
        sent(to, notification)

    world.notifier.email = email  # type: ignore[method-assign]
    integration = world.integration(world.chain({"type": "notify_persons", "persons_to_notify": [alice, bob]}))
    telemetry.drain()
    world.alert(integration)
    world.executor.run(world.services)
    recorded = telemetry.drain()
    by_name = {(r.name, tuple(r.dimensions.items())): r.value for r in recorded}
    assert by_name[(telemetry.NOTIFICATIONS_SENT, (("channel", "email"),))] == 1
    assert by_name[(telemetry.NOTIFICATIONS_FAILED, (("channel", "email"),))] == 1


def test_metrics_are_published_as_emf_with_the_dimensions_the_alarms_watch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The alarms (infra/) watch namespace Tocsin, {service: tocsin-<function>} plus channel where there is one."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", telemetry.service_name("escalation_step"))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Tocsin")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    telemetry.drain()
    telemetry.count(telemetry.NOTIFICATIONS_FAILED, channel="sms")
    telemetry.count(telemetry.NOTIFICATIONS_FAILED, channel="sms")
    telemetry.gauge(telemetry.OLDEST_DEFERRED_START_AGE, 42.0)
    telemetry.flush()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_metric = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in documents}
    failed = by_metric[telemetry.NOTIFICATIONS_FAILED]
    assert failed["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Tocsin"
    assert sorted(failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["channel", "service"]
    assert (failed["channel"], failed["service"], failed[telemetry.NOTIFICATIONS_FAILED]) == (
        "sms",
        "tocsin-escalation_step",
        [2.0],  # the two counts, summed in the invocation
    )
    age = by_metric[telemetry.OLDEST_DEFERRED_START_AGE]
    assert age["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert age["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Seconds"
    assert telemetry.drain() == []  # flushed


def test_in_lambda_the_domain_logs_the_handlers_json_with_the_request_correlation_id(
    dynamodb_endpoint: str, tmp_path: Path
) -> None:
    """A storage failure in ingest: the domain's log record (oncall.ingest_http) is the handler's JSON, with the
    API Gateway request id as correlation id. In a fresh interpreter, as a Lambda container is."""
    script = tmp_path / "invoke.py"
    event = http_event(
        "POST",
        "/integrations/v1/webhook/tok/",
        {"title": "x"},
        path_parameters={"type": "webhook", "token": "tok"},
    )
    event["requestContext"]["requestId"] = "Req-1234"
    script.write_text(
        "import importlib.util, json, sys\n"
        f"sys.path[:0] = [{str(REPO / 'layers/core/python')!r}, {str(REPO)!r}]\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(REPO / 'functions/ingest/handler.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "from tests.integration.conftest import Context\n"
        f"event = json.loads({json.dumps(json.dumps(event))})\n"
        "print(json.dumps({'status': module.handler(event, Context())['statusCode']}))\n"
    )
    env = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "Tocsin-HttpIngestFunction",
        "POWERTOOLS_SERVICE_NAME": "tocsin-ingest",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "TOCSIN_TABLE": "no-such-table",  # every read fails: a StoreError, logged by the domain
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("POWERTOOLS_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1] == {"status": 503}, result.stdout + result.stderr
    [domain] = [line for line in lines if line.get("name") == "oncall.ingest_http"]
    assert domain["level"] == "ERROR" and domain["message"] == "storing the alert or heartbeat failed"
    assert domain["service"] == "tocsin-ingest" and domain["correlation_id"] == "Req-1234"
    assert "StoreError" in domain["exception"] or "ResourceNotFound" in domain["exception"]
    assert not [line for line in result.stderr.splitlines() if "storing the alert" in line]  # no plain-text copy


def test_the_console_header_warns_when_alarms_reach_nobody(
    web: ModuleType, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser(web)
    web.container.settings = dataclasses.replace(web.container.settings, alarms_reach_nobody=True)
    assert "alarms-reach-nobody" not in browser.call("GET", "/ui/signin")["body"]  # not told to the world
    browser.sign_in(admin_key)
    page = browser.call("GET", "/ui/groups")["body"]
    assert 'id="alarms-reach-nobody"' in page and "alarm_email" in page
    web.container.settings = dataclasses.replace(web.container.settings, alarms_reach_nobody=False)
    assert "alarms-reach-nobody" not in browser.call("GET", "/ui/groups")["body"]
