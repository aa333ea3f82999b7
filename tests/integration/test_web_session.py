"""The web console's handler on DynamoDB Local: sessions, CSRF, roles, sign-in redirects, template preview."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
from oncall.access import create_api_key
from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
from oncall.store.dynamodb import DynamoStore
from oncall.web import session

from tests.integration.conftest import Context, Invoke, http_event, load_handler, post_alert

KEY = "web-console-test-signing-key"
PAGES = ["/ui/groups", "/ui/integrations", "/ui/schedules", "/ui/users", "/ui/keys", "/ui/groups/IXYZ"]


class Browser:
    """Calls the web handler like a browser: keeps the session cookie, reads the CSRF token from pages."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.cookie: str | None = None

    def call(self, method: str, path: str, form: dict[str, str] | None = None, **headers: str) -> dict[str, Any]:
        path, _, query = path.partition("?")
        event = http_event(
            method,
            path,
            raw_body=urlencode(form) if form is not None else None,
            headers={"content-type": "application/x-www-form-urlencoded", **headers},
            query=query,
        )
        if self.cookie:
            event["cookies"] = [f"{session.COOKIE_NAME}={self.cookie}"]
        response: dict[str, Any] = self.module.handler(event, Context())
        for cookie in response.get("cookies", []):
            self.cookie = cookie.split(";", 1)[0].split("=", 1)[1] or None
        return response

    def sign_in(self, key: str) -> dict[str, Any]:
        return self.call("POST", "/ui/signin", {"api_key": key})

    def csrf(self, path: str = "/ui/groups") -> str:
        page = self.call("GET", path)["body"]
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return match[1]


@pytest.fixture
def web(table_name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("TOCSIN_SIGNING_KEY", KEY)
    return load_handler("web")


@pytest.fixture
def admin_key(store: DynamoStore) -> str:
    ensure_admin(store)
    return create_api_key(store, user_id=ADMIN_USER_ID, name="web")[1]


def _user_key(api: Invoke, role: str) -> str:
    status, user = api("POST", "/api/v1/users/", {"username": role, "role": role})
    assert status == 201, user
    status, key = api("POST", "/api/v1/api_keys/", {"name": "web", "user_id": user["id"]})
    assert status == 201, key
    return str(key["key"])


def _group(api: Invoke, ingest_handler: ModuleType) -> str:
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Web", "type": "webhook"})
    assert status == 201, integration
    status, _ = post_alert(ingest_handler, integration["link"], {"title": "Disk <b>full</b>", "message": "m"})
    assert status == 200
    return str(api("GET", "/api/v1/alert_groups/")[1]["results"][0]["id"])


@pytest.mark.parametrize("path", PAGES)
def test_every_page_without_a_session_redirects_to_sign_in(web: ModuleType, path: str) -> None:
    response = Browser(web).call("GET", path)
    assert response["statusCode"] == 303
    assert response["headers"]["Location"] == "/ui/signin?" + urlencode({"next": path})


def test_root_redirects_and_static_htmx_is_public(web: ModuleType) -> None:
    browser = Browser(web)
    assert browser.call("GET", "/")["headers"]["Location"] == "/ui/"
    assert browser.call("GET", "/ui/")["headers"]["Location"].startswith("/ui/signin")
    static = browser.call("GET", "/ui/static/htmx.min.js")
    assert static["statusCode"] == 200 and "htmx" in static["body"][:200]
    assert browser.call("GET", "/ui/static/../handler.py")["statusCode"] == 404


def test_sign_in_sets_a_hardened_cookie_and_pages_render(web: ModuleType, admin_key: str) -> None:
    browser = Browser(web)
    assert browser.sign_in("wrong")["statusCode"] == 401
    response = browser.sign_in(admin_key)
    assert response["statusCode"] == 303 and response["headers"]["Location"] == "/ui/groups"
    (cookie,) = response["cookies"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
    assert "Secure" in cookie  # host tocsin.test: https
    for path in PAGES[:-1]:
        page = browser.call("GET", path)
        assert page["statusCode"] == 200, (path, page["body"])
        assert "<main" in page["body"] and "<h1>" in page["body"]
    signed_out = browser.call("POST", "/ui/signout", {"csrf_token": browser.csrf()})
    assert "Max-Age=0" in signed_out["cookies"][0]
    assert browser.call("GET", "/ui/groups")["statusCode"] == 303


def test_local_plain_http_cookie_is_not_secure(web: ModuleType, admin_key: str) -> None:
    browser = Browser(web)
    response = browser.call("POST", "/ui/signin", {"api_key": admin_key}, host="127.0.0.1:8080")
    event_cookie = response["cookies"][0]
    # http_event's domainName is tocsin.test; x-forwarded-host decides the base URL as the local gateway sets it
    response = browser.call("POST", "/ui/signin", {"api_key": admin_key}, **{"x-forwarded-host": "127.0.0.1:8080"})
    assert "Secure" not in response["cookies"][0] and "Secure" in event_cookie


def test_tampered_or_expired_sessions_are_refused(web: ModuleType, admin_key: str, store: DynamoStore) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    assert browser.cookie
    body, _, signature = browser.cookie.partition(".")
    browser.cookie = f"{body}x.{signature}"
    assert browser.call("GET", "/ui/groups")["statusCode"] == 303
    now = datetime.now(UTC)
    with pytest.raises(session.InvalidSession):
        session.verify(session.issue("h", "u", now - timedelta(hours=13), KEY.encode()), KEY.encode(), now)
    with pytest.raises(session.InvalidSession):
        session.verify(session.issue("h", "u", now, b"another key"), KEY.encode(), now)
    key_hash = next(k.key_hash for k in store.list_api_keys())
    expired = session.issue(key_hash, ADMIN_USER_ID, now - timedelta(hours=12, seconds=1), KEY.encode())
    browser.cookie = expired
    assert browser.call("GET", "/ui/groups")["statusCode"] == 303
    browser.cookie = session.issue(key_hash, ADMIN_USER_ID, now, KEY.encode())
    assert browser.call("GET", "/ui/groups")["statusCode"] == 200
    # a revoked key ends its sessions
    store.delete_api_key(next(k for k in store.list_api_keys() if k.key_hash == key_hash))
    assert browser.call("GET", "/ui/groups")["statusCode"] == 303


def test_posts_need_the_sessions_csrf_token(
    web: ModuleType, admin_key: str, api: Invoke, ingest_handler: ModuleType
) -> None:
    group_id = _group(api, ingest_handler)
    browser = Browser(web)
    browser.sign_in(admin_key)
    token = browser.csrf()
    assert browser.call("POST", f"/ui/groups/{group_id}/acknowledge", {})["statusCode"] == 403
    assert browser.call("POST", f"/ui/groups/{group_id}/acknowledge", {"csrf_token": "x" + token})["statusCode"] == 403
    other = Browser(web)
    other.sign_in(admin_key)
    assert other.call("POST", f"/ui/groups/{group_id}/acknowledge", {"csrf_token": token})["statusCode"] == 403
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"
    done = browser.call("POST", f"/ui/groups/{group_id}/acknowledge", {"csrf_token": token})
    assert done["statusCode"] == 303
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "acknowledged"
    page = browser.call("GET", f"/ui/groups/{group_id}")["body"]
    assert "Disk &lt;b&gt;full&lt;/b&gt;" in page and "Unacknowledge" in page  # escaped, and the next action


def test_viewers_read_but_cannot_act(
    web: ModuleType, admin_key: str, api: Invoke, ingest_handler: ModuleType, store: DynamoStore
) -> None:
    group_id = _group(api, ingest_handler)
    browser = Browser(web)
    browser.sign_in(_user_key(api, "viewer"))
    page = browser.call("GET", "/ui/groups")["body"]
    assert group_id in page and ">Acknowledge<" not in page and "Send demo alert" not in page
    token = browser.csrf()
    assert browser.call("POST", f"/ui/groups/{group_id}/acknowledge", {"csrf_token": token})["statusCode"] == 403
    integration_id = api("GET", "/api/v1/integrations/")[1]["results"][0]["id"]
    for path in (f"/ui/integrations/{integration_id}/send_demo_alert", "/ui/integrations"):
        assert browser.call("POST", path, {"csrf_token": token, "name": "x"})["statusCode"] == 403
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["state"] == "firing"


def test_template_preview_and_save(web: ModuleType, admin_key: str, api: Invoke, ingest_handler: ModuleType) -> None:
    _group(api, ingest_handler)
    integration_id = api("GET", "/api/v1/integrations/")[1]["results"][0]["id"]
    browser = Browser(web)
    browser.sign_in(admin_key)
    editor = browser.call("GET", f"/ui/integrations/{integration_id}/templates")["body"]
    assert "Disk &lt;b&gt;full&lt;/b&gt;" in editor  # the latest alert's payload and its rendered title
    token = browser.csrf(f"/ui/integrations/{integration_id}/templates")
    form = {
        "csrf_token": token,
        "title": "Title: {{ payload.title | upper }}",
        "grouping_id": "{{ payload.title }}",
        "resolve_condition": "{{ payload.state == 'ok' }}",
        "payload": '{"title": "abc", "state": "ok"}',
    }
    preview = browser.call("POST", f"/ui/integrations/{integration_id}/preview", form, **{"hx-request": "true"})
    assert preview["statusCode"] == 200
    assert "Title: ABC" in preview["body"] and 'id="preview-resolve_condition">yes' in preview["body"]
    broken = browser.call(
        "POST", f"/ui/integrations/{integration_id}/preview", {**form, "title": "{{ x"}, **{"hx-request": "true"}
    )
    assert "title:" in broken["body"]
    saved = browser.call("POST", f"/ui/integrations/{integration_id}/templates", form)
    assert saved["statusCode"] == 303
    templates = api("GET", f"/api/v1/integrations/{integration_id}/")[1]["templates"]
    assert templates["web"]["title"] == "Title: {{ payload.title | upper }}"
    assert templates["grouping_key"] == "{{ payload.title }}"
    assert (
        browser.call("POST", f"/ui/integrations/{integration_id}/templates", {**form, "title": "{{ x"})["statusCode"]
        == 400
    )


def test_create_integration_shows_the_link_once_and_demo_alert(web: ModuleType, admin_key: str, api: Invoke) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    created = browser.call("POST", "/ui/integrations", {"csrf_token": browser.csrf(), "name": "New", "type": "webhook"})
    assert created["statusCode"] == 201
    assert re.search(r'id="created-link">https://tocsin\.test/integrations/v1/webhook/\w+/<', created["body"])
    integration_id = api("GET", "/api/v1/integrations/")[1]["results"][0]["id"]
    demo = browser.call("POST", f"/ui/integrations/{integration_id}/send_demo_alert", {"csrf_token": browser.csrf()})
    assert demo["statusCode"] == 303 and "Demo+alert+sent" in demo["headers"]["Location"]
    assert api("GET", "/api/v1/alert_groups/")[1]["count"] == 1
    listing = browser.call("GET", "/ui/integrations")["body"]
    assert "/integrations/v1/webhook/" not in listing  # the link is shown only once
