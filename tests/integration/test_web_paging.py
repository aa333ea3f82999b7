"""Direct paging from the web console on DynamoDB Local through the real handlers: "Page someone" (people or a
team) and "Add responders" on an alert group's page, both the API's ``POST /api/v1/escalation/`` use case.

What was paged is checked through the API (groups, timelines, integrations, routes) and through the executor the
console's handler runs escalations with: a recording one stands in for Step Functions here.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Invoke, post_alert
from tests.integration.web_browser import Browser
from tests.support.stream import StreamFollower

ORIGIN = "https://tocsin.test"


@dataclass
class RecordingExecutor:
    """The executor port: the executions started, by name (a name starts once, as in Step Functions), by the
    console (personal notifications) and by the escalation starter from the groups stored (``stream``)."""

    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    stream: StreamFollower | None = None

    @property
    def started(self) -> dict[str, dict[str, Any]]:
        if self.stream is not None:
            self.stream.settle()
        return self.recorded

    def start(self, name: str, state: dict[str, Any]) -> None:
        self.recorded.setdefault(name, state)

    def stop(self, name: str) -> None:
        self.stopped.append(name)

    def personal(self) -> dict[str, dict[str, Any]]:
        """The personal notification executions: user id -> state."""
        return {s["user_id"]: s for s in self.started.values() if s["kind"] == "personal"}


@pytest.fixture
def executor(web: ModuleType, store: DynamoStore) -> RecordingExecutor:
    recorder = RecordingExecutor()
    web.container.executor = recorder  # the console handler's container: personal notifications start here
    recorder.stream = StreamFollower(store, recorder)  # and escalations, from the groups it stores
    return recorder


@pytest.fixture
def admin(web: ModuleType, admin_key: str) -> Browser:
    browser = Browser(web)
    assert browser.sign_in(admin_key)["statusCode"] == 303
    return browser


def _user(api: Invoke, username: str, role: str = "editor", teams: list[str] | None = None) -> str:
    status, user = api(
        "POST", "/api/v1/users/", {"username": username, "role": role, "teams": teams or [], "email": f"{username}@x.t"}
    )
    assert status == 201, user
    return str(user["id"])


def _browser(web: ModuleType, api: Invoke, user_id: str) -> Browser:
    status, key = api("POST", "/api/v1/api_keys/", {"name": "web", "user_id": user_id})
    assert status == 201, key
    browser = Browser(web)
    assert browser.sign_in(key["key"])["statusCode"] == 303
    return browser


def _team(api: Invoke, name: str, contactable: bool = False) -> str:
    status, team = api("POST", "/api/v1/teams/", {"name": name, "contactable": contactable})
    assert status == 201, team
    return str(team["id"])


def _post(browser: Browser, path: str, form: dict[str, str | list[str]], page: str) -> dict[str, Any]:
    """Submit a form to ``path`` from ``page`` (the referer) with the session's CSRF token."""
    token = browser.csrf(page)
    return browser.call("POST", path, {"csrf_token": token, **form}, referer=f"{ORIGIN}{page}")


def _flash(response: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Where a POST redirected to, and the notice or error it carries."""
    assert response["statusCode"] == 303, response
    location = urlsplit(response["headers"]["Location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.query).items() if k != "sig"}


def _follow(browser: Browser, response: dict[str, Any]) -> str:
    page = browser.call("GET", response["headers"]["Location"])
    assert page["statusCode"] == 200, page
    return html.unescape(page["body"])


def _groups(api: Invoke) -> list[dict[str, Any]]:
    status, listing = api("GET", "/api/v1/alert_groups/", query="perpage=100")
    assert status == 200, listing
    return list(listing["results"])


def _timeline(api: Invoke, group_id: str) -> list[str]:
    status, entries = api("GET", f"/api/v1/alert_groups/{group_id}/timeline/")
    assert status == 200, entries
    return [e["text"] for e in entries]


def _firing_group(api: Invoke, ingest_handler: ModuleType) -> dict[str, Any]:
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Grafana", "type": "webhook"})
    assert status == 201, integration
    assert post_alert(ingest_handler, integration["link"], {"title": "Disk full", "message": "m"})[0] == 200
    (group,) = _groups(api)
    return group


def _page_form(body: str) -> str:
    match = re.search(r'<form method="post" action="/ui/page" id="page-form">.*?</form>', body, re.S)
    assert match, body
    return match[0]


def _options(form: str, name: str) -> list[str]:
    select = re.search(rf'<select id="[\w-]+" name="{name}".*?</select>', form, re.S)
    assert select, form
    return [html.unescape(text) for text in re.findall(r"<option [^>]*>([^<]*)</option>", select[0])]


def test_page_two_users_from_the_console(admin: Browser, api: Invoke, executor: RecordingExecutor, store: Any) -> None:
    alice, bob = _user(api, "alice"), _user(api, "bob", "viewer")
    form = _page_form(admin.call("GET", "/ui/page")["body"])
    assert {"alice", "bob"} <= set(_options(form, "users")) and _options(form, "team") == ["(no team)"]

    response = _post(
        admin,
        "/ui/page",
        {
            "title": "Checkout is down",
            "message": "Orders fail since 09:00",
            "source_url": "https://grafana.example/d/checkout",
            "users": [alice, bob],
            "important": "on",
            "team": "",
        },
        "/ui/page",
    )
    path, flash = _flash(response)
    (group,) = _groups(api)
    assert path == f"/ui/groups/{group['id']}"
    assert flash == {"notice": "Paged alice, bob (important)."}
    assert group["title"] == "Checkout is down" and group["state"] == "firing"
    integration = api("GET", f"/api/v1/integrations/{group['integration_id']}/")[1]
    assert integration["type"] == "direct_paging" and integration["name"] == "Direct paging"
    assert "admin paged alice (important), bob (important)" in _timeline(api, group["id"])

    page = _follow(admin, response)  # the new group's page, with the notice
    assert '<p class="notice" role="status">Paged alice, bob (important).</p>' in page
    assert "<h1>Checkout is down</h1>" in page and "admin paged alice (important), bob (important)" in page
    assert 'id="source" href="https://grafana.example/d/checkout" rel="noopener noreferrer"' in page  # a button

    # each paged user's personal notification rules run, even on acknowledged or silenced groups (direct)
    personal = executor.personal()
    assert set(personal) == {alice, bob}
    assert all(s["group_id"] == group["id"] and s["important"] and s["direct"] for s in personal.values())
    audited = api("GET", "/api/v1/audit_log/")[1]["results"]
    assert any(e["path"] == "/ui/page" and e["status"] == 303 for e in audited)


def test_page_a_team_as_member_and_from_outside(web: ModuleType, api: Invoke, executor: RecordingExecutor) -> None:
    db, ops = _team(api, "db"), _team(api, "ops", contactable=True)
    member = _browser(web, api, _user(api, "dana", teams=[db]))
    outsider = _browser(web, api, _user(api, "olaf"))

    # outside a team that is not contactable: not offered, and refused with the API's message when posted
    form = _page_form(outsider.call("GET", "/ui/page")["body"])
    assert _options(form, "team") == ["(no team)", "ops"]
    assert "1 team(s) not listed" in form
    refused = _post(outsider, "/ui/page", {"team": db, "title": "Help"}, "/ui/page")
    assert refused["statusCode"] == 403
    assert "The team db cannot be paged by people outside it." in html.unescape(refused["body"])
    assert 'value="Help"' in refused["body"]  # the form keeps what was typed
    assert _groups(api) == [] and executor.started == {}

    assert _options(_page_form(member.call("GET", "/ui/page")["body"]), "team") == ["(no team)", "db", "ops"]
    path, flash = _flash(_post(member, "/ui/page", {"team": db}, "/ui/page"))
    assert flash == {"notice": "Paged team db. Warning: no escalation chain: nobody is notified."}
    (group,) = _groups(api)
    assert path == f"/ui/groups/{group['id']}" and group["title"] == "dana is paging db to join escalation"
    integration = api("GET", f"/api/v1/integrations/{group['integration_id']}/")[1]
    assert integration["name"] == "Direct paging (db team)" and integration["team_id"] == db
    assert executor.started == {}  # the team's routes have no escalation chain yet: nobody to notify

    # the team decides with its routes: an important page takes the important route and starts its chain
    chain = api("POST", "/api/v1/escalation_chains/", {"name": "DB on call", "team_id": db})[1]
    assert api("POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain["id"], "type": "wait"})[0] == 201
    routes = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")[1]["results"]
    (important,) = [r for r in routes if r["routing_regex"] == "{{ payload.oncall.important }}"]
    assert api("PUT", f"/api/v1/routes/{important['id']}/", {"escalation_chain_id": chain["id"]})[0] == 200
    _, flash = _flash(
        _post(member, "/ui/page", {"team": db, "important_team_escalation": "on", "title": "Replica lag"}, "/ui/page")
    )
    assert flash == {
        "notice": "Paged team db (important). "
        "Warning: escalation chain DB on call has no step that notifies anyone: nobody is notified."
    }
    [paged] = [g for g in _groups(api) if g["title"] == "Replica lag"]
    assert paged["route_id"] == important["id"]
    [(name, state)] = executor.started.items()
    assert name == f"{paged['id']}-g1" and state["kind"] == "escalation"

    # a contactable team is paged from outside it too
    assert _flash(_post(outsider, "/ui/page", {"team": ops}, "/ui/page"))[1] == {
        "notice": "Paged team ops. Warning: no escalation chain: nobody is notified."
    }


def test_users_and_team_together_or_neither_are_refused_and_nothing_is_created(
    admin: Browser, api: Invoke, executor: RecordingExecutor
) -> None:
    alice, db = _user(api, "alice"), _team(api, "db")
    both = _post(admin, "/ui/page", {"users": [alice], "team": db, "title": "Both"}, "/ui/page")
    assert both["statusCode"] == 400
    body = html.unescape(both["body"])
    assert re.search(
        r'<p class="error" role="alert" id="form-error">Users: users and team are mutually exclusive\.', body
    )
    form = _page_form(both["body"])
    assert 'value="Both"' in form and re.search(rf'<option value="{alice}" selected>', form)  # kept

    neither = _post(admin, "/ui/page", {"title": "Nobody"}, "/ui/page")
    assert neither["statusCode"] == 400
    assert "Specify a team or at least one user to page." in html.unescape(neither["body"])

    too_long = _post(admin, "/ui/page", {"users": [alice], "title": "x" * 1501}, "/ui/page")
    assert too_long["statusCode"] == 400
    assert "Title: Ensure this field has no more than 1500 characters." in html.unescape(too_long["body"])

    unknown = _post(admin, "/ui/page", {"users": ["UNOPE"]}, "/ui/page")
    assert unknown["statusCode"] == 400 and "Users: Unknown user id: UNOPE" in html.unescape(unknown["body"])

    assert _groups(api) == [] and executor.started == {}
    integrations = api("GET", "/api/v1/integrations/")[1]["results"]
    assert [i for i in integrations if i["type"] == "direct_paging"] == []
    audited = api("GET", "/api/v1/audit_log/")[1]["results"]
    assert not any(e["path"] == "/ui/page" for e in audited)  # refusals change nothing


def test_add_responders_to_a_firing_group(
    admin: Browser, api: Invoke, ingest_handler: ModuleType, executor: RecordingExecutor
) -> None:
    alice, bob, db = _user(api, "alice"), _user(api, "bob"), _team(api, "db")
    group = _firing_group(api, ingest_handler)
    page_path = f"/ui/groups/{group['id']}"
    body = admin.call("GET", page_path)["body"]
    for kept in ('id="group-state"', 'id="timeline-h"', 'id="group-live"', f'action="{page_path}/acknowledge"'):
        assert kept in body
    form = re.search(
        rf'<form method="post" action="{page_path}/responders" id="responders-form">.*?</form>', body, re.S
    )
    assert form and {"alice", "bob"} <= set(_options(form[0], "users")) and 'name="team"' not in form[0]

    response = _post(admin, f"{page_path}/responders", {"users": [alice]}, page_path)
    path, flash = _flash(response)
    assert path == page_path and flash == {"notice": "Paged alice."}
    assert "admin paged alice" in _follow(admin, response)
    assert "admin paged alice" in _timeline(api, group["id"])
    assert set(executor.personal()) == {alice} and not executor.personal()[alice]["important"]

    # paging into an acknowledged group still notifies (OnCall's rule)
    assert api("POST", f"/api/v1/alert_groups/{group['id']}/acknowledge/")[0] == 200
    _, flash = _flash(_post(admin, f"{page_path}/responders", {"users": [bob], "important": "on"}, page_path))
    assert flash == {"notice": "Paged bob (important)."}
    assert "admin paged bob (important)" in _timeline(api, group["id"])
    assert executor.personal()[bob]["important"] and executor.personal()[bob]["direct"]

    # the API's refusals, back on the group's page
    for form_values, message in [
        ({"users": []}, "Users: Specify the users to add."),
        ({"team": db}, "Team: Only users can be added to an existing alert group."),  # a crafted post
    ]:
        refused = _post(admin, f"{page_path}/responders", form_values, page_path)
        assert _flash(refused) == (page_path, {"error": message})
        assert f'<p class="error" role="alert">{message}</p>' in _follow(admin, refused)
    assert len(_groups(api)) == 1 and len(executor.personal()) == 2


def test_adding_responders_to_a_resolved_group_shows_the_api_message(
    admin: Browser, api: Invoke, ingest_handler: ModuleType, executor: RecordingExecutor
) -> None:
    alice = _user(api, "alice")
    group = _firing_group(api, ingest_handler)
    page_path = f"/ui/groups/{group['id']}"
    token = admin.csrf(page_path)  # the page is open with its form while someone resolves the group
    assert api("POST", f"/api/v1/alert_groups/{group['id']}/resolve/")[0] == 200
    refused = admin.call(
        "POST", f"{page_path}/responders", {"csrf_token": token, "users": [alice]}, referer=f"{ORIGIN}{page_path}"
    )
    message = "Cannot add responders for a resolved alert group"
    assert _flash(refused) == (page_path, {"error": message})
    page = _follow(admin, refused)
    assert f'<p class="error" role="alert">{message}</p>' in page
    assert 'id="responders-form"' not in page  # a resolved group offers no form
    assert not any("paged" in text for text in _timeline(api, group["id"])) and executor.started == {}
    assert api("POST", "/api/v1/escalation/", {"alert_group_id": group["id"], "users": [{"id": alice}]}) == (
        400,
        {"detail": message},
    )  # the same words as the API


def test_viewers_see_no_paging_forms_and_are_refused(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, executor: RecordingExecutor
) -> None:
    alice = _user(api, "alice")
    group = _firing_group(api, ingest_handler)
    viewer = _browser(web, api, _user(api, "vera", "viewer"))
    page = viewer.call("GET", "/ui/page")
    assert page["statusCode"] == 200 and "Only editors and admins page people." in page["body"]
    assert 'action="/ui/page"' not in page["body"]
    group_page = viewer.call("GET", f"/ui/groups/{group['id']}")["body"]
    assert "responders" not in group_page and 'id="group-state"' in group_page
    for path, form in [
        ("/ui/page", {"users": [alice]}),
        (f"/ui/groups/{group['id']}/responders", {"users": [alice]}),
    ]:
        refused = _post(viewer, path, form, "/ui/page")
        assert refused["statusCode"] == 403
        assert "You do not have permission to perform this action." in refused["body"]
    assert len(_groups(api)) == 1 and executor.started == {}
    assert not any("paged" in text for text in _timeline(api, group["id"]))

    editor = _browser(web, api, _user(api, "eddie"))  # editors: the API's "act" permission
    assert 'id="page-form"' in editor.call("GET", "/ui/page")["body"]
    assert 'id="responders-form"' in editor.call("GET", f"/ui/groups/{group['id']}")["body"]


def test_crafted_values_are_refused_or_shown_harmlessly(
    admin: Browser, api: Invoke, ingest_handler: ModuleType, executor: RecordingExecutor
) -> None:
    group = _firing_group(api, ingest_handler)
    page_path = f"/ui/groups/{group['id']}"
    # ids longer than any id: refused (400) before they reach the store's key limits, in the console and the API
    too_long = _post(admin, "/ui/page", {"users": ["U" * 3000]}, "/ui/page")
    assert too_long["statusCode"] == 400 and "Ensure this field has no more than 100 characters." in too_long["body"]
    assert _post(admin, "/ui/page", {"team": "T" * 3000}, "/ui/page")["statusCode"] == 400
    refused = _post(admin, f"{page_path}/responders", {"users": ["U" * 3000]}, page_path)
    assert "no more than 100 characters" in _flash(refused)[1]["error"]
    assert api("POST", "/api/v1/escalation/", {"users": [{"id": "U" * 3000}]})[0] == 400
    assert len(_groups(api)) == 1 and executor.started == {}

    # a source URL that is not http(s) is kept as the API keeps it, but shown as text, never as a link
    alice = _user(api, "alice")
    response = _post(admin, "/ui/page", {"users": [alice], "source_url": "javascript:alert(1)"}, "/ui/page")
    page = admin.call("GET", response["headers"]["Location"])["body"]
    assert 'href="javascript:' not in page and "Source: <code>javascript:alert(1)</code>" in page
