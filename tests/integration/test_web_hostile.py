"""Every form of the web console, posted with hostile values by an admin through the real handler on DynamoDB
Local: each answer is a page or a redirect with a message, never a 5xx, and the data stays readable by the API."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from oncall.web.app import all_routes
from oncall.web.views import FORM_MAX_BYTES, TEMPLATES_DIR

from tests.integration.conftest import Invoke, post_alert
from tests.integration.web_browser import Browser

# every field any form of the console has (the templates say which), but the session's own
FIELDS = sorted(
    {name for page in TEMPLATES_DIR.glob("*.html") for name in re.findall(r'name="(\w+)"', page.read_text())}
    - {"csrf_token", "viewport", "api_key"}
)
HOSTILE = ["", "x" * 5000, "-1", "99999999999999999999999", "a\x00b", "line\r\nInjected: 1", "{{ 7*7 }}", "[]"]
# deleting last, so that the forms of what a delete removes still reach their use cases
POSTS = sorted((pattern for method, pattern, _ in all_routes() if method == "POST"), key=lambda p: "delete" in p)


@pytest.fixture
def world(api: Invoke, ingest_handler: ModuleType) -> dict[str, str]:
    """One of everything the console's paths name, so hostile values reach the use cases."""
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Hostile", "type": "webhook"})
    assert status == 201, integration
    assert post_alert(ingest_handler, integration["link"], {"title": "t"})[0] == 200
    group = api("GET", "/api/v1/alert_groups/")[1]["results"][0]
    chain = api("POST", "/api/v1/escalation_chains/", {"name": "Hostile chain"})[1]
    policy = api("POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain["id"], "type": "resolve"})[1]
    route = api("POST", "/api/v1/routes/", {"integration_id": integration["id"], "routing_regex": "x"})[1]
    user = api("POST", "/api/v1/users/", {"username": "target", "role": "viewer"})[1]
    key = api("POST", "/api/v1/api_keys/", {"name": "target", "user_id": user["id"]})[1]
    rule = api("POST", "/api/v1/personal_notification_rules/", {"user_id": user["id"], "type": "notify_by_sms"})[1]
    note = api("POST", "/api/v1/resolution_notes/", {"alert_group_id": group["id"], "text": "n"})[1]
    webhook = api("POST", "/api/v1/webhooks/", {"name": "Hostile hook", "url": "https://hooks.example.com/h"})[1]
    return {
        "groups": group["id"],
        "integrations": integration["id"],
        "chains": chain["id"],
        "steps": policy["id"],
        "routes": route["id"],
        "users": user["id"],
        "keys": key["id"],
        "rules": rule["id"],
        "notes": note["id"],
        "webhooks": webhook["id"],
    }


def _path(pattern: str, world: dict[str, str]) -> str:
    """The pattern with each id group filled by the id of the resource named before it, and the first choice."""
    parts, out = pattern.strip("/").split("/"), []
    for index, part in enumerate(parts):
        if part == r"([\w-]+)":
            out.append(world[parts[index - 1]])
        elif part.startswith("("):
            out.append(part.strip("()").split("|")[0])
        else:
            out.append(part)
    return "/ui/" + "/".join(out)


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:12]))
def test_every_form_answers_hostile_values_without_a_server_error(
    web: ModuleType, admin_key: str, api: Invoke, world: dict[str, str], value: str
) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    token = browser.csrf()
    for pattern in POSTS:
        path = _path(pattern, world)
        form = {name: value for name in FIELDS} | {"csrf_token": token}
        response = browser.call("POST", path, form, referer=f"https://tocsin.test{path}")
        assert response["statusCode"] < 500, (path, response["body"][:500])
        if response["statusCode"] == 303:
            assert re.fullmatch(r"/ui/[^\s]*", response["headers"]["Location"]), response["headers"]["Location"]
    assert api("GET", "/api/v1/integrations/")[0] == 200  # everything stored is still readable
    assert api("GET", "/api/v1/escalation_policies/")[0] == 200
    assert api("GET", "/api/v1/alert_groups/")[0] == 200


def test_a_form_past_the_console_limit_is_refused_with_a_message_and_changes_nothing(
    web: ModuleType, admin_key: str, api: Invoke, world: dict[str, str]
) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    path = f"/ui/integrations/{world['integrations']}/templates"
    before = api("GET", f"/api/v1/integrations/{world['integrations']}")[1]
    huge = {"title": "{{ payload.title }}" + " " * FORM_MAX_BYTES, "csrf_token": browser.csrf()}
    response = browser.call("POST", path, huge)
    assert response["statusCode"] == 413
    assert "The form is too large" in response["body"]
    assert api("GET", f"/api/v1/integrations/{world['integrations']}")[1] == before
    # the same form at its usual size is read and saved
    fits = {"title": "{{ payload.title }} fits", "csrf_token": browser.csrf()}
    assert browser.call("POST", path, fits)["statusCode"] == 303
    saved = api("GET", f"/api/v1/integrations/{world['integrations']}")[1]
    assert saved["templates"]["web"]["title"] == "{{ payload.title }} fits"
