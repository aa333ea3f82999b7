"""Escalation end to end on the local stack: real Step Functions-style runner, real SMTP, signed links."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT, wait_for
from tests.support.receiver import Receiver, reply

TIME_SCALE = 0.02  # a 60 s wait takes 1.2 s
LINK = re.compile(r"https?://\S+/actions/[A-Za-z0-9_\-.]+")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {"TOCSIN_TIME_SCALE": str(TIME_SCALE)}
    with LocalStack(Path(tmp_path_factory.mktemp("escalation")), env=env) as running:
        yield running


def emails(stack: LocalStack, subject_part: str) -> list[dict[str, Any]]:
    records = httpx.get(f"{stack.base_url}/local/outbox", timeout=HTTP_TIMEOUT).json()["records"]
    return [r for r in records if r.get("channel") == "email" and subject_part in r.get("subject", "")]


@pytest.fixture(scope="module")
def integration(api: httpx.Client) -> dict[str, Any]:
    alice = api.post("/api/v1/users/", json={"username": "alice", "email": "alice@example.com"}).json()
    bob = api.post("/api/v1/users/", json={"username": "bob", "email": "bob@example.com"}).json()
    chain = api.post("/api/v1/escalation_chains/", json={"name": "on-call"}).json()
    for step in (
        {"type": "notify_persons", "persons_to_notify": [alice["id"]]},
        {"type": "wait", "duration": 60},
        {"type": "notify_persons", "persons_to_notify": [bob["id"]]},
        {"type": "repeat_escalation"},
    ):
        assert (
            api.post("/api/v1/escalation_policies/", json={"escalation_chain_id": chain["id"], **step}).status_code
            == 201
        )
    created = api.post(
        "/api/v1/integrations/",
        json={
            "name": "Prod",
            "type": "formatted_webhook",
            "default_route": {"escalation_chain_id": chain["id"]},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.e2e
def test_both_emails_arrive_in_order_through_real_smtp(stack: LocalStack, integration: dict[str, Any]) -> None:
    response = httpx.post(integration["link"], json={"alert_uid": "db", "title": "Database down"}, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    first_two = wait_for(
        lambda: emails(stack, "Database down")[:2] if len(emails(stack, "Database down")) >= 2 else None
    )
    assert [r["to"] for r in first_two] == ["alice@example.com", "bob@example.com"]
    assert LINK.search(first_two[0]["text"])


@pytest.mark.e2e
def test_acknowledging_through_the_signed_link_stops_the_next_notification(
    stack: LocalStack, api: httpx.Client, integration: dict[str, Any]
) -> None:
    """alice is paged, acknowledges from her e-mail, and the escalation stops before it reaches bob.

    The wait before bob is an hour (72 s here), so a busy machine cannot page bob before the test acknowledges;
    that the escalation stopped is read from the state machine (its execution is aborted), not timed."""
    users = {u["username"]: u["id"] for u in api.get("/api/v1/users/").json()["results"]}  # made by `integration`
    chain = api.post("/api/v1/escalation_chains/", json={"name": "acknowledge in time"}).json()
    for step in (
        {"type": "notify_persons", "persons_to_notify": [users["alice"]]},
        {"type": "wait", "duration": 3600},
        {"type": "notify_persons", "persons_to_notify": [users["bob"]]},
    ):
        assert api.post("/api/v1/escalation_policies/", json={"escalation_chain_id": chain["id"], **step}).is_success
    integration = api.post(
        "/api/v1/integrations/",
        json={"name": "Web", "type": "formatted_webhook", "default_route": {"escalation_chain_id": chain["id"]}},
    ).json()
    httpx.post(integration["link"], json={"alert_uid": "web", "title": "Website slow"}, timeout=HTTP_TIMEOUT)
    [first] = wait_for(lambda: emails(stack, "Website slow"))
    ack = LINK.findall(first["text"])[0]  # the first link acknowledges
    page = httpx.get(ack, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and "<form" in page.text  # a GET only asks
    done = httpx.post(ack, timeout=HTTP_TIMEOUT)
    assert done.status_code == 200 and "acknowledged" in done.text
    group = api.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"][0]
    assert group["title"] == "Website slow" and group["state"] == "acknowledged"
    arn = f"{stack.execution_arn_prefix}{group['id']}-g1"
    # stopped in its wait (by the escalation starter, from the table's stream: a moment after the 200): bob is never
    # paged
    wait_for(lambda: stack.stepfunctions().describe_execution(executionArn=arn)["status"] == "ABORTED")
    assert [r["to"] for r in emails(stack, "Website slow")] == ["alice@example.com"]


@pytest.mark.e2e
def test_the_local_stack_delivers_webhooks_on_this_machine_and_nowhere_private(api: httpx.Client) -> None:
    """The local stack allows loopback (TOCSIN_OUTBOUND_ALLOW_LOOPBACK) and plain http, and nothing else private."""
    with Receiver() as receiver:
        created = api.post(
            "/api/v1/webhooks/", json={"name": "receiver", "url": f"http://127.0.0.1:{receiver.port}/hook"}
        )
        assert created.status_code == 201, created.text
        chain = api.post("/api/v1/escalation_chains/", json={"name": "webhook only"}).json()
        step = {"type": "trigger_webhook", "action_to_trigger": created.json()["id"]}
        assert api.post("/api/v1/escalation_policies/", json={"escalation_chain_id": chain["id"], **step}).is_success
        integration = api.post(
            "/api/v1/integrations/",
            json={"name": "Queue", "type": "formatted_webhook", "default_route": {"escalation_chain_id": chain["id"]}},
        ).json()
        assert httpx.post(
            integration["link"], json={"alert_uid": "q", "title": "Queue stuck"}, timeout=HTTP_TIMEOUT
        ).is_success
        [delivery] = wait_for(lambda: receiver.received)
        assert (delivery.method, delivery.path) == ("POST", "/hook") and "Queue stuck" in delivery.body.decode()
        group = api.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"][0]

        def timeline() -> list[str]:
            return [e["text"] for e in api.get(f"/api/v1/alert_groups/{group['id']}/timeline/").json()]

        wait_for(lambda: 'Webhook "receiver" sent (HTTP 200)' in timeline())
    metadata = api.post("/api/v1/webhooks/", json={"name": "metadata", "url": "http://169.254.169.254/latest/"})
    assert metadata.status_code == 400 and "private address" in metadata.json()["url"][0]


@pytest.mark.e2e
def test_the_local_stack_fires_state_change_webhooks_without_holding_up_the_request(api: httpx.Client) -> None:
    """An acknowledge through the API starts the webhook's own execution; the webhook, slow to answer, gets the
    rendered template, and its answer becomes the webhook's last response."""
    with Receiver() as receiver:
        receiver.routes["/ack"] = lambda handler: (time.sleep(4.0), reply(202, b'{"ticket": "T-1"}')(handler))
        created = api.post(
            "/api/v1/webhooks/",
            json={
                "name": "on ack",
                "url": f"http://127.0.0.1:{receiver.port}/ack",
                "trigger_type": "acknowledge",
                "forward_all": False,
                "data": '{"group": "{{ alert_group_id }}", "title": "{{ alert_group.title }}"}',
                "authorization_header": "Bearer e2e-secret",
            },
        )
        assert created.status_code == 201, created.text
        integration = api.post("/api/v1/integrations/", json={"name": "Acked", "type": "formatted_webhook"}).json()
        assert httpx.post(
            integration["link"], json={"alert_uid": "a", "title": "Disk full"}, timeout=HTTP_TIMEOUT
        ).is_success
        group = wait_for(
            lambda: api.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"]
        )[0]
        started = time.monotonic()
        assert api.post(f"/api/v1/alert_groups/{group['id']}/acknowledge/").is_success
        assert time.monotonic() - started < 4.0  # the webhook answers later: the request did not wait for it
        [delivery] = wait_for(lambda: receiver.received)
        assert delivery.headers["authorization"] == "Bearer e2e-secret"
        assert json.loads(delivery.body) == {"group": group["id"], "title": "Disk full"}
        log = wait_for(lambda: api.get(f"/api/v1/webhooks/{created.json()['id']}/").json()["last_response_log"])
        assert (log["status_code"], log["content"], log["request_trigger"]) == (202, '{"ticket": "T-1"}', "acknowledge")


@pytest.mark.e2e
def test_the_alert_completing_the_count_resumes_a_paused_escalation(stack: LocalStack, api: httpx.Client) -> None:
    """A '> 1 alert in 60 min' step pauses on the first alert; the second, through the HTTP ingest, takes the pause
    from the group, and the stream's starter resumes the escalation in a new execution (``-r1``) that pages, once."""
    users = {u["username"]: u["id"] for u in api.get("/api/v1/users/").json()["results"]}
    if "carol" not in users:
        carol = api.post("/api/v1/users/", json={"username": "carol", "email": "carol@example.com"})
        assert carol.status_code == 201, carol.text
        users["carol"] = carol.json()["id"]
    chain = api.post("/api/v1/escalation_chains/", json={"name": "only when it repeats"}).json()
    for step in (
        {"type": "notify_if_num_alerts_in_window", "num_alerts_in_window": 1, "num_minutes_in_window": 60},
        {"type": "notify_persons", "persons_to_notify": [users["carol"]]},
    ):
        assert api.post("/api/v1/escalation_policies/", json={"escalation_chain_id": chain["id"], **step}).is_success
    created = api.post(
        "/api/v1/integrations/",
        json={"name": "Backlog", "type": "formatted_webhook", "default_route": {"escalation_chain_id": chain["id"]}},
    )
    assert created.status_code == 201, created.text
    integration = created.json()
    alert = {"alert_uid": "backlog", "title": "Backlog growing"}
    assert httpx.post(integration["link"], json=alert, timeout=HTTP_TIMEOUT).status_code == 200
    [group] = wait_for(
        lambda: api.get("/api/v1/alert_groups/", params={"integration_id": integration["id"]}).json()["results"]
    )

    def timeline() -> list[str]:
        return [e["text"] for e in api.get(f"/api/v1/alert_groups/{group['id']}/timeline/").json()]

    wait_for(lambda: "Escalation paused: 1 alerts in 60 min (continues above 1)" in timeline())
    assert emails(stack, "Backlog growing") == []
    again = {**alert, "message": "still growing"}  # not the same body (that would be a retry, stored once)
    assert httpx.post(integration["link"], json=again, timeout=HTTP_TIMEOUT).status_code == 200
    [page] = wait_for(lambda: emails(stack, "Backlog growing"), timeout=5)
    assert page["to"] == "carol@example.com"
    sfn = stack.stepfunctions()
    resumed = sfn.describe_execution(executionArn=f"{stack.execution_arn_prefix}{group['id']}-g1-r1")
    assert resumed["status"] in ("RUNNING", "SUCCEEDED")
    time.sleep(60 * TIME_SCALE * 2)  # two of the paused step's re-checks: none pages again
    assert len(emails(stack, "Backlog growing")) == 1
