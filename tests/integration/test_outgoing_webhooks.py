"""Outgoing webhooks as OnCall has them (issue #17.4) and their write-only secrets (issue #16.4).

Through the real api handler for the API's shapes (the requests the Terraform provider sends, from
grafana/terraform-provider-grafana's resource_outgoing_webhook.go and grafana/amixr-api-go-client's webhook.go),
and through the escalation world (DynamoDB Local, the real use cases, the state machine's loop on a virtual clock)
for when they fire and what they send, to a real HTTP server on 127.0.0.1 through the guarded client.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from oncall import schemas
from oncall.directory import WebhookResponse
from oncall.models import Integration
from oncall.notify.channels import AwsNotifier
from oncall.outbound import ALLOW_HTTP_ENV, ALLOW_LOOPBACK_ENV
from oncall.outbound.client import Client
from oncall.outbound.policy import Policy
from oncall.services import integrations, webhooks
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Invoke
from tests.integration.escalation_world import ADMIN, START, World
from tests.integration.test_access import key_for, user
from tests.integration.web_browser import Browser
from tests.support.receiver import Receiver, reply

MASK = "****************"


def provider_create(**fields: Any) -> dict[str, Any]:
    """The body of ``CreateWebhookOptions`` as the provider sends it: every field, unset ones empty or null."""
    return {
        "preset": "",
        "name": "tickets",
        "team": "",
        "url": "https://tickets.example.com/api",
        "trigger_type": "escalation",
        "http_method": "POST",
        "data": None,
        "username": None,
        "password": None,
        "authorization_header": None,
        "trigger_template": None,
        "headers": None,
        "forward_all": False,
        "integration_filter": None,
        "is_webhook_enabled": True,
        **fields,
    }


# --- the API ------------------------------------------------------------------------------------------------------


def test_the_terraform_providers_requests_work_and_read_back_without_drift(api: Invoke) -> None:
    status, integration = api("POST", "/api/v1/integrations/", {"name": "prom", "type": "alertmanager"})
    assert status == 201, integration
    written = provider_create(
        trigger_type="acknowledge",
        http_method="PUT",
        data='{"id": "{{ alert_group_id }}", "title": "{{ alert_group.title }}"}',
        headers='{"X-Team": "db"}',
        authorization_header="Bearer s3cret",
        integration_filter=[integration["id"]],
    )
    status, created = api("POST", "/api/v1/webhooks/", written)
    assert status == 201, created
    status, read = api("GET", f"/api/v1/webhooks/{created['id']}/")
    assert status == 200
    # what the provider's Read sets into its state, compared with what was configured
    for field in ("name", "url", "data", "trigger_type", "http_method", "headers", "integration_filter"):
        assert read[field] == written[field], field
    assert read["team"] in (None, "") and read["forward_all"] is False and read["is_webhook_enabled"] is True
    assert read["authorization_header"] == MASK and read["password"] is None  # set / not set, never the value

    updated = provider_create(name="tickets v2", trigger_type="status change", authorization_header="Bearer s3cret")
    status, after = api("PUT", f"/api/v1/webhooks/{created['id']}/", updated)
    assert status == 200, after
    assert (after["name"], after["trigger_type"], after["data"], after["integration_filter"]) == (
        "tickets v2", "status change", None, None,
    )  # fmt: skip
    assert api("DELETE", f"/api/v1/webhooks/{created['id']}/")[0] == 204
    assert api("GET", f"/api/v1/webhooks/{created['id']}/")[0] == 404


def test_oncall_defaults_and_refusals(api: Invoke) -> None:
    status, made = api("POST", "/api/v1/webhooks/", {"name": "plain", "url": "https://hooks.example.com/x"})
    assert status == 201, made
    assert (made["trigger_type"], made["http_method"], made["forward_all"], made["integration_filter"]) == (
        "escalation", "POST", True, None,
    )  # fmt: skip
    assert api("PATCH", f"/api/v1/webhooks/{made['id']}/", {"forward_whole_payload": False})[1]["forward_all"] is False
    refused = {
        "trigger_type": ({"trigger_type": "sometimes"}, "trigger_type must one of"),
        "http_method": ({"http_method": "BREW"}, "Must be one of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']"),
        "data": ({"data": "{{ alert_payload"}, "unexpected end of template"),
        "headers": ({"headers": "[1, 2]"}, "Template did not result in json/dict"),
        "integration_filter": ({"integration_filter": ["CNOSUCH"]}, "integration_filter must be a list of valid"),
        "preset": ({"preset": "grafana_sift"}, "Preset webhooks must be modified through web UI"),
    }
    for field, (body, message) in refused.items():
        status, errors = api("POST", "/api/v1/webhooks/", {"name": f"bad {field}", "url": "https://h.example/", **body})
        assert status == 400 and message in str(errors[field]), (field, errors)


def test_secrets_are_write_only_for_everyone_and_kept_when_not_sent(api: Invoke) -> None:
    viewer_key = key_for(api, user(api, "vera", "viewer")["id"])
    status, made = api(
        "POST",
        "/api/v1/webhooks/",
        {
            "name": "pager",
            "url": "https://hooks.example.com/p",
            "authorization_header": "Bearer top-secret",
            "username": "bot",
            "password": "hunter2",
            "headers": {"Content-Type": "application/json", "X-Api-Key": "k-123"},
        },
    )
    assert status == 201, made
    path = f"/api/v1/webhooks/{made['id']}/"
    for key in (None, viewer_key):  # the admin who wrote it, and a viewer
        _, page = api("GET", "/api/v1/webhooks/", **({"key_header": key} if key else {}))
        _, one = api("GET", path, **({"key_header": key} if key else {}))
        for shown in (page["results"][0], one, made):
            text = json.dumps(shown)
            assert "top-secret" not in text and "hunter2" not in text and "k-123" not in text
            assert shown["authorization_header"] == MASK and shown["password"] == MASK
            assert json.loads(shown["headers"]) == {"Content-Type": "application/json", "X-Api-Key": MASK}
            assert shown["username"] == "bot"

    # a PATCH without them, and a PUT that sends back what it read (the masks), keep them
    assert api("PATCH", path, {"name": "pager 2"})[0] == 200
    _, read = api("GET", path)
    assert api("PUT", path, {**read, "url": "https://hooks.example.com/p2"})[0] == 200
    stored = api.container.store.webhooks.get(made["id"])  # type: ignore[attr-defined]
    assert (stored.authorization_header, stored.password) == ("Bearer top-secret", "hunter2")
    assert json.loads(stored.headers) == {"Content-Type": "application/json", "X-Api-Key": "k-123"}
    # null clears, as in OnCall; a new value replaces
    assert api("PATCH", path, {"password": None, "authorization_header": "Bearer new"})[1]["password"] is None
    stored = api.container.store.webhooks.get(made["id"])  # type: ignore[attr-defined]
    assert (stored.authorization_header, stored.password) == ("Bearer new", None)


# --- when they fire, and what they send ---------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def sending(world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> World:
    """The world sending webhooks for real, through the guarded client, to the receiver on 127.0.0.1."""
    monkeypatch.setenv(ALLOW_HTTP_ENV, "1")  # URLs are checked when saved, too
    monkeypatch.setenv(ALLOW_LOOPBACK_ENV, "1")
    notifier = AwsNotifier(http=Client(Policy(allow_http=True, allow_loopback=True)), sleep=lambda _: None)
    world.services = dataclasses.replace(world.services, notifier=notifier)
    return world


def hook(world: World, receiver: Receiver, path: str = "/hook", **fields: Any) -> str:
    body = schemas.WebhookIn.model_validate({"name": path, "url": f"http://127.0.0.1:{receiver.port}{path}", **fields})
    return webhooks.create_webhook(world.ports, ADMIN, body).id


def named_integration(world: World, name: str) -> Integration:
    body = schemas.IntegrationIn(name=name, type="formatted_webhook")
    return integrations.create_integration(world.ports, ADMIN, body).integration


def test_state_changes_fire_their_webhooks_with_the_templates_rendered(sending: World, receiver: Receiver) -> None:
    world = sending
    integration, other = named_integration(world, "prom"), named_integration(world, "zabbix")
    hook(
        world,
        receiver,
        "/ack",
        trigger_type="acknowledge",
        http_method="PUT",
        forward_all=False,
        data='{"group": "{{ alert_group_id }}", "by": "{{ user.username }}", "said": "{{ alert_payload.note }}"}',
        headers='{"X-Group": "{{ alert_group_id }}"}',
        authorization_header="Bearer s3cret",
    )
    hook(world, receiver, "/status", trigger_type="status change", integration_filter=[integration.id])
    hook(world, receiver, "/created", trigger_type="alert group created", http_method="GET")
    hook(world, receiver, "/off", trigger_type="status change", is_webhook_enabled=False)
    hook(world, receiver, "/never", trigger_type="resolve", trigger_template="{{ alert_payload.severity == 'x' }}")
    alice = world.user("alice")

    group = world.alert(integration, note='disk "/var" at 99%')
    world.executor.run(world.services)
    world.act(group, "acknowledge", by=dataclasses.replace(ADMIN, user_id=alice))
    world.act(group, "resolve")
    world.alert(other)  # another integration: not for /status
    world.executor.run(world.services)

    seen = [(r.method, r.path) for r in receiver.received]
    assert sorted(seen) == sorted(
        [("GET", "/created"), ("GET", "/created"), ("PUT", "/ack"), ("POST", "/status"), ("POST", "/status")]
    )
    [ack] = [r for r in receiver.received if r.path == "/ack"]
    assert ack.headers["authorization"] == "Bearer s3cret" and ack.headers["x-group"] == group
    assert json.loads(ack.body) == {"group": group, "by": "alice", "said": 'disk "/var" at 99%'}
    statuses = [json.loads(r.body) for r in receiver.received if r.path == "/status"]
    assert [s["event"]["type"] for s in statuses] == ["acknowledge", "resolve"]  # the whole event, OnCall's shape
    assert statuses[1]["alert_group"]["state"] == "resolved" and statuses[1]["alert_payload"]["note"]
    assert 'Webhook "/ack" (acknowledge) sent (HTTP 200)' in world.timeline(group)


def test_5xx_and_timeouts_are_retried_with_backoff_then_the_last_response_is_shown(
    sending: World, receiver: Receiver, api: Invoke
) -> None:
    world = sending
    answers = iter([reply(503, b"busy"), reply(502, b"still busy"), reply(201, b'{"ticket": 42}')])
    receiver.routes["/flaky"] = lambda handler: next(answers)(handler)
    flaky = hook(world, receiver, "/flaky", trigger_type="alert group created")
    receiver.routes["/down"] = reply(500, b"x" * 10_000)
    down = hook(world, receiver, "/down", trigger_type="alert group created")
    receiver.routes["/gone"] = reply(404, b"no such thing")
    gone = hook(world, receiver, "/gone", trigger_type="alert group created")

    group = world.alert(named_integration(world, "prom"))
    world.executor.run(world.services)

    assert [r.path for r in receiver.received].count("/flaky") == 3
    assert [r.path for r in receiver.received].count("/down") == 3
    assert [r.path for r in receiver.received].count("/gone") == 1  # a 4xx is not retried
    waits = sorted(seconds for name, seconds in world.executor.waits if "wh-" in name)
    assert waits == [10, 10, 60, 60]  # two retries each for /flaky and /down
    timeline = world.timeline(group)
    assert any("/flaky" in t and "answered 503; trying again in 10 s" in t for t in timeline)
    assert 'Webhook "/flaky" (alert group created) sent (HTTP 201)' in timeline
    assert any(t.endswith("answered 500 (3 attempts)") for t in timeline)

    flaky_last = world.store.webhooks.get(flaky).last_response
    assert flaky_last is not None
    assert (flaky_last.status_code, flaky_last.content, flaky_last.attempts, flaky_last.group_id) == (
        201, '{"ticket": 42}', 3, group,
    )  # fmt: skip
    assert flaky_last.at == START + timedelta(seconds=70)
    _, shown = api("GET", f"/api/v1/webhooks/{down}/")
    log = shown["last_response_log"]
    assert (log["status_code"], log["attempts"], log["request_trigger"]) == (500, 3, "alert group created")
    assert len(log["content"]) == 2000  # an excerpt
    assert api("GET", f"/api/v1/webhooks/{gone}/")[1]["last_response_log"]["content"] == "no such thing"


def test_the_escalation_step_sends_the_secret_and_a_failing_template_is_reported(
    sending: World, receiver: Receiver
) -> None:
    world = sending
    good = hook(world, receiver, "/good", username="bot", password="hunter2", forward_all=False, data="plain text")
    bad = hook(world, receiver, "/bad", forward_all=False, data="{{ (alert_payload.title | length) / 0 }}")
    chain = world.chain(
        {"type": "trigger_webhook", "action_to_trigger": good},
        {"type": "trigger_webhook", "action_to_trigger": bad},
    )
    group = world.alert(world.integration(chain))
    world.executor.run(world.services)
    [sent] = receiver.received
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"bot:hunter2").decode()
    assert sent.body == b"plain text"  # not JSON: sent as it is
    timeline = world.timeline(group)
    assert 'Webhook "/good" sent (HTTP 200)' in timeline
    assert any(t.startswith('Webhook "/bad" failed: Data - ') for t in timeline), timeline


# --- the console --------------------------------------------------------------------------------------------------


def test_the_console_lists_webhooks_with_their_last_response_and_never_a_secret(
    api: Invoke, web: ModuleType, store: DynamoStore
) -> None:
    admin = Browser(web)
    admin.sign_in(key_for(api, user(api, "ada", "admin")["id"]))
    token = admin.csrf("/ui/webhooks")
    form = [
        ("csrf_token", token), ("name", "tickets"), ("url", "https://tickets.example.com/new"),
        ("trigger_type", "resolve"), ("http_method", "PUT"), ("authorization_header", "Bearer top-secret"),
    ]  # fmt: skip
    created = admin.call("POST", "/ui/webhooks", form, referer="https://tocsin.test/ui/webhooks")  # type: ignore[arg-type]
    assert created["statusCode"] == 303 and "error" not in created["headers"]["Location"], created
    [made] = api("GET", "/api/v1/webhooks/")[1]["results"]
    assert (made["trigger_type"], made["http_method"], made["authorization_header"]) == ("resolve", "PUT", MASK)
    store.webhooks.record_response(
        made["id"],
        WebhookResponse(at=START, trigger="resolve", group_id="IGROUP1", status_code=502, content="<h1>Bad gateway"),
    )

    viewer = Browser(web)
    viewer.sign_in(key_for(api, user(api, "vic", "viewer")["id"]))
    for browser in (admin, viewer):
        shown = browser.call("GET", "/ui/webhooks")
        assert shown["statusCode"] == 200
        body = html.unescape(shown["body"])
        assert "tickets" in body and "PUT https://tickets.example.com/new" in body
        assert "502" in body and "2026-11-30 09:00:00 UTC" in body and "<h1>Bad gateway" in body  # as text
        assert "top-secret" not in body and "Set: Authorization header (hidden)" in body
    assert "Create outgoing webhook" not in html.unescape(viewer.call("GET", "/ui/webhooks")["body"])
    refused = viewer.call(
        "POST", f"/ui/webhooks/{made['id']}/delete", [("csrf_token", viewer.csrf("/ui/webhooks"))],  # type: ignore[arg-type]
        referer="https://tocsin.test/ui/webhooks",
    )  # fmt: skip
    assert refused["statusCode"] == 403
    assert api("GET", f"/api/v1/webhooks/{made['id']}/")[0] == 200


def test_a_later_webhook_of_the_group_sees_what_an_earlier_one_answered(sending: World, receiver: Receiver) -> None:
    world = sending
    receiver.routes["/open"] = reply(201, b'{"ticket": 42}')
    opened = hook(world, receiver, "/open", trigger_type="alert group created")
    hook(
        world,
        receiver,
        "/close",
        trigger_type="resolve",
        forward_all=False,
        data='{"close": {{ responses.' + opened + ".ticket }}}",
    )
    group = world.alert(named_integration(world, "prom"))
    world.executor.run(world.services)
    world.act(group, "resolve")
    world.executor.run(world.services)
    [close] = [r for r in receiver.received if r.path == "/close"]
    assert json.loads(close.body) == {"close": 42}
    other = world.alert(named_integration(world, "zabbix"))  # another group: its own responses only
    world.executor.run(world.services)
    assert world.store.webhooks.responses(other) == {opened: '{"ticket": 42}'}
    world.store.groups.delete(group)
    assert world.store.webhooks.responses(group) == {}  # gone with the group
