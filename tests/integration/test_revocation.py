"""Revocation reaches every container within a second (issue #16.5).

Two handler modules are two execution environments ("containers") over one DynamoDB Local table, each with its own
caches. A revocation made through one (the real API) is refused by the other once its clock of the auth epoch has
turned one second; it is turned by hand, so nothing here sleeps.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from oncall import links
from oncall.store.dynamodb import DynamoStore
from oncall.store.epoch import INTERVAL

from tests.integration.conftest import SIGNING_KEY, Context, Invoke, http_event, load_handler, post_alert
from tests.integration.test_access import key_for, user

Call = Callable[..., tuple[int, Any]]


class Seconds:
    """A container's monotonic timer, turned by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def other(api: Invoke) -> tuple[Call, Seconds]:
    """A second api container (its own caches), with its epoch timer turned by hand."""
    module = load_handler("api")
    seconds = Seconds()
    module.container.store.auth_epoch.timer = seconds

    def call(method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        response = module.handler(http_event(method, path, body, headers={"authorization": key}), Context())
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    return call, seconds


def test_a_deleted_key_is_refused_everywhere_within_a_second(api: Invoke, other: tuple[Call, Seconds]) -> None:
    call, seconds = other
    viewer = user(api, "vera", "viewer")
    key = key_for(api, viewer["id"])
    assert call("GET", "/api/v1/integrations/", key)[0] == 200  # cached in the other container
    [entry] = [k for k in api("GET", "/api/v1/api_keys/")[1]["results"] if k["user_id"] == viewer["id"]]
    assert api("DELETE", f"/api/v1/api_keys/{entry['id']}/")[0] == 204
    assert api("GET", "/api/v1/integrations/", key_header=key)[0] == 401  # this container: at once
    seconds.now += INTERVAL
    assert call("GET", "/api/v1/integrations/", key) == (401, {"detail": "Invalid token."})


def test_a_deleted_users_key_is_refused_everywhere_within_a_second(api: Invoke, other: tuple[Call, Seconds]) -> None:
    call, seconds = other
    gone = user(api, "gone", "editor")
    key = key_for(api, gone["id"])
    assert call("GET", "/api/v1/integrations/", key)[0] == 200
    assert api("DELETE", f"/api/v1/users/{gone['id']}/")[0] == 204
    seconds.now += INTERVAL - 0.01
    assert call("GET", "/api/v1/integrations/", key)[0] == 200  # the epoch this container read is not a second old
    seconds.now += 0.01
    assert call("GET", "/api/v1/integrations/", key) == (401, {"detail": "Invalid token: its user no longer exists."})


def test_a_demoted_admin_loses_the_audit_log_everywhere_within_a_second(
    api: Invoke, other: tuple[Call, Seconds]
) -> None:
    call, seconds = other
    chief = user(api, "chief", "admin")
    key = key_for(api, chief["id"])
    assert call("GET", "/api/v1/audit_log/", key)[0] == 200
    assert api("PUT", f"/api/v1/users/{chief['id']}/", {"role": "viewer"})[0] == 200
    seconds.now += INTERVAL
    assert call("GET", "/api/v1/audit_log/", key)[0] == 403
    assert call("GET", "/api/v1/integrations/", key)[0] == 200  # still a viewer


def test_leaving_a_team_ends_its_rights_everywhere_within_a_second(api: Invoke, other: tuple[Call, Seconds]) -> None:
    call, seconds = other
    team = api("POST", "/api/v1/teams/", {"name": "db"})[1]
    editor = user(api, "ed", "editor", [team["id"]])
    key = key_for(api, editor["id"])
    integration = api("POST", "/api/v1/integrations/", {"name": "db", "type": "webhook", "team_id": team["id"]})[1]
    path = f"/api/v1/integrations/{integration['id']}/"
    assert call("PUT", path, key, {"name": "db 1"})[0] == 200
    assert api("PUT", f"/api/v1/users/{editor['id']}/", {"teams": []})[0] == 200
    seconds.now += INTERVAL
    assert call("PUT", path, key, {"name": "db 2"})[0] == 403


def ingest_container() -> tuple[ModuleType, Seconds]:
    """A second ingest container whose clock the test turns: its token cache follows the configuration version that
    comes back with its per-second count sync (:class:`oncall.ingest.IngestService`)."""
    module = load_handler("ingest")
    seconds = Seconds()
    service = module.service()
    service.timer = seconds
    service.store.auth_epoch.timer = seconds
    return module, seconds


def test_a_regenerated_ingest_token_is_refused_everywhere_within_a_second(api: Invoke) -> None:
    ingest, seconds = ingest_container()
    created = api("POST", "/api/v1/integrations/", {"name": "prom", "type": "webhook"})[1]
    assert post_alert(ingest, created["link"], {"message": "one"})[0] == 200  # the token is cached there
    status, regenerated = api("POST", f"/api/v1/integrations/{created['id']}/regenerate_token/")
    assert status == 200
    assert post_alert(ingest, regenerated["link"], {"message": "new token"})[0] == 200  # at once
    seconds.now += INTERVAL
    status, body = post_alert(ingest, created["link"], {"message": "old token"})
    assert status == 403 and body == {"detail": "Integration key was not found. Permission denied."}
    assert post_alert(ingest, regenerated["link"], {"message": "new token"})[0] == 200


def test_a_deleted_integrations_token_is_refused_everywhere_within_a_second(api: Invoke) -> None:
    ingest, seconds = ingest_container()
    created = api("POST", "/api/v1/integrations/", {"name": "prom", "type": "webhook"})[1]
    assert post_alert(ingest, created["link"], {"message": "one"})[0] == 200
    assert api("DELETE", f"/api/v1/integrations/{created['id']}/")[0] == 204
    seconds.now += INTERVAL
    assert post_alert(ingest, created["link"], {"message": "after"})[0] == 403


def test_a_container_reads_the_epoch_at_most_once_a_second(store: DynamoStore) -> None:
    seconds = Seconds()
    store.auth_epoch.timer = seconds
    before = store.requests
    epochs = [store.auth_epoch.current() for _ in range(50)]
    assert store.requests - before == 1 and set(epochs) == {0}
    store.auth_epoch.bump()  # as a revoking write does: read again at the next look, here at once
    assert store.auth_epoch.current() == 1
    seconds.now += 0.5
    assert store.auth_epoch.current() == 1 and store.requests - before == 3  # read, bump, read
    other = DynamoStore(store.table.name, client=store.table.client)
    other.auth_epoch.timer = seconds
    assert other.auth_epoch.current() == 1
    store.auth_epoch.bump()
    assert other.auth_epoch.current() == 1  # read half a second ago
    seconds.now += INTERVAL
    assert other.auth_epoch.current() == 2


# --- action links die with their recipient ----------------------------------------------------------------------


def _follow(method: str, token: str) -> tuple[int, str]:
    module = load_handler("api")
    response = module.handler(http_event(method, f"/actions/{token}"), Context())
    return response["statusCode"], html.unescape(response["body"])


def _group(api: Invoke) -> str:
    created = api("POST", "/api/v1/integrations/", {"name": "prom", "type": "webhook"})[1]
    status, body = post_alert(load_handler("ingest"), created["link"], {"message": "Disk full"})
    assert status == 200
    return str(body["alert_group_ids"][0])


def test_an_action_link_dies_when_its_recipient_loses_their_role_or_is_deleted(api: Invoke) -> None:
    group_id = _group(api)
    expires = api.container.clock.now() + links.DEFAULT_TTL  # type: ignore[attr-defined]
    ed, vi = user(api, "ed", "editor"), user(api, "vi", "viewer")

    def token(recipient: dict[str, Any], action: str = "acknowledge") -> str:
        return links.sign(action, group_id, recipient["id"], expires, SIGNING_KEY.encode(), recipient["role"])

    editors, viewers = token(ed), token(vi, "resolve")
    assert _follow("GET", editors)[0] == 200
    assert api("PUT", f"/api/v1/users/{ed['id']}/", {"role": "viewer"})[0] == 200
    for method in ("GET", "POST"):
        status, text = _follow(method, editors)
        assert status == 410 and "the person it was sent to was deleted or lost their role" in text
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"
    assert _follow("GET", token({**ed, "role": "viewer"}))[0] == 200  # sent after the demotion: works

    assert _follow("GET", viewers)[0] == 200  # a viewer acts by the link they were sent ...
    assert api("DELETE", f"/api/v1/users/{vi['id']}/")[0] == 204
    assert _follow("POST", viewers)[0] == 410  # ... until they are deleted
    legacy = links.sign("resolve", group_id, vi["id"], expires, SIGNING_KEY.encode())  # no role claim
    assert _follow("POST", legacy)[0] == 410
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"


def test_notification_links_carry_their_recipients_role(world: Any) -> None:
    from oncall import schemas
    from oncall.bootstrap import ensure_admin
    from oncall.services import alert_groups, people

    from tests.integration.escalation_world import ADMIN

    ensure_admin(world.store)
    alice = world.user("alice", role="editor", webhook_url="https://hooks.example/alice")
    world.rule(alice, type="notify_by_webhook")
    group_id = world.alert(world.integration(world.chain({"type": "notify_persons", "persons_to_notify": [alice]})))
    world.executor.run(world.services)
    [body] = world.notifier.bodies
    token = body["links"]["acknowledge"].rsplit("/", 1)[1]
    ports = world.ports
    ports.settings = dataclasses.replace(ports.settings, signing_key="test-key")
    assert alert_groups.open_link(ports, token).group.id == group_id
    people.update_user(ports, ADMIN, alice, schemas.UserPatch(role="viewer"))
    with pytest.raises(links.InvalidLink) as refused:
        alert_groups.open_link(ports, token)
    assert refused.value.reason == "revoked"
