"""Heartbeats and maintenance windows end to end on the local stack: the heartbeat sweep loop (the EventBridge
rule's twin) and the EventBridge Scheduler emulation that ends maintenance windows, through HTTP only.

Heartbeat timeouts are at least 60 s of real time and the sweep's clock is not scaled (no test hook in the
domain), so the test makes the heartbeat overdue the way two silent minutes would: it backdates the last beat
through the store (the same ``set_heartbeat`` the API's PATCH uses), and the stack's own sweep finds it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from oncall.models import Heartbeat
from oncall.store import schema
from oncall.store.dynamodb import DynamoStore

from local import dynamodb as local_dynamodb
from local.scheduler import MAINTENANCE_END_ARN, SCHEDULE_GROUP
from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT, wait_for

TIME_SCALE = 0.02  # a 300 s maintenance window ends after 6 s
SWEEP_SECONDS = 1


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {
        "TOCSIN_TIME_SCALE": str(TIME_SCALE),
        "TOCSIN_HEARTBEAT_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "TOCSIN_INGEST_SYNC_SECONDS": "0",  # ingest sees a window at once (it is only 2 s long here)
    }
    with LocalStack(Path(tmp_path_factory.mktemp("heartbeat-maintenance")), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def store(stack: LocalStack) -> DynamoStore:
    table = os.environ.get(schema.TABLE_NAME_ENV, schema.DEFAULT_TABLE_NAME)  # what the stack was given
    return DynamoStore(table, client=local_dynamodb.client(stack.dynamodb_endpoint))


def create(api: httpx.Client, name: str, kind: str) -> dict[str, Any]:
    response = api.post("/api/v1/integrations/", json={"name": name, "type": kind})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def integration(api: httpx.Client, integration_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/v1/integrations/{integration_id}/").json()
    return body


def groups(api: httpx.Client, integration_id: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = api.get("/api/v1/alert_groups/", params={"integration_id": integration_id}).json()[
        "results"
    ]
    return results


def pending(stack: LocalStack, integration_id: str) -> list[dict[str, Any]]:
    """The maintenance-end schedules of the integration in the stack's EventBridge Scheduler emulation."""
    listed = stack.scheduler().list_schedules(GroupName=SCHEDULE_GROUP, NamePrefix=f"maintenance-{integration_id}-")
    schedules: list[dict[str, Any]] = listed["Schedules"]
    return schedules


# --- heartbeats ---------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_sweep_loop_runs_on_its_interval(stack: LocalStack) -> None:
    wait_for(lambda: stack.output().count("Found 0 expired heartbeats") >= 2, timeout=5 * SWEEP_SECONDS + 5)


@pytest.mark.e2e
def test_a_silent_heartbeat_alerts_through_the_sweep_and_the_next_beat_resolves_it(
    stack: LocalStack, api: httpx.Client, store: DynamoStore
) -> None:
    created = create(api, "Cron jobs", "webhook")
    patched = api.patch(f"/api/v1/integrations/{created['id']}/", json={"heartbeat": {"timeout_seconds": 60}})
    assert patched.status_code == 200 and patched.json()["heartbeat"]["status"] == "inactive"
    heartbeat_url = created["heartbeat"]["link"]  # shown in full at creation only (the token is stored hashed)
    assert heartbeat_url == created["link"] + "heartbeat/"
    assert httpx.get(heartbeat_url, timeout=HTTP_TIMEOUT).text == ":)"
    assert integration(api, created["id"])["heartbeat"]["status"] == "alive"
    time.sleep(2 * SWEEP_SECONDS)
    assert groups(api, created["id"]) == []  # alive: the sweeps find nothing

    # Two minutes of silence: the last beat moves back 120 s (60 s timeout), and the stack's sweep notices.
    silent_since = datetime.now(UTC) - timedelta(seconds=120)
    store.heartbeats.set(created["id"], Heartbeat(timeout_seconds=60, last_beat_at=silent_since))
    [group] = wait_for(lambda: groups(api, created["id"]), timeout=5 * SWEEP_SECONDS + 5)
    assert group["state"] == "firing" and group["title"] == "Cron jobs heartbeat is missing"
    wait_for(lambda: "Found 1 expired heartbeats" in stack.output(), timeout=5)  # logged after the alert
    assert integration(api, created["id"])["heartbeat"]["status"] == "expired"
    time.sleep(2 * SWEEP_SECONDS)
    assert len(groups(api, created["id"])) == 1  # one alert per expiry, however many sweeps

    assert httpx.post(heartbeat_url, timeout=HTTP_TIMEOUT).status_code == 200  # the monitor is back
    [group] = groups(api, created["id"])
    assert group["state"] == "resolved" and group["alerts_count"] == 2
    assert integration(api, created["id"])["heartbeat"]["status"] == "alive"


# --- maintenance windows ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_maintenance_window_ends_by_its_schedule_and_resolves_what_it_collected(
    stack: LocalStack, api: httpx.Client
) -> None:
    created = create(api, "Batch", "formatted_webhook")
    started = time.monotonic()
    response = api.post(
        f"/api/v1/integrations/{created['id']}/maintenance_start/", json={"mode": "maintenance", "duration": 300}
    )
    assert response.status_code == 200, response.text
    assert response.json()["maintenance_mode"] == "maintenance"
    [summary] = pending(stack, created["id"])
    schedule = stack.scheduler().get_schedule(Name=summary["Name"], GroupName=SCHEDULE_GROUP)
    assert schedule["Target"]["Arn"] == MAINTENANCE_END_ARN and schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["ScheduleExpression"].startswith("at(")

    sent = httpx.post(
        created["link"], json={"alert_uid": "disk", "title": "Disk full during the window"}, timeout=HTTP_TIMEOUT
    )
    assert sent.status_code == 200
    assert len(groups(api, created["id"])) == 2  # the "Maintenance of Batch" group and the collected one
    # 6 s of window (300 s at the stack's time scale): room for a loaded machine to send the alert inside it
    assert time.monotonic() - started < 300 * TIME_SCALE, "the window ended before the alert was sent"

    wait_for(lambda: integration(api, created["id"])["maintenance_mode"] is None, timeout=20)
    ended_after = time.monotonic() - started
    assert 300 * TIME_SCALE - 1 <= ended_after <= 300 * TIME_SCALE + 4  # at() has whole seconds

    # maintenance_end clears the window first, then resolves the groups it collected.
    def all_resolved() -> list[dict[str, Any]] | None:
        found = groups(api, created["id"])
        return found if len(found) == 2 and {g["state"] for g in found} == {"resolved"} else None

    collected = wait_for(all_resolved, timeout=5)
    assert any(g["title"].startswith("Maintenance of Batch") for g in collected)
    assert pending(stack, created["id"]) == []  # ActionAfterCompletion DELETE
    assert f"schedule {SCHEDULE_GROUP}/{summary['Name']} fired" in stack.output()


@pytest.mark.e2e
def test_stopping_a_window_early_deletes_its_schedule_so_nothing_happens_later(
    stack: LocalStack, api: httpx.Client
) -> None:
    created = create(api, "Nightly", "formatted_webhook")
    started = time.monotonic()
    response = api.post(
        f"/api/v1/integrations/{created['id']}/maintenance_start/", json={"mode": "maintenance", "duration": 100}
    )
    assert response.status_code == 200, response.text
    [summary] = pending(stack, created["id"])
    assert api.post(f"/api/v1/integrations/{created['id']}/maintenance_stop/").status_code == 200
    assert pending(stack, created["id"]) == []  # DeleteSchedule
    with pytest.raises(stack.scheduler().exceptions.ResourceNotFoundException):
        stack.scheduler().get_schedule(Name=summary["Name"], GroupName=SCHEDULE_GROUP)
    [maintenance_group] = groups(api, created["id"])
    assert maintenance_group["state"] == "resolved"

    sent = httpx.post(created["link"], json={"alert_uid": "late", "title": "After the window"}, timeout=HTTP_TIMEOUT)
    assert sent.status_code == 200
    time.sleep(max(0.0, 100 * TIME_SCALE + 1.5 - (time.monotonic() - started)))  # past the original end
    assert f"schedule {SCHEDULE_GROUP}/{summary['Name']} fired" not in stack.output()
    after = [g for g in groups(api, created["id"]) if g["id"] != maintenance_group["id"]]
    assert [(g["title"], g["state"]) for g in after] == [("After the window", "firing")]
    assert integration(api, created["id"])["maintenance_mode"] is None
