"""Schedules and shifts stored in DynamoDB Local: what goes in comes back, listings follow moves and deletes."""

from __future__ import annotations

from datetime import UTC, datetime

from oncall.api import schedules as api
from oncall.api.request import RequestInfo
from oncall.models import User
from oncall.schedules import OnCallShift, Schedule, users_on_call
from oncall.schemas import schedules as schemas
from oncall.store.dynamodb import DynamoStore

NOW = datetime(2025, 3, 20, 10, tzinfo=UTC)


def add_users(store: DynamoStore) -> None:
    for uid, name in (("UA", "alice"), ("UB", "bob"), ("UC", "carol")):
        store.users.put(User(id=uid, username=name))


def test_schedule_and_shift_round_trip(store: DynamoStore) -> None:
    schedule = Schedule(id="S1", name="Primary", team_id=None, time_zone="Europe/Berlin", ical_url_overrides=None)
    shift = OnCallShift(
        id="O1",
        name="weekdays",
        type="rolling_users",
        schedule_id="S1",
        level=2,
        start=datetime(2025, 3, 3, 9),
        duration=8 * 3600,
        frequency="weekly",
        interval=2,
        by_day=["MO", "TU", "WE", "TH", "FR"],
        rolling_users=[["UA", "UB"], ["UC"], []],
        start_rotation_from_user_index=1,
        until=datetime(2025, 12, 31, 23, 59),
        restrict_hours={"from": "09:00", "to": "17:00"},
    )
    store.schedules.put(schedule, new=True)
    store.shifts.put(shift, new=True)
    assert store.schedules.get("S1") == schedule
    assert store.shifts.get("O1") == shift
    assert store.shifts.of_schedule("S1") == [shift]
    assert store.schedules.list() == [schedule]


def test_use_cases_on_dynamodb(store: DynamoStore) -> None:
    add_users(store)
    created = api.create_schedule(store, schemas.ScheduleIn(name="Primary", time_zone="Europe/Berlin"), NOW)
    schedule_id = created["id"]
    body = schemas.ShiftIn.model_validate(
        {
            "name": "days",
            "type": "rolling_users",
            "schedule_id": schedule_id,
            "start": "2025-03-01T09:00:00",
            "duration": 86_400,
            "frequency": "daily",
            "rolling_users": [["UA"], ["UB"], ["UC"]],
        }
    )
    shift = api.create_shift(store, body)
    late = api.create_shift(
        store,
        schemas.ShiftIn.model_validate(
            {**body.model_dump(exclude_none=True), "name": "late", "level": 1, "rolling_users": [["UC"]]}
            | {"restrict_hours": {"from": "18:00", "to": "22:00"}}
        ),
    )
    assert [s.id for s in store.shifts.of_schedule(schedule_id)] == [shift["id"], late["id"]]  # by level
    assert [u.username for u in users_on_call(store, schedule_id, NOW)] == ["bob"]
    assert [u.username for u in users_on_call(store, schedule_id, datetime(2025, 3, 20, 19, tzinfo=UTC))] == ["carol"]

    # Moving a shift out of the schedule moves it between listings.
    other = api.create_schedule(store, schemas.ScheduleIn(name="Other", type="calendar", shifts=[late["id"]]), NOW)
    assert other["shifts"] == [late["id"]]
    assert [s.id for s in store.shifts.of_schedule(schedule_id)] == [shift["id"]]

    feed = api.export_schedule(store, schedule_id, NOW)
    report = api.import_ical(store, other["id"], feed, NOW, as_overrides=True)
    assert report["created"] > 0 and report["unknown_users"] == []
    assert len(store.shifts.of_schedule(other["id"])) == report["created"] + 1

    api.delete_schedule(store, other["id"])
    assert store.shifts.get(late["id"]) is None
    assert store.shifts.of_schedule(other["id"]) == []
    assert [s["id"] for s in api.list_schedules(store, RequestInfo("https://t", "/", {}, NOW), NOW)["results"]] == [
        schedule_id
    ]
