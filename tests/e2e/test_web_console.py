"""The web console in a real browser: headless Debian Chromium driven by playwright-core (tests/e2e/browser_driver.mjs)
against the local stack: alerts live, acknowledging, templates, integrations; escalation chains and their steps,
routes (and where a routed alert goes), group filters; API keys and users. Screenshots of every page and state go
to ``test-artifacts/web-*.png`` (gitignored)."""

from __future__ import annotations

import time

import httpx
import pytest

from local.stack import LocalStack
from tests.e2e.browser import Browser, rows, sign_in
from tests.support.processes import HTTP_TIMEOUT

pytestmark = pytest.mark.e2e


def test_web_console_in_a_browser(stack: LocalStack, client: httpx.Client, browser: Browser) -> None:
    base = stack.base_url
    status = client.post("/api/v1/integrations/", json={"name": "Browser checks", "type": "webhook"})
    assert status.status_code == 201, status.text
    integration = status.json()

    # sign in with the stack's API key: the home page sends to the sign-in form
    browser("goto", url=f"{base}/")
    assert "/ui/signin" in browser("url")["url"]
    browser.shot("signin")
    sign_in(browser, stack)
    (cookie,) = [c for c in browser("cookies")["cookies"] if c["name"] == "tocsin_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"

    # a new alert appears without a reload (htmx refreshes the table every 2 s)
    sent = httpx.post(
        integration["link"], json={"title": "Checkout is slow", "message": "p99 > 2 s"}, timeout=HTTP_TIMEOUT
    )
    assert sent.status_code == 200, sent.text
    browser("wait", selector="#groups-table tr", text="Checkout is slow", timeout=15000)
    browser.shot("groups")

    # acknowledge it from the list
    browser("click", selector='#groups-table tr:has-text("Checkout is slow") button:has-text("Acknowledge")')
    browser("wait", selector='#groups-table tr:has-text("Checkout is slow") td.state-acknowledged')
    group_id = client.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"][0]
    assert group_id["state"] == "acknowledged"

    # the alert group page
    browser("click", selector='#groups-table a:has-text("Checkout is slow")')
    browser("wait", selector="#timeline-h")
    assert browser("text", selector="#group-state")["text"] == "acknowledged"
    browser("wait", selector="li", text="acknowledged")
    browser.shot("group")

    # the template editor: the preview follows the text as it is typed
    browser("goto", url=f"{base}/ui/integrations/{integration['id']}/templates")
    browser("wait", selector="#preview-title", text="Checkout is slow")
    browser("fill", selector="#t-title", value="")
    browser("type", selector="#t-title", value="[{{ payload.title | upper }}]")
    browser("wait", selector="#preview-title", text="[CHECKOUT IS SLOW]")
    browser.shot("templates")
    browser("click", selector='button:has-text("Save templates")')
    browser("wait", selector=".notice", text="Templates saved.")
    saved = client.get(f"/api/v1/integrations/{integration['id']}/").json()
    assert saved["templates"]["web"]["title"] == "[{{ payload.title | upper }}]"

    # create an integration (its URL is shown once) and send a demo alert
    browser("goto", url=f"{base}/ui/integrations")
    browser("fill", selector="#new-name", value="Created in the browser")
    browser("click", selector='button:has-text("Create integration")')
    link = browser("text", selector="#created-link")["text"]
    assert link.startswith(f"{base}/integrations/v1/webhook/")
    browser.shot("integration-created")
    browser("click", selector='button[aria-label="Send demo alert to Created in the browser"]')
    browser("wait", selector=".notice", text="Demo alert sent")
    browser.shot("integrations")

    # the other pages (a user in a team, so the users page shows team names)
    team = client.post("/api/v1/teams/", json={"name": "Browser team"}).json()
    assert client.post("/api/v1/users/", json={"username": "teamed", "teams": [team["id"]]}).status_code == 201
    for name in ("schedules", "users", "keys"):
        browser("goto", url=f"{base}/ui/{name}")
        browser("wait", selector="h1")
        browser.shot(name)
    browser("goto", url=f"{base}/ui/users")
    assert "Browser team" in browser("text", selector="table")["text"]
    browser("click", selector='button:has-text("Sign out")')
    browser("wait", selector="h1", text="Sign in")


def test_chains_routes_and_filters_in_a_browser(stack: LocalStack, client: httpx.Client, browser: Browser) -> None:
    base = stack.base_url
    created = client.post(
        "/api/v1/integrations/",
        json={
            "name": "Routed checks",
            "type": "webhook",
            "dynamic_labels": {"checked_severity": "{{ payload.severity }}"},
        },
    )
    assert created.status_code == 201, created.text
    integration = created.json()
    user = client.post("/api/v1/users/", json={"username": "browser-oncall"})
    assert user.status_code == 201, user.text
    user_id = user.json()["id"]
    sign_in(browser, stack)

    # an escalation chain: create it, add a wait step and a step notifying the user, move the latter up
    browser("goto", url=f"{base}/ui/chains")
    browser("wait", selector="h1", text="Escalation chains")
    browser("fill", selector="#new-chain-name", value="Browser chain")
    browser("click", selector='button:has-text("Create escalation chain")')
    browser("wait", selector="h1", text="Escalation chain Browser chain")
    browser("wait", selector=".notice", text="Escalation chain “Browser chain” created.")
    chain_id = browser("url")["url"].split("/ui/chains/", 1)[1].split("?", 1)[0]
    assert client.get(f"/api/v1/escalation_chains/{chain_id}/").json()["name"] == "Browser chain"
    browser.shot("chain-created")

    browser("select", selector="#step-type", value="wait")
    browser("fill", selector="#step-duration", value="300")
    browser("click", selector='button:has-text("Add step")')
    browser("wait", selector='tr[data-step="wait"]', text="Wait 5 min")
    browser("select", selector="#step-type", value="notify_persons")
    browser("select", selector="#step-persons", value=[user_id])
    browser("click", selector='button:has-text("Add step")')
    browser("wait", selector='tr[data-step="notify_persons"]', text="Notify browser-oncall")
    assert [r.split("\t")[:2] for r in rows(browser, "section[aria-labelledby=steps-h] table")] == [
        ["1", "Wait 5 min"],
        ["2", "Notify browser-oncall"],
    ]
    browser.shot("chain-steps")
    browser("click", selector='button[aria-label="Move step 2 up"]')
    browser("wait", selector=".notice", text="Step moved up.")
    steps = rows(browser, "section[aria-labelledby=steps-h] table")
    assert [r.split("\t")[:2] for r in steps] == [["1", "Notify browser-oncall"], ["2", "Wait 5 min"]], steps

    # form errors: the browser itself refuses a 10 s wait (the input's min is the API's 60 s) ...
    browser("select", selector="#step-type", value="wait")
    browser("fill", selector="#step-duration", value="10")
    browser("click", selector='button:has-text("Add step")')
    browser("wait", selector="#step-duration:invalid")
    refused = client.post(
        "/api/v1/escalation_policies/", json={"escalation_chain_id": chain_id, "type": "wait", "duration": 10}
    )
    assert refused.status_code == 400 and refused.json()["duration"], refused.text
    # ... while a "notify users" step without users is saved, as OnCall saves it (it is skipped when it runs)
    half = client.post("/api/v1/escalation_policies/", json={"escalation_chain_id": chain_id, "type": "notify_persons"})
    assert half.status_code == 201 and half.json()["persons_to_notify"] == [], half.text
    assert client.delete(f"/api/v1/escalation_policies/{half.json()['id']}/").status_code == 204
    policies = client.get("/api/v1/escalation_policies/", params={"escalation_chain_id": chain_id}).json()["results"]
    assert [(p["type"], p["position"]) for p in policies] == [("notify_persons", 0), ("wait", 1)], policies
    assert policies[0]["persons_to_notify"] == [user_id] and policies[1]["duration"] == 300

    # routes: from the integrations page, add a regex route to the chain; it comes before the default route
    browser("goto", url=f"{base}/ui/integrations")
    browser("click", selector='tr[data-integration="Routed checks"] a:has-text("Routes")')
    browser("wait", selector="h1", text="Routes of Routed checks")
    browser("fill", selector="#new-term", value="db-(")
    browser("click", selector='button:has-text("Add route")')
    browser("wait", selector=".error", text="Invalid regex")  # the API's message
    assert browser("text", selector=".error")["text"].startswith("routing_regex: Invalid regex: ")
    regex = r"Disk full on db-\d+"
    browser("fill", selector="#new-term", value=regex)
    browser("select", selector="#new-chain", value=chain_id)
    browser("click", selector='button:has-text("Add route")')
    browser("wait", selector=".notice", text="Route added.")
    listed = rows(browser, "table")
    assert len(listed) == 2, listed
    assert listed[0].startswith("1\tregex") and regex in listed[0] and "Browser chain" in listed[0], listed
    assert listed[1].startswith("default") and "every other alert" in listed[1], listed
    browser.shot("routes")
    routes = client.get("/api/v1/routes/", params={"integration_id": integration["id"]}).json()["results"]
    (route,) = [r for r in routes if r["routing_regex"] == regex]
    assert route["escalation_chain_id"] == chain_id and route["position"] == 0 and not route["is_the_last_route"]
    assert browser("count", selector=f'tr[data-route="{route["id"]}"]')["count"] == 1
    browser("goto", url=f"{base}/ui/chains/{chain_id}")
    browser("wait", selector="p", text="Used by the routes of Routed checks")

    # an alert matching the regex goes to that route (the ingest containers see new routes within about 1 s: a
    # stale one would use the default route, so send again, each a new group, until one lands on the route)
    routed = None
    deadline = time.monotonic() + 15
    for attempt in range(1, 100):
        body = {"title": "Disk full on db-7", "severity": "critical", "attempt": attempt}
        assert httpx.post(integration["link"], json=body, timeout=HTTP_TIMEOUT).status_code == 200
        params = {"integration_id": integration["id"], "route_id": route["id"]}
        if found := client.get("/api/v1/alert_groups/", params=params).json()["results"]:
            routed = found[0]
            break
        assert time.monotonic() < deadline, "no alert group on the new route"
        time.sleep(0.3)
    assert routed and routed["route_id"] == route["id"] and routed["title"] == "Disk full on db-7", routed

    # two more groups to filter out: a warning (firing) and an acknowledged critical one
    for title, severity in (("Queue backlog", "warning"), ("Certificate expires", "critical")):
        body = {"title": title, "severity": severity}
        assert httpx.post(integration["link"], json=body, timeout=HTTP_TIMEOUT).status_code == 200
    groups = client.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"]
    (certificate,) = [g for g in groups if g["title"] == "Certificate expires"]
    acked = client.post(f"/api/v1/alert_groups/{certificate['id']}/acknowledge/")
    assert acked.status_code == 200, acked.text

    def counts() -> dict[str, int]:
        return {
            state: int(browser("text", selector=f'#counts [data-count="{state}"]')["text"])
            for state in ("firing", "acknowledged", "resolved", "silenced")
        }

    def api_count(**params: str) -> int:
        count: int = client.get("/api/v1/alert_groups/", params=params).json()["count"]
        return count

    # groups filtered by state and label: only the firing critical ones; the counts are the label's, per state
    browser("goto", url=f"{base}/ui/groups")
    browser("click", selector='#counts a:has-text("Firing")')  # the state tab
    browser("wait", selector='#counts a[aria-current="page"]', text="Firing")
    browser("fill", selector="#label-1", value="checked_severity:critical")
    browser("click", selector='button:has-text("Filter")')
    browser("wait", selector='#label-1[value="checked_severity:critical"]')  # the filtered page, not the form typed in
    shown = rows(browser, "#groups-table table")
    assert shown and all("Disk full on db-7" in r and "\tfiring\t" in r for r in shown), shown
    assert len(shown) == api_count(state="firing", label="checked_severity:critical")
    assert counts() == {
        "firing": len(shown),
        "acknowledged": 1,
        "resolved": 0,
        "silenced": 0,
    }
    browser.shot("groups-by-state-and-label")

    # groups filtered by state and integration (the label cleared): only the acknowledged one
    browser("click", selector='#counts a:has-text("Acknowledged")')  # the tab keeps the other filters
    browser("wait", selector='#counts a[aria-current="page"]', text="Acknowledged")
    browser("fill", selector="#label-1", value="")
    browser("select", selector="#integration_id", value=integration["id"])
    browser("click", selector='button:has-text("Filter")')
    browser("wait", selector="#groups-table tr", text="Certificate expires")  # not on the page filtered before
    url = browser("url")["url"]
    assert f"integration_id={integration['id']}" in url and "severity" not in url, url
    shown = rows(browser, "#groups-table table")
    assert len(shown) == 1 and "Certificate expires" in shown[0] and "\tacknowledged\t" in shown[0], shown
    assert counts() == {
        "firing": api_count(integration_id=integration["id"], state="firing"),
        "acknowledged": 1,
        "resolved": 0,
        "silenced": 0,
    }
    assert counts()["firing"] >= 2  # the routed group(s) and the warning
    browser.shot("groups-by-state-and-integration")


def test_api_keys_and_users_in_a_browser(stack: LocalStack, client: httpx.Client, browser: Browser) -> None:
    base = stack.base_url
    sign_in(browser, stack)

    # create a key: its secret is shown once, and works for the API
    browser("goto", url=f"{base}/ui/keys")
    browser("fill", selector="#key-name", value="browser-key")
    browser("click", selector='button:has-text("Create key")')
    browser("wait", selector="#created-secret")
    secret = browser("text", selector="#created-secret")["text"].strip()
    assert browser("text", selector="#created-heading")["text"] == "Key browser-key created"
    headers = {"Authorization": secret}
    assert httpx.get(f"{base}/api/v1/alert_groups/", headers=headers, timeout=HTTP_TIMEOUT).status_code == 200
    browser.shot("key-created")
    browser("goto", url=f"{base}/ui/keys")
    browser("wait", selector="#my-keys tr", text="browser-key")
    assert browser("count", selector="#created-secret")["count"] == 0
    assert secret not in browser("text", selector="main")["text"]
    (key,) = [k for k in client.get("/api/v1/api_keys/").json()["results"] if k["name"] == "browser-key"]

    # revoke it: gone from the page and from the API's list (API containers may cache a key for up to 60 s)
    browser("click", selector='#my-keys button[aria-label^="Revoke browser-key ("]')
    browser("wait", selector=".notice", text="Key browser-key (")
    assert browser("count", selector=f'#my-keys tr[data-key-id="{key["id"]}"]')["count"] == 0
    assert key["id"] not in [k["id"] for k in client.get("/api/v1/api_keys/").json()["results"]]
    browser.shot("key-revoked")

    # an admin creates a user, then changes its role
    browser("goto", url=f"{base}/ui/users")
    browser("fill", selector="#new-username", value="browser-viewer")
    browser("select", selector="#new-role", value="viewer")
    browser("click", selector='button:has-text("Create user")')
    browser("wait", selector=".notice", text="User browser-viewer created (viewer).")
    (user,) = [u for u in client.get("/api/v1/users/").json()["results"] if u["username"] == "browser-viewer"]
    assert user["role"] == "viewer"
    browser("select", selector=f"#role-{user['id']}", value="editor")
    browser("click", selector='button[aria-label="Change the role of browser-viewer"]')
    browser("wait", selector=".notice", text="browser-viewer is now editor.")
    assert client.get(f"/api/v1/users/{user['id']}/").json()["role"] == "editor"
    browser.shot("users-role-changed")
