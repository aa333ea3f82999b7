"""Every console page in headless Chromium at 1400x900 (desktop) and 390x844 (a phone), on the local stack: nothing
scrolls sideways (``document.scrollingElement.scrollWidth <= innerWidth``), the page's key elements are visible and
inside the viewport's width, no element carries an inline ``style`` (the Content-Security-Policy forbids them), on
a phone the firing groups come before the filters, and dark mode follows ``prefers-color-scheme``. The e-mail's
"Open in Tocsin" link leads, through the sign-in form, to the alert group page. Screenshots of every page at both
sizes go to ``test-artifacts/console/<page>-<width>x<height>.png`` (gitignored)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from local import REPO_ROOT
from local.stack import LocalStack
from tests.e2e.browser import Browser
from tests.support.processes import HTTP_TIMEOUT, wait_for

pytestmark = pytest.mark.e2e
SCREENS = REPO_ROOT / "test-artifacts" / "console"
SIZES = ((1400, 900), (390, 844))
LINKS = re.compile(r"(Acknowledge|Open in Tocsin): (https?://\S+)")
AM_PAYLOAD: dict[str, Any] = {
    "receiver": "tocsin",
    "status": "firing",
    "groupKey": '{}:{alertname="DiskFull"}',
    "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example:9093",
    "version": "4",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "DiskFull",
                "severity": "critical",
                "service": "postgres-primary-eu-west-1",
                "instance": "db-7.prod.internal.example.com:9100",
                "job": "node-exporter",
            },
            "annotations": {
                "summary": "Disk almost full on db-7",
                "description": "/var/lib/postgresql on db-7.prod.internal.example.com is 97% full; at the current "
                "rate of 2 GB/h it is full in 40 minutes. A very-long-unbroken-token-that-must-wrap-"
                "instead-of-overflowing-the-phone-screen-0123456789abcdefghijklmnopqrstuvwxyz.",
                "runbook_url": "https://runbooks.example/disk-full",
            },
            "startsAt": "2026-12-07T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes",
            "fingerprint": "f404ecabc8dd5cd7",
        }
    ],
}


def _email_links(stack: LocalStack, subject: str) -> dict[str, str] | None:
    records = httpx.get(f"{stack.base_url}/local/outbox", timeout=HTTP_TIMEOUT).json()["records"]
    for record in records:
        if record.get("channel") == "email" and subject in record.get("subject", ""):
            return dict(LINKS.findall(record.get("text", "")))
    return None


def check(browser: Browser, name: str, *selectors: str) -> dict[str, Any]:
    """At both sizes: no sideways scroll, ``selectors`` visible within the width, no inline style; screenshots."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    layouts = {}
    for width, height in SIZES:
        browser("viewport", width=width, height=height)
        browser("wait", selector="h1")
        layout = browser("layout", selectors=list(selectors))
        browser("screenshot", path=str(SCREENS / f"{name}-{width}x{height}.png"))
        where = f"{name} at {width}x{height}"
        assert layout["scrollWidth"] <= layout["innerWidth"], f"{where} scrolls sideways: {layout}"
        assert layout["inlineStyles"] == [], f"{where} has inline styles"
        hidden = [selector for selector, shown in layout["visible"].items() if not shown]
        assert not hidden, f"{where}: not visible within the width: {hidden}"
        layouts[width] = layout
    return layouts


def test_every_page_fits_a_desktop_and_a_phone(stack: LocalStack, client: httpx.Client, browser: Browser) -> None:
    base = stack.base_url
    # a person paged by e-mail through a chain, a schedule with them on call, an Alertmanager alert
    user = client.post("/api/v1/users/", json={"username": "layout-oncall", "email": "layout@example.com"})
    assert user.status_code == 201, user.text
    user_id = user.json()["id"]
    chain = client.post("/api/v1/escalation_chains/", json={"name": "Layout chain"}).json()
    for step in (
        {"type": "notify_persons", "persons_to_notify": [user_id]},
        {"type": "wait", "duration": 3600},
        {"type": "notify_persons", "persons_to_notify": [user_id], "important": True},
    ):
        body = {"escalation_chain_id": chain["id"], **step}
        assert client.post("/api/v1/escalation_policies/", json=body).status_code == 201
    schedule = client.post("/api/v1/schedules/", json={"name": "Layout primary", "time_zone": "UTC"}).json()
    shift = {
        "name": "always",
        "type": "rolling_users",
        "schedule_id": schedule["id"],
        "start": "2026-01-01T00:00:00",
        "duration": 86_400,
        "frequency": "daily",
        "rolling_users": [[user_id]],
    }
    assert client.post("/api/v1/on_call_shifts/", json=shift).status_code == 201
    created = client.post(
        "/api/v1/integrations/",
        json={
            "name": "Layout Prometheus",
            "type": "alertmanager",
            "default_route": {"escalation_chain_id": chain["id"]},
        },
    )
    assert created.status_code == 201, created.text
    integration = created.json()
    assert httpx.post(integration["link"], json=AM_PAYLOAD, timeout=HTTP_TIMEOUT).status_code == 200
    links = wait_for(lambda: _email_links(stack, "Disk almost full") or _email_links(stack, "DiskFull"))
    group_id = client.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"][0][
        "id"
    ]
    assert links["Open in Tocsin"] == f"{base}/ui/groups/{group_id}"

    # the e-mail's link, signed out: the sign-in form, then the group page
    browser("goto", url=links["Open in Tocsin"])
    assert "/ui/signin?next=" in browser("url")["url"]
    check(browser, "signin", "#api_key", "button[type=submit]")
    browser("viewport", width=1400, height=900)
    browser("fill", selector="#api_key", value=stack.api_key)
    browser("click", selector="button[type=submit]")
    browser("wait", selector="#group-state")
    assert browser("url")["url"] == links["Open in Tocsin"]

    # the alert group page: the responder's page
    browser("wait", selector="#notified", text="layout-oncall")
    layouts = check(
        browser,
        "group",
        "h1",
        "#group-state",
        "button.act-acknowledge",
        "button.act-resolve",
        "#runbook",
        "#labels",
        "#description",
        "#who",
        "#note-form",
        "#timeline",
    )
    assert browser("text", selector="#labels")["text"].count("\n") >= 4  # five label chips
    assert layouts[390]["visible"]["button.act-acknowledge"]
    # dark mode follows the system's preference
    browser("scheme", value="dark")
    dark = check(browser, "group-dark", "#group-state", "button.act-acknowledge")
    assert dark[390]["background"] != layouts[390]["background"], (dark[390], layouts[390])
    browser("scheme", value="light")

    # the list: firing groups before the filters on a phone
    browser("goto", url=f"{base}/ui/groups")
    browser("wait", selector="#groups-table tr[data-group-id]")
    check(browser, "groups", "#counts", "#groups-table tr[data-group-id]", ".filters", "#bulk")
    phone = browser("layout", selectors=["#groups-table tr[data-group-id]", ".filters"])  # the last size: 390
    assert phone["innerWidth"] == 390
    tops = phone["tops"]
    assert tops["#groups-table tr[data-group-id]"] < tops[".filters"]

    # every other page
    pages = {
        "integrations": ("/ui/integrations", ("h1", "table")),
        "templates": (f"/ui/integrations/{integration['id']}/templates", ("h1", "#t-title")),
        "routes": (f"/ui/integrations/{integration['id']}/routes", ("h1", "table")),
        "chains": ("/ui/chains", ("h1", "table")),
        "chain": (f"/ui/chains/{chain['id']}", ("h1", "table")),
        "schedules": ("/ui/schedules", ("h1", ".timeline")),
        "users": ("/ui/users", ("h1", "table")),
        "profile": ("/ui/profile", ("h1",)),
        "page": ("/ui/page", ("h1", "#page-form button[type=submit]")),
        "keys": ("/ui/keys", ("h1", "#key-name")),
        "webhooks": ("/ui/webhooks", ("h1", "table")),
        "insights": ("/ui/insights?period=7d", ("h1", "#mtta", "figure svg.chart")),
    }
    for name, (path, selectors) in pages.items():
        browser("goto", url=f"{base}{path}")
        check(browser, name, *selectors)

    # the e-mail's acknowledge link: one big button
    browser("goto", url=links["Acknowledge"])
    check(browser, "action-link", "button[type=submit]")
    assert browser("text", selector="button[type=submit]")["text"] == "Acknowledge"
    browser("click", selector="button[type=submit]")
    browser("wait", selector="h1", text="Alert group acknowledged")
    browser("goto", url=f"{base}/ui/groups/{group_id}")
    browser("wait", selector="#acknowledged-by", text="Acknowledged by")
    check(browser, "group-acknowledged", "#acknowledged-by", "#group-state")
