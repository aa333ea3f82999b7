"""SSRF where users meet it, on DynamoDB Local: a URL pointing at a private address is refused when it is saved (the
real api handler and web console: 400 with the field's message, nothing stored) and when it is called (the
group's timeline says "refused: private address", and no connection is opened)."""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import socket
from collections.abc import Sequence
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from oncall import schemas
from oncall.directory import OutgoingWebhook
from oncall.notify.channels import AwsNotifier
from oncall.outbound import Policy, Refused
from oncall.outbound.client import Client
from oncall.outbound.policy import PLAIN_HTTP, PRIVATE, IPAddress
from oncall.services import webhooks

from tests.integration.conftest import Invoke
from tests.integration.escalation_world import ADMIN, World
from tests.integration.test_outbound_client import PRIVATE_URLS
from tests.integration.test_web_profile import _browser, _contacts, _person, _post

# Every form the issue found accepted (hosts a resolver reads as loopback, private or link-local addresses), and the
# other private ranges the client refuses.
FORMS = PRIVATE_URLS
PRIVATE_MESSAGE = Refused(PRIVATE).message
HTTP_MESSAGE = Refused(PLAIN_HTTP).message


def test_admins_cannot_create_users_or_webhooks_that_call_a_private_address(api: Invoke) -> None:
    for url in FORMS:
        user = api("POST", "/api/v1/users/", {"username": "mallory", "webhook_url": url})
        assert user == (400, {"webhook_url": [PRIVATE_MESSAGE]}), url
        hook = api("POST", "/api/v1/webhooks/", {"name": "scan", "url": url})
        assert hook == (400, {"url": [PRIVATE_MESSAGE]}), url
    assert [u["username"] for u in api("GET", "/api/v1/users/")[1]["results"]] == ["admin"]
    assert api("GET", "/api/v1/webhooks/")[1]["results"] == []
    assert api("POST", "/api/v1/webhooks/", {"name": "ops", "url": "http://hooks.example.com/ops"}) == (
        400,
        {"url": [HTTP_MESSAGE]},
    )
    assert api("POST", "/api/v1/webhooks/", {"name": "ops", "url": "https://hooks.example.com/ops"})[0] == 201


def test_a_viewer_cannot_point_their_own_webhook_at_a_private_address(api: Invoke, store: Any) -> None:
    vera, key = _person(api, "vera", role="viewer")
    path = f"/api/v1/users/{vera['id']}/"
    assert api("PATCH", path, {"webhook_url": "https://hooks.example.com/vera"}, key_header=key)[0] == 200
    for url in FORMS:
        assert api("PATCH", path, {"webhook_url": url}, key_header=key) == (400, {"webhook_url": [PRIVATE_MESSAGE]})
    assert api("GET", path)[1]["webhook_url"] == schemas.MASK  # write-only: set, not shown
    assert store.users.get(vera["id"]).webhook_url == "https://hooks.example.com/vera"


def test_outgoing_webhooks_cannot_be_moved_to_a_private_address(api: Invoke) -> None:
    status, hook = api("POST", "/api/v1/webhooks/", {"name": "ops", "url": "https://hooks.example.com/ops"})
    assert status == 201
    for url in FORMS:
        for method in ("PUT", "PATCH"):
            answer = api(method, f"/api/v1/webhooks/{hook['id']}/", {"url": url})
            assert answer == (400, {"url": [PRIVATE_MESSAGE]}), (method, url)
    assert api("GET", f"/api/v1/webhooks/{hook['id']}/")[1]["url"] == "https://hooks.example.com/ops"


def test_calendars_are_not_fetched_from_a_private_address(api: Invoke) -> None:
    urls = [*FORMS, "webcal://169.254.169.254/latest/meta-data/"]
    for url in urls:
        created = api("POST", "/api/v1/schedules/", {"name": "cal", "type": "ical", "ical_url_primary": url})
        assert created == (400, {"ical_url_primary": [PRIVATE_MESSAGE]}), url
    status, schedule = api("POST", "/api/v1/schedules/", {"name": "web"})
    assert status == 201
    for url in urls:
        changed = api("PATCH", f"/api/v1/schedules/{schedule['id']}/", {"ical_url_overrides": url})
        assert changed == (400, {"ical_url_overrides": [PRIVATE_MESSAGE]}), url
        imported = api("POST", f"/api/v1/schedules/{schedule['id']}/import", {"url": url})
        assert imported == (400, {"url": [PRIVATE_MESSAGE]}), url
    assert api("GET", f"/api/v1/schedules/{schedule['id']}/")[1]["ical_url_overrides"] is None


def test_the_console_refuses_a_private_webhook_url_on_the_profile_page(
    web: ModuleType, admin_key: str, api: Invoke
) -> None:
    vera, key = _person(api, "vera", role="viewer")
    me = _browser(web, key)
    refused = _post(me, f"/ui/users/{vera['id']}/profile", _contacts(webhook_url=FORMS[0]))
    page = html.unescape(refused["body"])
    assert refused["statusCode"] == 400 and f"Webhook URL: {PRIVATE_MESSAGE}" in page
    assert api("GET", f"/api/v1/users/{vera['id']}/")[1]["webhook_url"] is None


# --- when called ----------------------------------------------------------------------------------------------

RESOLVES_PRIVATE = {"vpc.test": "10.0.0.1", "metadata.test": "169.254.169.254"}


def resolve(host: str, port: int) -> Sequence[IPAddress]:
    return [ipaddress.ip_address(RESOLVES_PRIVATE[host])]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records any TCP connection attempt, and fails it: nothing here may reach the network."""
    attempts: list[Any] = []

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts


def test_a_private_target_is_refused_when_called_and_the_timeline_says_so(world: World, connections: list[Any]) -> None:
    notifier = AwsNotifier(http=Client(Policy(), resolver=resolve), sleep=lambda _: None)
    services = dataclasses.replace(world.services, notifier=notifier)
    # a name passes the check when saved, and resolves to a private address when called
    named = webhooks.create_webhook(world.ports, ADMIN, schemas.WebhookIn(name="vpc", url="https://vpc.test/hook"))
    # webhooks saved before URLs were checked (straight into the table): every form the issue found
    legacy = [OutgoingWebhook(id=f"WHLEGACY{n}", name=f"legacy {n}", url=url) for n, url in enumerate(FORMS)]
    for hook in legacy:
        world.store.webhooks.put(hook, new=True)
    alice = world.user("alice", webhook_url="https://metadata.test/alice?token=secret")
    world.rule(alice, type="notify_by_webhook")
    chain = world.chain(
        *({"type": "trigger_webhook", "action_to_trigger": hook_id} for hook_id in [named.id, *(h.id for h in legacy)]),
        {"type": "notify_persons", "persons_to_notify": [alice]},
    )
    group = world.alert(world.integration(chain))
    world.executor.run(services)

    timeline = world.timeline(group)
    assert 'Webhook "vpc" failed: refused: private address (vpc.test)' in timeline
    for hook in legacy:
        host = urlsplit(hook.url).hostname
        assert f'Webhook "{hook.name}" failed: refused: private address ({host})' in timeline
    assert "webhook to alice failed: refused: private address (metadata.test)" in timeline
    assert connections == []
