"""Access control through the real api handler: roles, team scope, API keys, throttling, audit, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from oncall.access import Authenticator
from oncall.clock import SYSTEM_CLOCK
from oncall.services.api_keys import issue
from oncall.settings import RateLimit
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Invoke, post_alert


def user(api: Invoke, name: str, role: str, teams: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/users/", {"username": name, "role": role, "teams": teams or [], **extra})
    assert status == 201, body
    return body


def key_for(api: Invoke, user_id: str) -> str:
    status, body = api("POST", "/api/v1/api_keys/", {"name": "k", "user_id": user_id})
    assert status == 201, body
    return str(body["key"])


@pytest.fixture
def team(api: Invoke) -> dict[str, Any]:
    return api("POST", "/api/v1/teams/", {"name": "db"})[1]


@pytest.fixture
def keys(api: Invoke, team: dict[str, Any]) -> dict[str, str]:
    names = {"viewer": "viewer", "editor": "editor", "admin": "chief"}  # "admin" is the bootstrap user
    return {role: key_for(api, user(api, name, role, [team["id"]])["id"]) for role, name in names.items()}


# (method, path, body, permission class); bodies are valid enough that a permitted call never answers 403.
CALLS = [
    ("GET", "/api/v1/integrations/", None, "read"),
    ("GET", "/api/v1/alert_groups/", None, "read"),
    ("POST", "/api/v1/integrations/", {"name": "new", "type": "webhook"}, "configure"),
    ("POST", "/api/v1/escalation_chains/", {"name": "chain"}, "configure"),
    ("POST", "/api/v1/alert_groups/bulk_action/", {"alert_group_ids": ["INOPE"], "action": "resolve"}, "act"),
    ("POST", "/api/v1/teams/", {"name": "another"}, "admin"),
    ("POST", "/api/v1/users/", {"username": "someone"}, "admin"),
    ("GET", "/api/v1/api_keys/", None, "read"),  # one's own keys (admins: everyone's)
    ("POST", "/api/v1/api_keys/", {"name": "own"}, "read"),
    ("GET", "/api/v1/audit_log/", None, "admin"),
]
ALLOWED = {"viewer": {"read"}, "editor": {"read", "act", "configure"}, "admin": {"read", "act", "configure", "admin"}}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize(("method", "path", "body", "permission"), CALLS)
def test_role_matrix(
    api: Invoke, keys: dict[str, str], role: str, method: str, path: str, body: Any, permission: str
) -> None:
    status, answer = api(method, path, body, key_header=keys[role])
    if permission in ALLOWED[role]:
        assert status < 400, answer
    else:
        assert status == 403 and answer == {"detail": "You do not have permission to perform this action."}


def test_no_key_401_and_revoked_key_401(api: Invoke, keys: dict[str, str]) -> None:
    assert api("GET", "/api/v1/integrations/", key_header=None)[0] == 401
    listed = api("GET", "/api/v1/api_keys/")[1]["results"]
    assert all("key" not in k or k["key"] is None for k in listed)  # secrets are never listed
    viewer_key = keys["viewer"]
    [entry] = [k for k in listed if viewer_key.startswith(k["prefix"]) and k["name"] == "k" and k["prefix"]][:1]
    assert api("DELETE", f"/api/v1/api_keys/{entry['id']}/")[0] == 204
    assert api("GET", "/api/v1/integrations/", key_header=viewer_key) == (401, {"detail": "Invalid token."})


def test_every_user_manages_only_their_own_api_keys(api: Invoke, keys: dict[str, str]) -> None:
    users = {u["username"]: u["id"] for u in api("GET", "/api/v1/users/")[1]["results"]}
    viewer = keys["viewer"]
    status, created = api("POST", "/api/v1/api_keys/", {"name": "laptop"}, key_header=viewer)
    assert status == 201 and created["user_id"] == users["viewer"] and created["key"]
    assert api("GET", "/api/v1/integrations/", key_header=created["key"])[0] == 200  # acts as the viewer
    listed = api("GET", "/api/v1/api_keys/", key_header=viewer)[1]["results"]
    assert {k["user_id"] for k in listed} == {users["viewer"]} and len(listed) == 2
    assert {k["user_id"] for k in api("GET", "/api/v1/api_keys/")[1]["results"]} > {users["viewer"]}  # admin: all
    denied = {"detail": "You can only manage your own API keys."}
    for_other = {"name": "x", "user_id": users["editor"]}
    assert api("POST", "/api/v1/api_keys/", for_other, key_header=viewer) == (403, denied)
    editors_key = next(k for k in api("GET", "/api/v1/api_keys/", key_header=keys["editor"])[1]["results"])
    assert api("DELETE", f"/api/v1/api_keys/{editors_key['id']}/", key_header=viewer) == (403, denied)
    assert api("GET", "/api/v1/integrations/", key_header=keys["editor"])[0] == 200
    assert api("DELETE", f"/api/v1/api_keys/{created['id']}/", key_header=viewer)[0] == 204
    assert api("GET", "/api/v1/integrations/", key_header=created["key"])[0] == 401
    assert api("POST", "/api/v1/api_keys/", for_other)[0] == 201  # admins create keys for anyone


def test_editors_change_only_their_teams_configuration(api: Invoke, keys: dict[str, str], team: dict[str, Any]) -> None:
    other = api("POST", "/api/v1/teams/", {"name": "web"})[1]
    editor = keys["editor"]
    status, mine = api(
        "POST", "/api/v1/integrations/", {"name": "mine", "type": "webhook", "team_id": team["id"]}, key_header=editor
    )
    assert status == 201
    assert (
        api(
            "POST",
            "/api/v1/integrations/",
            {"name": "theirs", "type": "webhook", "team_id": other["id"]},
            key_header=editor,
        )[0]
        == 403
    )
    theirs = api("POST", "/api/v1/integrations/", {"name": "theirs", "type": "webhook", "team_id": other["id"]})[1]
    assert api("DELETE", f"/api/v1/integrations/{theirs['id']}/", key_header=editor)[0] == 403
    assert api("PATCH", f"/api/v1/integrations/{mine['id']}/", {"team_id": other["id"]}, key_header=editor)[0] == 403
    assert (
        api("POST", "/api/v1/routes/", {"integration_id": theirs["id"], "routing_regex": "x"}, key_header=editor)[0]
        == 403
    )
    assert (
        api("POST", "/api/v1/routes/", {"integration_id": mine["id"], "routing_regex": "x"}, key_header=editor)[0]
        == 201
    )


def test_editors_manage_only_their_own_notification_rules(api: Invoke, keys: dict[str, str]) -> None:
    users = {u["username"]: u["id"] for u in api("GET", "/api/v1/users/")[1]["results"]}
    own = {"user_id": users["editor"], "type": "notify_by_sms"}
    assert api("POST", "/api/v1/personal_notification_rules/", own, key_header=keys["editor"])[0] == 201
    other = {"user_id": users["viewer"], "type": "notify_by_sms"}
    assert api("POST", "/api/v1/personal_notification_rules/", other, key_header=keys["editor"])[0] == 403


def test_changes_are_audited(api: Invoke) -> None:
    api("POST", "/api/v1/escalation_chains/", {"name": "audited"})
    entries = api("GET", "/api/v1/audit_log/")[1]["results"]
    assert any(
        e["method"] == "POST"
        and e["path"] == "/api/v1/escalation_chains"
        and e["user_id"] == "UADMIN"
        and e["status"] == 201
        for e in entries
    )
    today = entries[0]["at"][:10]
    assert api("GET", "/api/v1/audit_log/", query=f"date={today}")[1]["results"] == entries
    assert api("GET", "/api/v1/audit_log/", query="date=2001-02-03")[1]["results"] == []
    for day in ("yesterday", "x" * 3000):  # a clear 400, not a storage error
        status, errors = api("GET", "/api/v1/audit_log/", query=f"date={day}")
        assert status == 400 and list(errors) == ["date"], errors


def test_throttling_per_key(store: DynamoStore) -> None:
    from oncall.bootstrap import ADMIN_USER_ID, ensure_admin

    ensure_admin(store)
    key = issue(store, user_id=ADMIN_USER_ID, name="busy", now=SYSTEM_CLOCK.now()).key
    other = issue(store, user_id=ADMIN_USER_ID, name="quiet", now=SYSTEM_CLOCK.now()).key
    limiter = Authenticator(store, RateLimit(3, 60))

    def at(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    for _ in range(3):
        limiter.throttle(key, now=at(1200))
    from oncall.errors import Throttled

    with pytest.raises(Throttled) as refused:
        limiter.throttle(key, now=at(1201))
    assert refused.value.retry_after == 59
    limiter.throttle(other, now=at(1201))  # other keys are unaffected
    limiter.throttle(key, now=at(1260))  # the next minute


def test_the_key_limit_is_shared_by_containers_that_write_at_most_once_a_second(store: DynamoStore) -> None:
    from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
    from oncall.errors import Throttled

    ensure_admin(store)
    key = issue(store, user_id=ADMIN_USER_ID, name="busy", now=SYSTEM_CLOCK.now()).key
    seconds = [0.0]
    first, second = (Authenticator(store, RateLimit(10, 60), timer=lambda: seconds[0]) for _ in range(2))
    now = datetime.fromtimestamp(1200, UTC)

    def stored() -> int:
        return store.counters.hit(f"api_key/{key.id}", 20, now, hits=0)  # window 20 = 1200 s // 60

    for _ in range(6):
        first.throttle(key, now)
    assert stored() == 1  # the first request wrote; the next five only counted in the container
    seconds[0] = 1.0
    first.throttle(key, now)  # a second later: the seven so far reach the store in one write
    assert stored() == 7
    for _ in range(3):  # the other container starts from the store's count: 8, 9, 10 admitted, the 11th refused
        second.throttle(key, now)
    with pytest.raises(Throttled):
        second.throttle(key, now)
    assert stored() == 8  # (its later requests are the store's at its next sync)


def test_direct_paging_rules(
    api: Invoke, keys: dict[str, str], team: dict[str, Any], ingest_handler: ModuleType
) -> None:
    users = {u["username"]: u["id"] for u in api("GET", "/api/v1/users/")[1]["results"]}
    assert api("POST", "/api/v1/escalation/", {"team": team["id"], "users": [{"id": users["viewer"]}]})[0] == 400
    status, group = api(
        "POST",
        "/api/v1/escalation/",
        {"users": [{"id": users["viewer"], "important": True}], "title": "Need help <now>"},
    )
    assert status == 200 and group["title"] == "Need help &lt;now&gt;"
    status, team_page = api("POST", "/api/v1/escalation/", {"team": team["id"]}, key_header=keys["editor"])
    assert status == 200 and team_page["title"] == "editor is paging db to join escalation"
    assert team_page["id"] != group["id"]
    integrations = [i for i in api("GET", "/api/v1/integrations/")[1]["results"] if i["type"] == "direct_paging"]
    assert sorted(i["name"] for i in integrations) == ["Direct paging", "Direct paging (db team)"]
    routes = api("GET", "/api/v1/routes/", query=f"integration_id={team_page['integration_id']}")[1]["results"]
    assert [r["routing_regex"] for r in routes] == ["{{ payload.oncall.important }}", None]

    outsider = key_for(api, user(api, "outsider", "editor")["id"])
    status, body = api("POST", "/api/v1/escalation/", {"team": team["id"]}, key_header=outsider)
    assert status == 403 and "cannot be paged by people outside it" in body["detail"]
    api("PATCH", f"/api/v1/teams/{team['id']}/", {"contactable": True})
    assert api("POST", "/api/v1/escalation/", {"team": team["id"]}, key_header=outsider)[0] == 200

    api("POST", f"/api/v1/alert_groups/{group['id']}/acknowledge/")
    added = {"alert_group_id": group["id"], "users": [{"id": users["admin"]}]}
    assert api("POST", "/api/v1/escalation/", added)[0] == 200  # acknowledged groups can get responders
    timeline = [e["text"] for e in api("GET", f"/api/v1/alert_groups/{group['id']}/timeline/")[1]]
    assert "admin paged admin" in timeline
    api("POST", f"/api/v1/alert_groups/{group['id']}/resolve/")
    assert api("POST", "/api/v1/escalation/", added) == (
        400,
        {"detail": "Cannot add responders for a resolved alert group"},
    )
    conflicting = {"alert_group_id": group["id"], "title": "x", "users": [{"id": users["admin"]}]}
    assert api("POST", "/api/v1/escalation/", conflicting)[0] == 400


def test_bulk_actions(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = api("POST", "/api/v1/integrations/", {"name": "bulk", "type": "formatted_webhook"})[1]
    ids = [
        post_alert(ingest_handler, integration["link"], {"alert_uid": str(i)})[1]["alert_group_ids"][0]
        for i in range(3)
    ]
    api("POST", f"/api/v1/alert_groups/{ids[0]}/resolve/")
    status, body = api(
        "POST", "/api/v1/alert_groups/bulk_action/", {"alert_group_ids": [*ids, "INOPE"], "action": "acknowledge"}
    )
    assert status == 200
    assert body["results"] == {
        ids[0]: "Can't acknowledge a resolved alert group",
        ids[1]: "ok",
        ids[2]: "ok",
        "INOPE": "not found",
    }
    body = api("POST", "/api/v1/alert_groups/bulk_action/", {"alert_group_ids": ids, "action": "restart"})[1]
    assert set(body["results"].values()) == {"ok"}
    states = {api("GET", f"/api/v1/alert_groups/{i}/")[1]["state"] for i in ids}
    assert states == {"firing"}
    body = api(
        "POST", "/api/v1/alert_groups/bulk_action/", {"alert_group_ids": ids, "action": "silence", "delay": 600}
    )[1]
    assert set(body["results"].values()) == {"ok"}
