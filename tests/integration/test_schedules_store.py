"""Schedules and shifts stored in DynamoDB Local: what goes in comes back, listings follow moves and deletes."""

from __future__ import annotations

from datetime import UTC, datetime

from oncall.container import Container
from oncall.directory import User
from oncall.schedules import OnCallShift, Schedule
from oncall.schemas import schedules as schemas
from oncall.services import schedules
from oncall.services.policy import Principal
from oncall.services.schedules import users_on_call
from oncall.settings import Settings
from oncall.store.dynamodb import DynamoStore

from tests.support.clock import ManualClock

NOW = datetime(2025, 3, 20, 10, tzinfo=UTC)
ADMIN = Principal("UADMIN", "admin", "admin")


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
    ports = Container(Settings(), ManualClock(NOW))
    ports.store = store  # type: ignore[misc]
    created = schedules.create_schedule(ports, ADMIN, schemas.ScheduleIn(name="Primary", time_zone="Europe/Berlin"))
    schedule_id = created.schedule.id
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
    shift = schedules.create_shift(ports, ADMIN, body)
    late = schedules.create_shift(
        ports,
        ADMIN,
        schemas.ShiftIn.model_validate(
            {**body.model_dump(exclude_none=True), "name": "late", "level": 1, "rolling_users": [["UC"]]}
            | {"restrict_hours": {"from": "18:00", "to": "22:00"}}
        ),
    )
    assert [s.id for s in store.shifts.of_schedule(schedule_id)] == [shift.id, late.id]  # by level
    assert [u.username for u in users_on_call(store, schedule_id, NOW)] == ["bob"]
    assert [u.username for u in users_on_call(store, schedule_id, datetime(2025, 3, 20, 19, tzinfo=UTC))] == ["carol"]

    # Moving a shift out of the schedule moves it between listings.
    other = schedules.create_schedule(ports, ADMIN, schemas.ScheduleIn(name="Other", type="calendar", shifts=[late.id]))
    assert other.shift_ids == [late.id]
    assert [s.id for s in store.shifts.of_schedule(schedule_id)] == [shift.id]

    feed = schedules.export_schedule(ports, ADMIN, schedule_id)
    as_overrides = schemas.IcalImportIn(content=feed, as_overrides=True)
    report = schedules.import_calendar(ports, ADMIN, other.schedule.id, as_overrides)
    assert report.created > 0 and report.unknown_users == []
    assert len(store.shifts.of_schedule(other.schedule.id)) == report.created + 1

    schedules.delete_schedule(ports, ADMIN, other.schedule.id)
    assert store.shifts.get(late.id) is None
    assert store.shifts.of_schedule(other.schedule.id) == []
    assert [s.schedule.id for s in schedules.list_schedules(ports, ADMIN)] == [schedule_id]
