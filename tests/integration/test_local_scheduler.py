"""The local EventBridge Scheduler emulation and heartbeat sweep (``local/scheduler.py``) through boto3's client."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.config import Config
from oncall.scheduler import EventBridgeScheduler, scheduler_for
from oncall.settings import Settings

from local.scheduler import (
    MAINTENANCE_END_ARN,
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    HeartbeatSweep,
    LocalScheduler,
    scheduler_env,
    sweep_seconds_from_env,
)
from tests.integration.conftest import Invoke

SCALE = 0.01  # 100 s of schedule time = 1 s here
# The latest a due schedule may fire here: a loaded machine wakes the runner's thread seconds late, and a misread
# time (an hour's error: 36 s here) stays far beyond it.
LATE = 10.0
ROLE = SCHEDULER_ROLE_ARN


class Recorder:
    """A target handler: records (monotonic time, event, function name); can fail its first calls."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[float, Any, str]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.called = threading.Event()

    def __call__(self, event: Any, context: Any) -> dict[str, bool]:
        with self.lock:
            self.calls.append((time.monotonic(), event, context.function_name))
            self.called.set()
            if len(self.calls) <= self.fail_first:
                raise RuntimeError(f"boom {len(self.calls)}")
        assert context.get_remaining_time_in_millis() > 0
        return {"ended": True}

    def events(self) -> list[Any]:
        with self.lock:
            return [event for _, event, _ in self.calls]


def client(endpoint: str) -> Any:
    return boto3.client(
        "scheduler",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )


def at(seconds: float, zone: str = "UTC") -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return f"at({moment.astimezone(ZoneInfo(zone)):%Y-%m-%dT%H:%M:%S})"


def create(scheduler: Any, name: str, seconds: float, payload: Any = None, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Name": name,
        "GroupName": SCHEDULE_GROUP,
        "ScheduleExpression": at(seconds),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": MAINTENANCE_END_ARN, "RoleArn": ROLE, "Input": json.dumps(payload or {"n": name})},
        "ActionAfterCompletion": "DELETE",
    }
    params.update(extra)
    response: dict[str, Any] = scheduler.create_schedule(**params)
    return response


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(every)
    raise AssertionError("timed out waiting")


Emulator = Callable[..., LocalScheduler]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    started: list[LocalScheduler] = []

    def start(handler: Any = None, **kwargs: Any) -> LocalScheduler:
        kwargs.setdefault("time_scale", SCALE)
        targets = {MAINTENANCE_END_ARN: handler} if handler is not None else kwargs.pop("targets", None)
        emulator = LocalScheduler(targets=targets, **kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


# --- the API ------------------------------------------------------------------------------------------------


def test_a_schedule_fires_its_target_with_the_input_at_the_scaled_time_then_deletes_itself(
    emulator: Emulator,
) -> None:
    handler = Recorder()
    scheduler = client(emulator(handler).endpoint)
    started = time.monotonic()
    response = create(scheduler, "end-1", 50, {"integration_id": "C1", "maintenance_id": "w1"})
    assert response["ScheduleArn"] == "arn:aws:scheduler:us-east-1:000000000000:schedule/tocsin/end-1"
    shown = scheduler.get_schedule(Name="end-1", GroupName=SCHEDULE_GROUP)
    assert shown["Target"]["Input"] == json.dumps({"integration_id": "C1", "maintenance_id": "w1"})
    assert (shown["State"], shown["ActionAfterCompletion"]) == ("ENABLED", "DELETE")
    assert handler.called.wait(LATE)
    [(fired_at, event, function)] = handler.calls
    # at() has whole seconds: 49-50 s of schedule time, i.e. 0.49-0.5 s here (plus the thread's wake-up).
    assert 0.45 <= fired_at - started <= LATE
    assert event == {"integration_id": "C1", "maintenance_id": "w1"}
    assert function == "tocsin-maintenance-end"
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="end-1", GroupName=SCHEDULE_GROUP)  # ActionAfterCompletion DELETE
    assert scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"] == []


def test_a_schedule_deleted_before_its_time_never_fires(emulator: Emulator) -> None:
    handler = Recorder()
    scheduler = client(emulator(handler).endpoint)
    create(scheduler, "early", 30)
    create(scheduler, "kept", 30)
    assert (
        scheduler.delete_schedule(Name="early", GroupName=SCHEDULE_GROUP)["ResponseMetadata"]["HTTPStatusCode"] == 200
    )
    wait_until(lambda: handler.calls)
    time.sleep(0.2)
    assert handler.events() == [{"n": "kept"}]


def test_deleting_an_unknown_schedule_or_group_is_resource_not_found(emulator: Emulator) -> None:
    scheduler = client(emulator(Recorder()).endpoint)
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException) as caught:
        scheduler.delete_schedule(Name="nope", GroupName=SCHEDULE_GROUP)
    assert caught.value.response["Error"]["Message"] == "Schedule nope does not exist."
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException, match="Schedule group other does not exist"):
        scheduler.delete_schedule(Name="nope", GroupName="other")
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        create(scheduler, "x", 30, GroupName="other")


def test_creating_an_existing_schedule_is_a_conflict_and_the_same_name_in_another_group_is_not(
    emulator: Emulator,
) -> None:
    scheduler = client(emulator(Recorder()).endpoint)
    create(scheduler, "twice", 600)
    with pytest.raises(scheduler.exceptions.ConflictException) as caught:
        create(scheduler, "twice", 600)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert caught.value.response["Error"]["Message"] == "Schedule twice already exists."
    create(scheduler, "twice", 600, GroupName="default")
    listed = scheduler.list_schedules()["Schedules"]
    assert sorted((s["GroupName"], s["Name"]) for s in listed) == [("default", "twice"), (SCHEDULE_GROUP, "twice")]


def test_invalid_requests_are_validation_errors(emulator: Emulator) -> None:
    scheduler = client(emulator(Recorder()).endpoint)
    with pytest.raises(scheduler.exceptions.ValidationException, match="one-time schedules only"):
        create(scheduler, "rate", 0, ScheduleExpression="rate(1 minute)")
    with pytest.raises(scheduler.exceptions.ValidationException, match="Timezone"):
        create(scheduler, "tz", 30, ScheduleExpressionTimezone="Mars/Olympus")
    with pytest.raises(scheduler.exceptions.ValidationException, match="pattern"):
        create(scheduler, "bad name!", 30)
    with pytest.raises(scheduler.exceptions.ValidationException, match="ActionAfterCompletion"):
        create(scheduler, "action", 30, ActionAfterCompletion="ARCHIVE")
    assert scheduler.list_schedules()["Schedules"] == []


def test_at_is_read_in_the_schedule_timezone(emulator: Emulator) -> None:
    handler = Recorder()
    scheduler = client(emulator(handler).endpoint)
    started = time.monotonic()
    create(scheduler, "paris", 40, ScheduleExpression=at(40, "Europe/Paris"), ScheduleExpressionTimezone="Europe/Paris")
    create(scheduler, "later", 3600, ScheduleExpression=at(0, "Asia/Tokyo"))  # read as UTC: 9 h away
    assert handler.called.wait(LATE)
    assert 0.35 <= handler.calls[0][0] - started <= LATE
    time.sleep(0.2)
    assert handler.events() == [{"n": "paris"}]


def test_completed_schedules_without_delete_stay_and_disabled_ones_never_fire(emulator: Emulator) -> None:
    handler = Recorder()
    scheduler = client(emulator(handler).endpoint)
    create(scheduler, "keep", 10, ActionAfterCompletion="NONE")
    create(scheduler, "off", 10, State="DISABLED")
    wait_until(lambda: handler.calls)
    time.sleep(0.3)
    assert handler.events() == [{"n": "keep"}]  # once
    names = {s["Name"]: s["State"] for s in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]}
    assert names == {"keep": "ENABLED", "off": "DISABLED"}


def test_a_failing_target_is_retried_twice_like_lambda_async_and_the_runner_keeps_going(emulator: Emulator) -> None:
    handler = Recorder(fail_first=5)
    scheduler = client(emulator(handler, time_scale=0.001).endpoint)  # retries after 0.06 and 0.12 s
    create(scheduler, "fails", 1)
    wait_until(lambda: len(handler.calls) == 3)
    time.sleep(0.3)
    assert len(handler.calls) == 3  # dropped after 2 retries
    create(scheduler, "next", 1)  # 2 more failures, then a success
    wait_until(lambda: len(handler.calls) == 6)
    assert handler.events()[-1] == {"n": "next"}


def test_unknown_targets_and_handler_import_errors_are_logged_not_fatal(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    handler = Recorder()
    scheduler = client(emulator(handler, time_scale=0.0).endpoint)
    create(scheduler, "nobody", 1, Target={"Arn": "arn:aws:lambda:us-east-1:0:function:unknown", "RoleArn": ROLE})
    create(scheduler, "somebody", 1)
    wait_until(lambda: handler.calls)
    wait_until(lambda: "no local function for the target" in caplog.text)
    broken = emulator(targets={MAINTENANCE_END_ARN: "missing_function"}, functions_dir=tmp_path, time_scale=0.0)
    create(client(broken.endpoint), "broken", 1)
    wait_until(lambda: "no retries left" in caplog.text)


def test_pending_schedules_survive_a_restart_and_past_due_ones_fire_at_once(emulator: Emulator, tmp_path: Path) -> None:
    state = tmp_path / "schedules.json"
    first = Recorder()
    before = emulator(first, state_file=state, time_scale=1.0)
    scheduler = client(before.endpoint)
    create(scheduler, "overdue", 2)  # at() has whole seconds: 1-2 s away, never due before the stop below
    create(scheduler, "future", 3600)
    before.stop()
    saved = {s["name"]: s["fire_at"] for s in json.loads(state.read_text())["schedules"]}
    assert set(saved) == {"overdue", "future"}
    time.sleep(max(0.0, saved["overdue"] - time.time()) + 0.05)  # "overdue" is past due while nothing runs

    second = Recorder()
    after = emulator(second, state_file=state, time_scale=1.0)
    assert second.called.wait(2)
    assert second.events() == [{"n": "overdue"}]
    remaining = client(after.endpoint).list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    assert [s["Name"] for s in remaining] == ["future"]
    assert [s["name"] for s in json.loads(state.read_text())["schedules"]] == ["future"]


# --- oncall.scheduler's adapter, unchanged ------------------------------------------------------------------


def test_the_eventbridge_scheduler_adapter_works_unchanged_through_the_endpoint_variable(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = Recorder()
    local = emulator(handler)
    for name, value in {
        **scheduler_env(local),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    adapter = scheduler_for(Settings.from_env())
    assert isinstance(adapter, EventBridgeScheduler)
    assert (adapter.group, adapter.target_arn, adapter.role_arn) == (SCHEDULE_GROUP, MAINTENANCE_END_ARN, ROLE)
    now = datetime.now(UTC)
    adapter.at("maintenance-C1-w1", now + timedelta(seconds=40), {"integration_id": "C1", "maintenance_id": "w1"})
    adapter.at("maintenance-C2-w2", now + timedelta(seconds=40), {"integration_id": "C2", "maintenance_id": "w2"})
    adapter.cancel("maintenance-C2-w2")
    adapter.cancel("maintenance-C3-never")  # unknown: ResourceNotFoundException, suppressed by the adapter
    assert handler.called.wait(3)
    time.sleep(0.2)
    assert handler.events() == [{"integration_id": "C1", "maintenance_id": "w1"}]
    adapter.cancel("maintenance-C1-w1")  # already ran and deleted itself: fine


def test_a_window_started_through_the_api_is_ended_by_the_real_maintenance_end_function(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, api: Invoke
) -> None:
    """api handler -> CreateSchedule here -> functions/maintenance_end (loaded by default) on DynamoDB Local."""
    # the default targets: functions/maintenance_end; the 60 s window lasts 6 s, long enough to see its schedule
    # listed on a loaded machine (at 0.6 s it once had fired and deleted itself first)
    local = emulator(time_scale=0.1)
    for name, value in scheduler_env(local).items():
        monkeypatch.setenv(name, value)
    api.container.scheduler = scheduler_for(Settings.from_env())  # type: ignore[attr-defined]  # as the stack sets it
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Maintained", "type": "webhook"})
    assert status == 201, integration
    path = f"/api/v1/integrations/{integration['id']}/"
    status, started = api("POST", path + "maintenance_start/", {"mode": "maintenance", "duration": 60})
    assert status == 200 and started["maintenance_mode"] == "maintenance", started
    [schedule] = client(local.endpoint).list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    assert schedule["Name"].startswith(f"maintenance-{integration['id']}-")
    # through the API, polled as a person would (every 10 ms for seconds is past the per-key rate limit)
    wait_until(lambda: api("GET", path)[1]["maintenance_mode"] is None, timeout=30, every=0.25)

    def states() -> list[str]:
        groups = api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")[1]["results"]
        return [g["state"] for g in groups]

    wait_until(lambda: states() == ["resolved"], every=0.25)  # the "Maintenance of ..." group, resolved after it
    assert client(local.endpoint).list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"] == []


# --- the heartbeat sweep (EventBridge rule) -----------------------------------------------------------------


def test_the_sweep_calls_the_handler_on_its_interval_with_a_scheduled_event() -> None:
    handler = Recorder(fail_first=1)  # a failing sweep does not stop the next ones
    started = time.monotonic()  # before the sweep's own start, so no slot can look early
    with HeartbeatSweep(0.1, handler) as sweep:
        wait_until(lambda: len(handler.calls) >= 4, timeout=10)
    times = [t - started for t, _, _ in handler.calls]
    # On the rule's grid, as EventBridge's rate(): sweep n never runs before n intervals have passed (a late wake-up
    # shortens the gap to the next slot, it does not shift the grid), later only by what a busy machine delays a
    # thread (bounded generously); sweeps never overlap.
    assert all(times[n] >= 0.1 * (n + 1) - 0.001 for n in range(len(times)))
    assert times[0] <= 2.0  # the first sweep one interval after the start, as a new rule's
    assert all(0 < b - a <= 2.0 for a, b in itertools.pairwise(times))
    event = handler.events()[0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/tocsin-heartbeat-sweep"]
    assert event["detail"] == {}
    datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert handler.calls[0][2] == "heartbeat_check"
    assert sweep.sweeps >= 4 and sweep.last_result == {"ended": True}


def test_the_sweep_interval_comes_from_the_environment_and_zero_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOCSIN_HEARTBEAT_SWEEP_SECONDS", raising=False)
    assert sweep_seconds_from_env() == 60.0
    monkeypatch.setenv("TOCSIN_HEARTBEAT_SWEEP_SECONDS", "1.5")
    assert sweep_seconds_from_env() == 1.5
    monkeypatch.setenv("TOCSIN_HEARTBEAT_SWEEP_SECONDS", "-1")
    with pytest.raises(ValueError):
        sweep_seconds_from_env()
    handler = Recorder()
    with HeartbeatSweep(0, handler) as sweep:
        time.sleep(0.1)
    assert not sweep.enabled and handler.calls == []
