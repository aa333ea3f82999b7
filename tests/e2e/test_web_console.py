"""The web console in a real browser: headless Debian Chromium driven by playwright-core (tests/e2e/browser_driver.mjs)
against the local stack. Screenshots of every page go to ``test-artifacts/`` (gitignored)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local import REPO_ROOT
from local.stack import LocalStack

pytestmark = pytest.mark.e2e
DRIVER = Path(__file__).with_name("browser_driver.mjs")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(DRIVER)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "CHROMIUM": CHROMIUM, "HOME": "/tmp"},
        )

    def __call__(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the browser driver stopped"
        answer: dict[str, Any] = json.loads(line)
        assert answer.pop("ok"), f"{op} {args}: {answer.get('error')}"
        return answer

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self("screenshot", path=str(ARTIFACTS / f"web-{name}.png"))

    def close(self) -> None:
        try:
            self("close")
            assert self.process.stdin
            self.process.stdin.close()
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or not (REPO_ROOT / "node_modules" / "playwright-core").exists():
        pytest.fail("needs Debian's chromium (make system) and playwright-core (npm ci)")
    running = Browser()
    try:
        yield running
    finally:
        running.close()


def test_web_console_in_a_browser(stack: LocalStack, client: httpx.Client, browser: Browser) -> None:
    base = stack.base_url
    status = client.post("/api/v1/integrations/", json={"name": "Browser checks", "type": "webhook"})
    assert status.status_code == 201, status.text
    integration = status.json()

    # sign in with the stack's API key
    browser("goto", url=f"{base}/")
    assert "/ui/signin" in browser("url")["url"]
    browser.shot("signin")
    browser("fill", selector="#api_key", value=stack.api_key)
    browser("click", selector="button[type=submit]")
    browser("wait", selector="h1", text="Alert groups")
    (cookie,) = [c for c in browser("cookies")["cookies"] if c["name"] == "tocsin_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"

    # a new alert appears without a reload (htmx refreshes the table every 2 s)
    sent = httpx.post(integration["link"], json={"title": "Checkout is slow", "message": "p99 > 2 s"}, timeout=10)
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
