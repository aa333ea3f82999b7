"""An alert storm does not lock responders out: with ingest saturated (its routes answering 429), the console, the
management API, an escalation and the acknowledge link in its notification all keep working.

The local gateway enforces the per-route throttles of ``oncall.http_routes`` as API Gateway does; here ingest's
limit is small, so a handful of sender threads saturates it, and the API's and console's are the deployed ones.
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from oncall.http_routes import THROTTLES

from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT, wait_for

pytestmark = pytest.mark.e2e

INGEST_THROTTLE = "5/10"  # a storm of a few threads is far over it
STORM_THREADS = 4
TIME_SCALE = 0.02
LINK = re.compile(r"https?://\S+/actions/[A-Za-z0-9_\-.]+")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {
        "TOCSIN_INGEST_THROTTLE": INGEST_THROTTLE,
        "TOCSIN_API_THROTTLE": str(THROTTLES["api"]),  # as deployed
        "TOCSIN_WEB_THROTTLE": str(THROTTLES["web"]),
        "TOCSIN_RATE_LIMIT": "1000000/300",  # the per-integration limiter is not under test
        "TOCSIN_TIME_SCALE": str(TIME_SCALE),
    }
    with LocalStack(Path(tmp_path_factory.mktemp("storm")), env=env) as running:
        yield running


class Storm:
    """Threads that send alerts as fast as the gateway answers, counting the statuses, until stopped."""

    def __init__(self, link: str) -> None:
        self.link = link
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(STORM_THREADS)]

    def _send(self, n: int) -> None:
        with httpx.Client(timeout=30) as http:
            sent = 0
            while not self.stop.is_set():
                sent += 1
                status = http.post(self.link, json={"alert_uid": f"storm-{n}-{sent}", "title": "storm"}).status_code
                with self.lock:
                    self.statuses[status] += 1

    def __enter__(self) -> Storm:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    @property
    def running(self) -> bool:
        return not self.stop.is_set() and all(thread.is_alive() for thread in self.threads)

    def saturated(self) -> bool:
        with self.lock:
            return self.statuses[429] >= 50


def emails(stack: LocalStack, subject_part: str) -> list[dict[str, Any]]:
    records = httpx.get(f"{stack.base_url}/local/outbox", timeout=HTTP_TIMEOUT).json()["records"]
    return [r for r in records if r.get("channel") == "email" and subject_part in r.get("subject", "")]


def sign_in(console: httpx.Client, api_key: str) -> None:
    form = console.get("/ui/signin")
    assert form.status_code == 200
    token = html.unescape(CSRF.search(form.text)[1])  # type: ignore[index]
    signed_in = console.post("/ui/signin", data={"csrf_token": token, "api_key": api_key, "next": "/ui/groups"})
    assert signed_in.status_code == 303, signed_in.text


def test_console_api_and_an_escalation_stay_responsive_while_ingest_is_saturated(stack: LocalStack) -> None:
    statuses: list[tuple[str, int]] = []  # every request a responder made during the storm
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": stack.api_key}, timeout=30) as api:

        def call(what: str, response: httpx.Response) -> httpx.Response:
            statuses.append((what, response.status_code))
            return response

        alice = api.post("/api/v1/users/", json={"username": "alice", "email": "alice@example.com"}).json()
        chain = api.post("/api/v1/escalation_chains/", json={"name": "storm on-call"}).json()
        step = {"escalation_chain_id": chain["id"], "type": "notify_persons", "persons_to_notify": [alice["id"]]}
        assert api.post("/api/v1/escalation_policies/", json=step).status_code == 201
        paged = api.post(
            "/api/v1/integrations/",
            json={"name": "Paged", "type": "webhook", "default_route": {"escalation_chain_id": chain["id"]}},
        ).json()
        noisy = api.post("/api/v1/integrations/", json={"name": "Noisy", "type": "webhook"}).json()

        with Storm(noisy["link"]) as storm, httpx.Client(base_url=stack.base_url, timeout=30) as console:
            wait_for(storm.saturated, 60, "the storm answered 429")  # ingest answers 429 to most of the storm now
            sign_in(console, stack.api_key)
            page = call("console", console.get("/ui/groups"))
            assert "Alert groups" in page.text or "alert groups" in page.text.lower()
            # A new alert group escalates: the demo alert goes through the API route, ingest's own routes are full
            demo = call("api", api.post(f"/api/v1/integrations/{paged['id']}/send_demo_alert/"))
            [mail] = wait_for(lambda: emails(stack, "demo") or emails(stack, "Demo"), 60, "the demo alert's e-mail")
            assert mail["to"] == "alice@example.com"
            # The responder acknowledges from the notification, and sees it in the console and through the API
            ack = LINK.findall(mail["text"])[0]
            call("action link", httpx.get(ack, timeout=30))
            done = call("action link", httpx.post(ack, timeout=30))
            assert "acknowledged" in done.text
            groups = call("api", api.get("/api/v1/alert_groups/", params={"integration_id": paged["id"]})).json()
            assert [g["state"] for g in groups["results"]] == ["acknowledged"]
            call("console", console.get("/ui/groups"))
            assert storm.running  # all of the above happened while the storm went on
        assert demo.status_code == 200, demo.text
    assert statuses and all(status == 200 for _, status in statuses), statuses
    assert storm.statuses[429] >= 50 and storm.statuses[200] >= 1, storm.statuses
    assert set(storm.statuses) <= {200, 429}, storm.statuses  # throttled, never failed
