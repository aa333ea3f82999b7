"""The policy table walked for alert groups, alerts, direct paging and signed action links, through the real api and
web handlers: each role (viewer, editor, admin) in the group's team and in another team, for a group of a team and
a group of no team, gets exactly what :mod:`oncall.services.policy` answers (2xx when it allows, its 403 when not,
404 for an unknown id). The table is the oracle: :func:`verdict` asks it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from oncall import links, paging
from oncall.directory import Team
from oncall.errors import PermissionDenied
from oncall.services.policy import Action, Principal, Resource, authorize
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import SIGNING_KEY, Context, Invoke, http_event, load_handler, post_alert
from tests.integration.test_access import key_for, user
from tests.integration.web_browser import Browser

ROLES = ("viewer", "editor", "admin")
DENIED = {"detail": "You do not have permission to perform this action."}


@dataclass(frozen=True)
class Caller:
    principal: Principal
    key: str

    @property
    def name(self) -> str:
        return self.principal.username


@dataclass(frozen=True)
class Cast:
    """Callers of every role in team "db" and in team "web"; a firing group of team "db" and one of no team."""

    callers: list[Caller]
    team: dict[str, Any]  # "db"
    groups: dict[str | None, str]  # team id (None: no team) -> a firing group of it
    link: dict[str, str]  # team id or "" -> the ingest link of its integration


def verdict(caller: Caller, resource: Resource, action: Action, team: str | None = None) -> str | None:
    """None when the table lets ``caller`` do it; else the 403's message."""
    try:
        authorize(caller.principal, resource, action, teams=[team])
    except PermissionDenied as refused:
        return str(refused)
    return None


@pytest.fixture
def cast(api: Invoke, ingest_handler: ModuleType) -> Cast:
    teams = {name: api("POST", "/api/v1/teams/", {"name": name})[1] for name in ("db", "web")}
    callers = []
    for team in teams.values():
        for role in ROLES:
            made = user(api, f"{role}-{team['name']}", role, [team["id"]], email=f"{role}-{team['name']}@x.test")
            principal = Principal(made["id"], made["username"], role, frozenset(made["teams"]))
            callers.append(Caller(principal, key_for(api, made["id"])))
    groups: dict[str | None, str] = {}
    link: dict[str, str] = {}
    for team_id in (teams["db"]["id"], None):
        body = {"name": f"source {team_id}", "type": "formatted_webhook", "team_id": team_id}
        status, integration = api("POST", "/api/v1/integrations/", body)
        assert status == 201, integration
        link[team_id or ""] = integration["link"]
        groups[team_id] = _new_group(ingest_handler, integration["link"])
    return Cast(callers, teams["db"], groups, link)


def _new_group(ingest_handler: ModuleType, link: str) -> str:
    status, body = post_alert(ingest_handler, link, {"alert_uid": f"uid-{id(object())}", "title": "Disk full"})
    assert status == 200, body
    return str(body["alert_group_ids"][0])


def _expect(answer: tuple[int, Any], refusal: str | None, *allowed: int) -> None:
    status, body = answer
    if refusal is None:
        assert status in allowed, (status, body)
    else:
        assert (status, body) == (403, {"detail": refusal})


# --- the API ---------------------------------------------------------------------------------------------------


def test_everyone_reads_alert_groups_their_timelines_and_alerts(api: Invoke, cast: Cast) -> None:
    for caller in cast.callers:
        for team_id, group_id in cast.groups.items():
            refusal = verdict(caller, Resource.ALERT_GROUPS, Action.READ, team_id)
            listing = api("GET", "/api/v1/alert_groups/", query=f"id={group_id}", key_header=caller.key)
            _expect(listing, refusal, 200)
            assert refusal or [g["id"] for g in listing[1]["results"]] == [group_id]
            _expect(api("GET", f"/api/v1/alert_groups/{group_id}/", key_header=caller.key), refusal, 200)
            _expect(api("GET", f"/api/v1/alert_groups/{group_id}/timeline/", key_header=caller.key), refusal, 200)
            alerts = api("GET", "/api/v1/alerts/", query=f"alert_group_id={group_id}", key_header=caller.key)
            _expect(alerts, refusal, 200)
            assert refusal or alerts[1]["count"] == 1
        if verdict(caller, Resource.ALERT_GROUPS, Action.READ) is None:
            assert api("GET", "/api/v1/alert_groups/INOPE/", key_header=caller.key)[0] == 404
            assert api("GET", "/api/v1/alert_groups/INOPE/timeline/", key_header=caller.key)[0] == 404
            unknown = api("GET", "/api/v1/alerts/", query="alert_group_id=INOPE", key_header=caller.key)
            assert unknown[0] == 200 and unknown[1]["results"] == []  # a filter that matches nothing


# every action, in an order that each one is possible in, and back to firing
CYCLE = [
    ("acknowledge", None, "acknowledged"),
    ("confirm", None, "acknowledged"),
    ("unacknowledge", None, "firing"),
    ("silence", {"delay": 600}, "silenced"),
    ("unsilence", None, "firing"),
    ("resolve", None, "resolved"),
    ("unresolve", None, "firing"),
]


def test_acting_on_alert_groups_follows_the_table(api: Invoke, cast: Cast) -> None:
    for caller in cast.callers:
        for team_id, group_id in cast.groups.items():
            refusal = verdict(caller, Resource.ALERT_GROUPS, Action.ACT, team_id)
            for action, body, state in CYCLE:
                answer = api("POST", f"/api/v1/alert_groups/{group_id}/{action}/", body, key_header=caller.key)
                _expect(answer, refusal, 200)
                assert refusal or answer[1]["state"] == state
            if refusal is None:  # acted as the caller
                timeline = [e["text"] for e in api("GET", f"/api/v1/alert_groups/{group_id}/timeline/")[1]]
                assert f"Acknowledged by {caller.principal.user_id}" in timeline
            bulk = {"alert_group_ids": [group_id], "action": "acknowledge"}
            answer = api("POST", "/api/v1/alert_groups/bulk_action/", bulk, key_header=caller.key)
            _expect(answer, refusal, 200)
            assert refusal or answer[1] == {"results": {group_id: "ok"}}
            restart = {"alert_group_ids": [group_id], "action": "restart"}
            _expect(api("POST", "/api/v1/alert_groups/bulk_action/", restart, key_header=caller.key), refusal, 200)
            assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"  # refused: unchanged
        refusal = verdict(caller, Resource.ALERT_GROUPS, Action.ACT)
        unknown = api("POST", "/api/v1/alert_groups/INOPE/acknowledge/", key_header=caller.key)
        assert unknown == ((403, {"detail": refusal}) if refusal else (404, {"detail": "Not found."}))


def test_deleting_alert_groups_follows_the_table(api: Invoke, cast: Cast, ingest_handler: ModuleType) -> None:
    for caller in cast.callers:
        for team_id, group_id in cast.groups.items():
            refusal = verdict(caller, Resource.ALERT_GROUPS, Action.DELETE, team_id)
            wipe = api("DELETE", f"/api/v1/alert_groups/{group_id}/", {"mode": "wipe"}, key_header=caller.key)
            _expect(wipe, refusal, 204)
            doomed = _new_group(ingest_handler, cast.link[team_id or ""])
            gone = api("DELETE", f"/api/v1/alert_groups/{doomed}/", {"mode": "delete"}, key_header=caller.key)
            _expect(gone, refusal, 204)
            assert api("GET", f"/api/v1/alert_groups/{doomed}/")[0] == (200 if refusal else 404)
        if verdict(caller, Resource.ALERT_GROUPS, Action.DELETE) is None:
            assert api("DELETE", "/api/v1/alert_groups/INOPE/", key_header=caller.key)[0] == 404


def _pageable(team: Team, caller: Caller) -> str | None:
    """The paging domain's rule on top of the table: a team that is not contactable, only from inside it."""
    refusal = verdict(caller, Resource.PAGING, Action.CREATE)
    if refusal is None and not paging.may_page(team, caller.principal.role, caller.principal.teams):
        return f"The team {team.name} cannot be paged by people outside it."
    return refusal


def test_direct_paging_follows_the_table_and_the_team_rule(api: Invoke, cast: Cast, store: DynamoStore) -> None:
    someone = cast.callers[0].principal.user_id
    db = store.teams.get(cast.team["id"])
    assert db is not None and not db.contactable
    for caller in cast.callers:
        refusal = verdict(caller, Resource.PAGING, Action.CREATE)
        people = {"users": [{"id": someone}], "title": f"Help from {caller.name}"}
        _expect(api("POST", "/api/v1/escalation/", people, key_header=caller.key), refusal, 200)
        team = api("POST", "/api/v1/escalation/", {"team": cast.team["id"]}, key_header=caller.key)
        _expect(team, _pageable(db, caller), 200)
        for team_id, group_id in cast.groups.items():
            responders = {"alert_group_id": group_id, "users": [{"id": someone}]}
            answer = api("POST", "/api/v1/escalation/", responders, key_header=caller.key)
            _expect(answer, verdict(caller, Resource.PAGING, Action.CREATE, team_id), 200)
        if refusal is None:
            unknown = {"alert_group_id": "INOPE", "users": [{"id": someone}]}
            assert api("POST", "/api/v1/escalation/", unknown, key_header=caller.key) == (
                400,
                {"alert_group_id": ["Alert group not found."]},
            )


# --- the console -------------------------------------------------------------------------------------------------


def _browser(web: ModuleType, caller: Caller) -> Browser:
    browser = Browser(web)
    assert browser.sign_in(caller.key)["statusCode"] == 303
    return browser


def _post(browser: Browser, path: str, form: dict[str, Any], page: str) -> int:
    response = browser.call("POST", path, {"csrf_token": browser.csrf(page), **form})
    status: int = response["statusCode"]
    if status == 303:
        assert "error=" not in response["headers"]["Location"], response["headers"]["Location"]
    return status


def test_the_console_shows_and_allows_what_the_table_says(web: ModuleType, api: Invoke, cast: Cast) -> None:
    someone = cast.callers[0].principal.user_id
    for caller in cast.callers:
        browser = _browser(web, caller)
        may_page = verdict(caller, Resource.PAGING, Action.CREATE) is None
        for team_id, group_id in cast.groups.items():
            page = f"/ui/groups/{group_id}"
            may_read = verdict(caller, Resource.ALERT_GROUPS, Action.READ, team_id) is None
            may_act = verdict(caller, Resource.ALERT_GROUPS, Action.ACT, team_id) is None
            listing = browser.call("GET", "/ui/groups")
            assert listing["statusCode"] == (200 if may_read else 403)
            assert (f'action="/ui/groups/{group_id}/acknowledge"' in listing["body"]) == may_act
            detail = browser.call("GET", page)
            assert detail["statusCode"] == (200 if may_read else 403)
            assert ('id="responders-form"' in detail["body"]) == may_page
            for action in ("acknowledge", "unacknowledge"):
                assert _post(browser, f"{page}/{action}", {}, page) == (303 if may_act else 403)
            added = _post(browser, f"{page}/responders", {"users": [someone]}, page)
            assert added == (303 if may_page else 403)
            assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"
        form = browser.call("GET", "/ui/page")["body"]
        assert ('id="page-form"' in form) == may_page
        assert _post(browser, "/ui/page", {"users": [someone]}, "/ui/page") == (303 if may_page else 403)
        assert browser.call("GET", "/ui/groups/INOPE")["statusCode"] == 404


# --- signed action links ------------------------------------------------------------------------------------------


@pytest.fixture
def follow(api: Invoke) -> Any:
    """Open (GET) or follow (POST) an action link through the api handler, with no key: ``(status, text)``."""
    module = load_handler("api")

    def call(method: str, token: str) -> tuple[int, str]:
        response = module.handler(http_event(method, f"/actions/{token}"), Context())
        assert response["headers"]["Content-Type"].startswith("text/html"), response
        return response["statusCode"], html.unescape(response["body"])

    return call


def _token(api: Invoke, action: str, group_id: str, user_id: str | None, seconds: int = 3600) -> str:
    expires = api.container.clock.now() + timedelta(seconds=seconds)  # type: ignore[attr-defined]
    return links.sign(action, group_id, user_id, expires, SIGNING_KEY.encode())


def test_an_action_link_is_its_own_proof_and_acts_as_its_user(api: Invoke, cast: Cast, follow: Any) -> None:
    viewer = next(c for c in cast.callers if c.principal.role == "viewer")
    assert verdict(viewer, Resource.ALERT_GROUPS, Action.ACT) is not None  # a viewer's key may not ...
    group_id = cast.groups[cast.team["id"]]
    token = _token(api, "acknowledge", group_id, viewer.principal.user_id)
    status, text = follow("GET", token)
    assert status == 200 and "<form" in text and "firing" in text  # a GET only asks ...
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"
    status, text = follow("POST", token)  # ... but the link the viewer was sent acts, as the viewer
    assert status == 200 and "is now acknowledged" in text
    group = api("GET", f"/api/v1/alert_groups/{group_id}/")[1]
    assert group["state"] == "acknowledged" and group["acknowledged_by"] == viewer.principal.user_id
    assert follow("POST", token)[0] == 400  # nothing changes twice: "Can't acknowledge an acknowledged ..."
    assert follow("POST", _token(api, "confirm", group_id, viewer.principal.user_id))[0] == 200

    anonymous = cast.groups[None]
    assert follow("POST", _token(api, "resolve", anonymous, None))[0] == 200  # sent to a channel: acts as "link"
    assert api("GET", f"/api/v1/alert_groups/{anonymous}/")[1]["resolved_by"] == "link"
    status, text = follow("POST", _token(api, "resolve", anonymous, None))
    assert status == 400 and "Can't resolve a resolved alert group" in text


def test_unusable_action_links_change_nothing(api: Invoke, cast: Cast, follow: Any) -> None:
    group_id = cast.groups[None]
    expired = _token(api, "acknowledge", group_id, None, seconds=-1)
    assert follow("GET", expired)[0] == 410 and follow("POST", expired)[0] == 410
    forged = re.sub(r"\.(.)", lambda m: "." + ("A" if m[1] != "A" else "B"), _token(api, "resolve", group_id, None))
    assert follow("GET", forged)[0] == 404 and follow("POST", forged)[0] == 404
    silence = _token(api, "silence", group_id, None)  # signed, but not something a link does
    assert follow("POST", silence) == (404, follow("GET", forged)[1])
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"
    gone = _token(api, "acknowledge", "INOPE", None)
    assert follow("GET", gone)[0] == 404 and "The alert group no longer exists." in follow("GET", gone)[1]
    assert follow("POST", gone)[0] == 404
