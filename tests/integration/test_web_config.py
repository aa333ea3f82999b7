"""The web console's configuration pages on DynamoDB Local: escalation chains and their steps, integration routes.

Every change is made through the console's forms and checked through the real API (and the ingest handler for
routing), so the console and the API are seen to agree.
"""

from __future__ import annotations

import html
import re
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
from oncall.clock import SYSTEM_CLOCK
from oncall.services.api_keys import issue
from oncall.store.dynamodb import DynamoStore
from oncall.web import session

from tests.integration.conftest import Context, Invoke, http_event, post_alert
from tests.integration.web_browser import Browser

Form = list[tuple[str, str]]


def _sign_in(web: ModuleType, key: str) -> Browser:
    """Sign in through the form as a browser does (its cookies and token, if any), then browse with the session."""
    form = web.handler(http_event("GET", "/ui/signin"), Context())
    token = re.search(r'name="csrf_token" value="([^"]+)"', form["body"])
    event = http_event(
        "POST",
        "/ui/signin",
        raw_body=urlencode({"api_key": key, **({"csrf_token": token[1]} if token else {})}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    event["cookies"] = [cookie.split(";", 1)[0] for cookie in form.get("cookies", [])]
    response = web.handler(event, Context())
    assert response["statusCode"] == 303, response
    browser = Browser(web)
    (cookie,) = [c for c in response["cookies"] if c.startswith(f"{session.COOKIE_NAME}=")]
    browser.cookie = cookie.split(";", 1)[0].split("=", 1)[1]
    return browser


@pytest.fixture
def admin(web: ModuleType, store: DynamoStore) -> Browser:
    ensure_admin(store)
    return _sign_in(web, issue(store, user_id=ADMIN_USER_ID, name="web", now=SYSTEM_CLOCK.now()).secret)


def _user(api: Invoke, username: str, role: str = "editor", teams: list[str] | None = None) -> dict[str, Any]:
    status, user = api("POST", "/api/v1/users/", {"username": username, "role": role, "teams": teams or []})
    assert status == 201, user
    return dict(user)


def _browser(web: ModuleType, api: Invoke, username: str, role: str, teams: list[str] | None = None) -> Browser:
    user = _user(api, username, role, teams)
    status, key = api("POST", "/api/v1/api_keys/", {"name": "web", "user_id": user["id"]})
    assert status == 201, key
    return _sign_in(web, key["key"])


def _post(browser: Browser, path: str, form: dict[str, str] | Form | None = None) -> dict[str, Any]:
    """Submit a form to ``path`` from the page it is on (the referer, where a refusal leads back), with the
    session's CSRF token; a list of pairs repeats fields (a multiple select)."""
    pairs = list(form.items()) if isinstance(form, dict) else list(form or [])
    token = browser.csrf("/ui/chains")
    match = re.match(r"/ui/integrations/[\w-]+/routes|/ui/chains(/[\w-]+)?", path)
    assert match, path
    referer = f"https://tocsin.test{match[0]}?notice=earlier"
    return browser.call("POST", path, [("csrf_token", token), *pairs], referer=referer)  # type: ignore[arg-type]


def _flash(response: dict[str, Any]) -> dict[str, str]:
    """The notice or error a POST redirected back with."""
    assert response["statusCode"] == 303, response
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    return {k: v[0] for k, v in query.items() if k != "sig"}


def _follow(browser: Browser, response: dict[str, Any]) -> str:
    page = browser.call("GET", response["headers"]["Location"])
    assert page["statusCode"] == 200, page
    return html.unescape(page["body"])


def _chain(admin: Browser, name: str, team_id: str = "") -> str:
    created = _post(admin, "/ui/chains", {"name": name, "team_id": team_id})
    match = re.fullmatch(r"/ui/chains/([\w-]+)\?.*", created["headers"]["Location"])
    assert match, created
    return match[1]


def _integration(api: Invoke, name: str, team_id: str | None = None) -> dict[str, Any]:
    status, integration = api("POST", "/api/v1/integrations/", {"name": name, "type": "webhook", "team_id": team_id})
    assert status == 201, integration
    return dict(integration)


def _routes(api: Invoke, integration_id: str) -> list[dict[str, Any]]:
    status, page = api("GET", "/api/v1/routes/", query=f"integration_id={integration_id}")
    assert status == 200, page
    return sorted(page["results"], key=lambda r: (r["is_the_last_route"], r["position"]))


def _policies(api: Invoke, chain_id: str) -> list[dict[str, Any]]:
    status, page = api("GET", "/api/v1/escalation_policies/", query=f"escalation_chain_id={chain_id}")
    assert status == 200, page
    return list(page["results"])


def _route_of(api: Invoke, title: str) -> str:
    groups = api("GET", "/api/v1/alert_groups/", query="perpage=100")[1]["results"]
    (group,) = [g for g in groups if g["title"] == title]
    return str(group["route_id"])


def test_admin_builds_a_chain_and_reorders_its_steps(admin: Browser, api: Invoke) -> None:
    alice, bob = _user(api, "alice"), _user(api, "bob")
    chain_id = _chain(admin, "Primary")
    listing = html.unescape(admin.call("GET", "/ui/chains")["body"])
    assert "Primary" in listing and 'href="/ui/chains"' in listing  # the chain, and the nav entry
    assert _flash(_post(admin, f"/ui/chains/{chain_id}/steps", {"type": "wait", "duration": "300"})) == {
        "notice": "Step added."
    }
    notify = [("type", "notify_persons"), ("persons", alice["id"]), ("persons", bob["id"]), ("important", "on")]
    assert _flash(_post(admin, f"/ui/chains/{chain_id}/steps", notify)) == {"notice": "Step added."}
    page = html.unescape(admin.call("GET", f"/ui/chains/{chain_id}")["body"])
    assert page.index("Wait 5 min") < page.index("Notify alice, bob (important)")
    wait, notify_step = _policies(api, chain_id)

    moved = _post(admin, f"/ui/chains/{chain_id}/steps/{notify_step['id']}/up")
    assert _flash(moved) == {"notice": "Step moved up."}
    page = _follow(admin, moved)
    assert page.index("Notify alice, bob (important)") < page.index("Wait 5 min")
    assert [(p["id"], p["type"], p["position"]) for p in _policies(api, chain_id)] == [
        (notify_step["id"], "notify_persons", 0),
        (wait["id"], "wait", 1),
    ]
    assert _policies(api, chain_id)[0]["persons_to_notify"] == [alice["id"], bob["id"]]
    assert _policies(api, chain_id)[0]["important"] is True
    assert _flash(_post(admin, f"/ui/chains/{chain_id}/steps/{notify_step['id']}/up"))["notice"].endswith("first.")

    more: list[Form] = [
        [("type", "notify_if_time_from_to"), ("time_from", "09:00"), ("time_to", "17:00")],
        [("type", "notify_if_num_alerts_in_window"), ("num_alerts", "3"), ("num_minutes", "10")],
        [("type", "repeat_escalation")],
        [("type", "resolve")],
    ]
    for form in more:
        assert "notice" in _flash(_post(admin, f"/ui/chains/{chain_id}/steps", form))
    page = html.unescape(admin.call("GET", f"/ui/chains/{chain_id}")["body"])
    for text in (
        "Continue only between 09:00 and 17:00 UTC",
        "Continue only if more than 3 alerts in 10 min",
        "Repeat from the top (at most 5 times)",
        "Resolve",
    ):
        assert text in page
    assert _policies(api, chain_id)[2]["notify_if_time_from"] == "09:00:00Z"

    deleted = _post(admin, f"/ui/chains/{chain_id}/steps/{wait['id']}/delete")
    assert _flash(deleted) == {"notice": "Step deleted."}
    assert [p["type"] for p in _policies(api, chain_id)] == [
        "notify_persons",
        "notify_if_time_from_to",
        "notify_if_num_alerts_in_window",
        "repeat_escalation",
        "resolve",
    ]
    assert "notice" in _flash(_post(admin, f"/ui/chains/{chain_id}/rename", {"name": "Night"}))
    assert api("GET", f"/api/v1/escalation_chains/{chain_id}/")[1]["name"] == "Night"
    listing = html.unescape(admin.call("GET", "/ui/chains")["body"])
    assert re.search(r"Night</a></th>\s*<td>—</td>\s*<td>5</td>", listing)

    assert "notice" in _flash(_post(admin, f"/ui/chains/{chain_id}/delete"))
    assert api("GET", f"/api/v1/escalation_chains/{chain_id}/")[0] == 404


def test_an_invalid_step_shows_the_apis_error_and_stores_nothing(admin: Browser, api: Invoke) -> None:
    chain_id = _chain(admin, "Primary")
    status, refused = api(
        "POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain_id, "type": "wait", "duration": 10}
    )
    assert status == 400
    (api_message,) = refused["duration"]
    response = _post(admin, f"/ui/chains/{chain_id}/steps", {"type": "wait", "duration": "10"})
    assert _flash(response) == {"error": f"duration: {api_message}"}
    assert response["headers"]["Location"].startswith(f"/ui/chains/{chain_id}?")  # back to the form's page
    assert f"duration: {api_message}" in _follow(admin, response)

    status, refused = api(
        "POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain_id, "type": "notify_persons"}
    )
    assert status == 400
    page = _follow(admin, _post(admin, f"/ui/chains/{chain_id}/steps", {"type": "notify_persons"}))
    assert refused["persons_to_notify"][0] in page
    assert "Unknown ids: Unobody" in _follow(
        admin, _post(admin, f"/ui/chains/{chain_id}/steps", [("type", "notify_persons"), ("persons", "Unobody")])
    )
    assert _policies(api, chain_id) == []
    # a duplicate chain name: the use case's message
    assert "already exists" in _flash(_post(admin, "/ui/chains", {"name": "Primary"}))["error"]
    # refusals changed nothing, so the audit log has only the chain's creation
    entries = api("GET", "/api/v1/audit_log/")[1]["results"]
    assert [e["path"] for e in entries if e["path"].startswith("/ui/")] == ["/ui/chains"]


def test_routes_decide_the_chain_of_new_alerts(
    admin: Browser, api: Invoke, ingest_handler: ModuleType, store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_handler.service().sync_seconds = 0  # ingest sees a route change at once (else within 1 s)
    integration = _integration(api, "Shop")
    iid = integration["id"]
    db_chain, critical_chain = _chain(admin, "Databases"), _chain(admin, "Critical")
    path = f"/ui/integrations/{iid}/routes"
    regex = {"routing_type": "regex", "term": r"db-\d+", "escalation_chain_id": db_chain}
    assert _flash(_post(admin, path, regex)) == {"notice": "Route added."}
    condition = {"routing_type": "jinja2", "term": "{{ payload.severity == 'critical' }}"}
    assert _flash(_post(admin, path, {**condition, "escalation_chain_id": critical_chain})) == {
        "notice": "Route added."
    }
    labels = {"routing_type": "labels", "term": "team=db\r\nenv = prod\r\n", "escalation_chain_id": ""}
    assert _flash(_post(admin, path, labels)) == {"notice": "Route added."}

    routes = _routes(api, iid)
    assert [(r["routing_type"], r["routing_regex"], r["escalation_chain_id"]) for r in routes] == [
        ("regex", r"db-\d+", db_chain),
        ("jinja2", "{{ payload.severity == 'critical' }}", critical_chain),
        ("labels", None, None),
        ("regex", None, None),
    ]
    assert routes[2]["routing_labels"] == [{"key": "team", "value": "db"}, {"key": "env", "value": "prod"}]
    assert routes[-1]["is_the_last_route"] and routes[-1]["id"] == integration["default_route"]["id"]
    regex_id, jinja_id, labels_id, default_id = (r["id"] for r in routes)

    page = html.unescape(admin.call("GET", path)["body"])
    assert "Routes of Shop" in page and "db-\\d+" in page and "team=db" in page and ">default</th>" in page
    assert page.index("Databases</a>") < page.index("Critical</a>")
    assert f'href="/ui/integrations/{iid}/routes"' in admin.call("GET", "/ui/integrations")["body"]

    status, _ = post_alert(ingest_handler, integration["link"], {"title": "db-42 down", "severity": "critical"})
    assert status == 200
    post_alert(ingest_handler, integration["link"], {"title": "web down", "severity": "critical"})
    post_alert(ingest_handler, integration["link"], {"title": "web slow", "severity": "warning"})
    assert _route_of(api, "db-42 down") == regex_id
    assert _route_of(api, "web down") == jinja_id
    assert _route_of(api, "web slow") == default_id

    moved = _post(admin, f"{path}/{jinja_id}/up")
    assert _flash(moved) == {"notice": "Route moved up."}
    assert [r["id"] for r in _routes(api, iid)] == [jinja_id, regex_id, labels_id, default_id]
    page = _follow(admin, moved)
    assert page.index("Critical</a>") < page.index("Databases</a>")
    post_alert(ingest_handler, integration["link"], {"title": "db-7 down", "severity": "critical"})
    assert _route_of(api, "db-7 down") == jinja_id  # the condition now comes first
    assert "last." in _flash(_post(admin, f"{path}/{labels_id}/down"))["notice"]

    edited = {"routing_type": "regex", "term": "cache-", "escalation_chain_id": db_chain}
    assert _flash(_post(admin, f"{path}/{labels_id}", edited)) == {"notice": "Route saved."}
    edited_route = _routes(api, iid)[2]
    assert (edited_route["routing_type"], edited_route["routing_regex"]) == ("regex", "cache-")
    assert (edited_route["routing_labels"], edited_route["escalation_chain_id"]) == ([], db_chain)
    bad = _post(admin, f"{path}/{labels_id}", {**edited, "term": "("})
    assert _flash(bad)["error"].startswith("routing_regex: Invalid regex")
    assert _routes(api, iid)[2]["routing_regex"] == "cache-"

    assert _flash(_post(admin, f"{path}/{regex_id}/delete")) == {"notice": "Route deleted."}
    assert [(r["id"], r["position"]) for r in _routes(api, iid)][:2] == [(jinja_id, 0), (labels_id, 1)]
    assert store.integrations.route(regex_id) is None


def test_the_default_route_cannot_be_deleted_but_its_chain_changes(admin: Browser, api: Invoke) -> None:
    integration = _integration(api, "Shop")
    iid, default_id = integration["id"], integration["default_route"]["id"]
    chain_id = _chain(admin, "Fallback")
    path = f"/ui/integrations/{iid}/routes"
    page = admin.call("GET", path)["body"]
    assert f"{path}/{default_id}/delete" not in page  # no button for it
    refused = _post(admin, f"{path}/{default_id}/delete")
    assert _flash(refused) == {"error": "The default route cannot be deleted."}
    assert "The default route cannot be deleted." in _follow(admin, refused)
    assert "cannot change" in _flash(_post(admin, f"{path}/{default_id}/up"))["error"]
    assert [r["id"] for r in _routes(api, iid)] == [default_id]

    assert _flash(_post(admin, f"{path}/{default_id}", {"escalation_chain_id": chain_id})) == {
        "notice": "Default route saved."
    }
    assert api("GET", f"/api/v1/integrations/{iid}/")[1]["default_route"]["escalation_chain_id"] == chain_id
    assert "Fallback" in admin.call("GET", "/ui/integrations")["body"]
    assert _flash(_post(admin, f"{path}/{default_id}", {"escalation_chain_id": "Fnothing"}))["error"] == (
        "escalation_chain_id: Escalation chain not found."
    )


def test_viewers_see_everything_read_only(web: ModuleType, admin: Browser, api: Invoke) -> None:
    integration = _integration(api, "Shop")
    iid, default_id = integration["id"], integration["default_route"]["id"]
    chain_id = _chain(admin, "Primary")
    _post(admin, f"/ui/chains/{chain_id}/steps", {"type": "wait", "duration": "600"})
    _post(
        admin, f"/ui/integrations/{iid}/routes", {"routing_type": "regex", "term": "x", "escalation_chain_id": chain_id}
    )
    viewer = _browser(web, api, "vera", "viewer")
    for path, shown in (
        ("/ui/chains", "Primary"),
        (f"/ui/chains/{chain_id}", "Wait 10 min"),
        (f"/ui/integrations/{iid}/routes", "Primary</a>"),
    ):
        page = viewer.call("GET", path)
        assert page["statusCode"] == 200 and shown in page["body"]
        forms = re.findall(r'<form[^>]*action="([^"]+)"', page["body"])
        assert forms == ["/ui/signout"], (path, forms)
    step_id = _policies(api, chain_id)[0]["id"]
    for path, form in (
        ("/ui/chains", {"name": "Mine"}),
        (f"/ui/chains/{chain_id}/steps", {"type": "resolve"}),
        (f"/ui/chains/{chain_id}/steps/{step_id}/delete", {}),
        (f"/ui/chains/{chain_id}/rename", {"name": "Mine"}),
        (f"/ui/chains/{chain_id}/delete", {}),
        (f"/ui/integrations/{iid}/routes", {"routing_type": "regex", "term": "y"}),
        (f"/ui/integrations/{iid}/routes/{default_id}", {"escalation_chain_id": ""}),
    ):
        assert _post(viewer, path, form)["statusCode"] == 403, path
    assert len(_policies(api, chain_id)) == 1 and len(_routes(api, iid)) == 2
    assert api("GET", "/api/v1/escalation_chains/")[1]["count"] == 1


def test_editors_change_only_their_teams_routes_and_chains(web: ModuleType, admin: Browser, api: Invoke) -> None:
    ours = api("POST", "/api/v1/teams/", {"name": "Ours"})[1]["id"]
    theirs = api("POST", "/api/v1/teams/", {"name": "Theirs"})[1]["id"]
    mine, other = _integration(api, "Mine", ours), _integration(api, "Other", theirs)
    their_chain = _chain(admin, "Their chain", theirs)
    editor = _browser(web, api, "eddie", "editor", [ours])

    path = f"/ui/integrations/{other['id']}/routes"
    page = editor.call("GET", path)
    assert page["statusCode"] == 200 and f'action="{path}"' not in page["body"]
    assert "Only editors of this integration's team" in page["body"]
    assert _post(editor, path, {"routing_type": "regex", "term": "x"})["statusCode"] == 403
    default = other["default_route"]["id"]
    assert _post(editor, f"{path}/{default}", {"escalation_chain_id": their_chain})["statusCode"] == 403
    assert len(_routes(api, other["id"])) == 1
    assert api("GET", f"/api/v1/integrations/{other['id']}/")[1]["default_route"]["escalation_chain_id"] is None

    own_path = f"/ui/integrations/{mine['id']}/routes"
    assert f'action="{own_path}"' in editor.call("GET", own_path)["body"]
    assert _flash(_post(editor, own_path, {"routing_type": "regex", "term": "x"})) == {"notice": "Route added."}
    assert len(_routes(api, mine["id"])) == 2
    # another team's route under this integration's address is not found, not changed
    other_route = _post(admin, path, {"routing_type": "regex", "term": "z"})
    assert "notice" in _flash(other_route)
    their_route = _routes(api, other["id"])[0]["id"]
    assert _post(editor, f"{own_path}/{their_route}/delete")["statusCode"] == 303
    assert their_route in [r["id"] for r in _routes(api, other["id"])]

    # chains: their team's chain is read-only, a chain of the editor's team is theirs
    assert _post(editor, f"/ui/chains/{their_chain}/delete")["statusCode"] == 403
    assert _post(editor, f"/ui/chains/{their_chain}/steps", {"type": "resolve"})["statusCode"] == 403
    assert _post(editor, "/ui/chains", {"name": "Sneaky", "team_id": theirs})["statusCode"] == 403
    team_options = re.search(r'<select id="new-chain-team".*?</select>', editor.call("GET", "/ui/chains")["body"], re.S)
    assert team_options and "Ours" in team_options[0] and "Theirs" not in team_options[0]
    own_chain = _chain(editor, "Our chain", ours)
    assert "notice" in _flash(_post(editor, f"/ui/chains/{own_chain}/steps", {"type": "resolve"}))
    assert api("GET", f"/api/v1/escalation_chains/{their_chain}/")[0] == 200
