"""Schedule and on-call shift use cases: OnCall shapes, validation errors, final shifts, iCal feeds and imports,
and the hook of the escalation step (who is on call now). On in-memory fakes of the people and schedule repositories."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
from oncall.api import schedules as api
from oncall.api.logic import ApiError
from oncall.api.request import RequestInfo
from oncall.models import Team, User
from oncall.outbound.client import Client
from oncall.schedules import ScheduleNotFound, users_on_call
from oncall.schemas import schedules as schemas

from tests.support.memory_store import MemoryStore

NOW = datetime(2025, 3, 20, 10, tzinfo=UTC)


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.teams.put(Team(id="T1", name="SRE"))
    for uid, name in (("UA", "alice"), ("UB", "bob"), ("UC", "carol")):
        memory.users.put(User(id=uid, username=name, email=f"{name}@example.com"))
    return memory


def request(path: str = "/api/v1/schedules/", **query: str) -> RequestInfo:
    return RequestInfo(base_url="https://tocsin.test", path=path, query={k: [v] for k, v in query.items()}, now=NOW)


def make_schedule(store: MemoryStore, **fields: Any) -> dict[str, Any]:
    body = schemas.ScheduleIn.model_validate({"name": "Primary", "time_zone": "Europe/Berlin", **fields})
    return api.create_schedule(store, body, NOW)  # type: ignore[arg-type]


def make_shift(store: MemoryStore, **fields: Any) -> dict[str, Any]:
    defaults = {
        "name": "rotation",
        "type": "rolling_users",
        "start": "2025-03-01T09:00:00",
        "duration": 86_400,
        "frequency": "daily",
        "rolling_users": [["UA"], ["UB"], ["UC"]],
    }
    return api.create_shift(store, schemas.ShiftIn.model_validate({**defaults, **fields}))  # type: ignore[arg-type]


def error_of(call: Any, *args: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value.status, caught.value.body


# --- CRUD and shapes ----------------------------------------------------------------------------------------------


def test_schedule_and_shift_have_oncall_shapes(store: MemoryStore) -> None:
    schedule = make_schedule(store, team_id="T1")
    assert schedule["id"].startswith("S") and len(schedule["id"]) == 13
    assert schedule == {
        "id": schedule["id"],
        "team_id": "T1",
        "name": "Primary",
        "type": "web",
        "time_zone": "Europe/Berlin",
        "on_call_now": [],
        "shifts": [],
        "ical_url_primary": None,
        "ical_url_overrides": None,
        "slack": None,
    }
    shift = make_shift(store, schedule_id=schedule["id"], by_day=["mo", "tu", "we", "th", "fr"])
    assert shift["id"].startswith("O")
    assert {k: shift[k] for k in ("start", "duration", "frequency", "interval", "by_day", "until", "level")} == {
        "start": "2025-03-01T09:00:00",
        "duration": 86_400,
        "frequency": "daily",
        "interval": 1,
        "by_day": ["MO", "TU", "WE", "TH", "FR"],
        "until": None,
        "level": 0,
    }
    assert shift["rolling_users"] == [["UA"], ["UB"], ["UC"]] and shift["start_rotation_from_user_index"] == 0
    assert "users" not in shift  # only the fields of the type, as OnCall
    json.dumps(shift)

    fetched = api.get_schedule(store, schedule["id"], NOW)  # type: ignore[arg-type]
    assert fetched["shifts"] == [shift["id"]]
    assert fetched["on_call_now"]  # Thursday 11:00 in Berlin
    listed = api.list_shifts(store, request("/api/v1/on_call_shifts/", schedule_id=schedule["id"]))  # type: ignore[arg-type]
    assert [s["id"] for s in listed["results"]] == [shift["id"]]
    assert api.list_schedules(store, request(team_id="T1"), NOW)["count"] == 1  # type: ignore[arg-type]
    assert api.list_schedules(store, request(team_id="T2"), NOW)["count"] == 0  # type: ignore[arg-type]


def test_update_and_delete(store: MemoryStore) -> None:
    schedule = make_schedule(store)
    shift = make_shift(store, schedule_id=schedule["id"])
    patch = schemas.ShiftPatch.model_validate({"rolling_users": [["UB"]], "until": "2025-06-01T00:00:00"})
    updated = api.update_shift(store, shift["id"], patch)  # type: ignore[arg-type]
    assert updated["rolling_users"] == [["UB"]] and updated["until"] == "2025-06-01T00:00:00"
    assert api.on_call_now(store, schedule["id"], NOW) == ["UB"]  # type: ignore[arg-type]

    single = schemas.ShiftPatch.model_validate({"type": "single_event", "users": ["UC"], "rolling_users": None})
    became = api.update_shift(store, shift["id"], single)  # type: ignore[arg-type]
    assert (became["type"], became["users"]) == ("single_event", ["UC"]) and "frequency" not in became

    renamed = api.update_schedule(store, schedule["id"], schemas.SchedulePatch(name="Secondary"), NOW)  # type: ignore[arg-type]
    assert renamed["name"] == "Secondary" and renamed["time_zone"] == "Europe/Berlin"

    api.delete_schedule(store, schedule["id"])  # type: ignore[arg-type]
    assert error_of(api.get_schedule, store, schedule["id"], NOW)[0] == 404
    assert error_of(api.get_shift, store, shift["id"])[0] == 404  # its shifts went with it


def test_calendar_schedule_takes_its_shifts_by_id(store: MemoryStore) -> None:
    first, second = make_shift(store, name="one"), make_shift(store, name="two", rolling_users=[["UC"]])
    assert first["schedule_id"] is None
    schedule = make_schedule(store, type="calendar", shifts=[first["id"], second["id"]])
    assert sorted(schedule["shifts"]) == sorted([first["id"], second["id"]])
    after = api.update_schedule(store, schedule["id"], schemas.SchedulePatch(shifts=[second["id"]]), NOW)  # type: ignore[arg-type]
    assert after["shifts"] == [second["id"]]
    assert api.get_shift(store, first["id"])["schedule_id"] is None  # type: ignore[arg-type]


# --- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"rolling_users": [["UA"], ["U404"]]}, "rolling_users", "Unknown ids: U404"),
        ({"type": "single_event", "frequency": None, "users": ["UA", "nobody"]}, "users", "Unknown ids: nobody"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone"),
        ({"frequency": "fortnightly"}, "frequency", "Use one of: hourly, daily, weekly, monthly"),
        ({"duration": 0}, "duration", "positive"),
        ({"duration": -60}, "duration", "positive"),
        ({"by_day": ["MO"], "interval": 2}, "interval", "less than or equal to the number of selected days"),
        ({"by_monthday": [1]}, "by_monthday", "Day limits are temporarily disabled"),
        (
            {"type": "recurrent_event", "users": ["UA"], "frequency": "monthly", "by_month": [2], "by_monthday": [30]},
            "frequency",
            "does not happen again within 8 years",
        ),
        ({"frequency": "weekly", "interval": 10**9}, "frequency", "does not happen again within 8 years"),
        (
            {"frequency": "hourly", "duration": 3600, "by_day": ["MO"], "rotation_start": "2030-01-01T00:00:00"},
            "rotation_start",
            "turns after start",
        ),
        ({"by_day": ["MO", "XX"]}, "by_day", "Unknown days XX"),
        ({"interval": 0}, "interval", "greater than or equal to 1"),
        ({"type": "shift"}, "type", "Use one of"),
        ({"start_rotation_from_user_index": 3}, "start_rotation_from_user_index", "between 0 and 2"),
        ({"rolling_users": [["UA"], []]}, "rolling_users", "at least one user in each group"),
        (
            {"type": "override", "frequency": None, "users": ["UA"], "rotation_start": "2025-03-02T00:00:00"},
            "rotation_start",
            "cannot be after its start",
        ),
        ({"schedule_id": "SNOPE"}, "schedule_id", "Unknown ids"),
        ({"team_id": "TNOPE"}, "team_id", "Unknown ids"),
        ({"restrict_hours": {"from": "09:00", "to": "09:00"}}, "restrict_hours", "differ"),
        ({"type": "override", "users": ["UA"]}, "frequency", "does not recur"),
    ],
)
def test_shift_validation_errors(store: MemoryStore, fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        make_shift(store, **fields)
    status, body = caught.value.status, caught.value.body
    assert status == 400 and list(body) == [field], body
    assert message in body[field][0]


def test_schedule_validation_errors(store: MemoryStore) -> None:
    make_schedule(store)
    for fields, field in (
        ({"name": "B", "time_zone": "Europe/Nowhere"}, "time_zone"),
        ({"name": "C", "team_id": "T404"}, "team_id"),
        ({"name": "D", "type": "ical"}, "ical_url_primary"),
        ({"name": "E", "shifts": ["O404"]}, "shifts"),
    ):
        with pytest.raises(ApiError) as caught:
            make_schedule(store, **fields)
        assert caught.value.status == 400 and list(caught.value.body) == [field]


def test_overlapping_shifts_are_fine(store: MemoryStore) -> None:
    schedule = make_schedule(store)
    make_shift(store, schedule_id=schedule["id"], name="a")
    make_shift(store, schedule_id=schedule["id"], name="b", rolling_users=[["UC"]])
    assert sorted(api.on_call_now(store, schedule["id"], NOW)) == ["UB", "UC"]  # type: ignore[arg-type]


# --- final shifts, on call now, the escalation hook -----------------------------------------------------------------


def test_final_shifts_rows_per_person_and_date_range_rules(store: MemoryStore) -> None:
    schedule = make_schedule(store)
    make_shift(store, schedule_id=schedule["id"], start="2025-03-01T09:00:00", rolling_users=[["UA", "UB"], ["UC"]])
    path = f"/api/v1/schedules/{schedule['id']}/final_shifts"
    page = api.final_shifts(store, request(path, start_date="2025-03-01", end_date="2025-03-02"), schedule["id"], NOW)  # type: ignore[arg-type]
    rows = page["results"]
    assert rows[0] == {
        "user_pk": "UA",
        "user_email": "alice@example.com",
        "user_username": "alice",
        "shift_start": "2025-03-01T08:00:00Z",
        "shift_end": "2025-03-02T08:00:00Z",
        "shift_id": rows[0]["shift_id"],
        "is_override": False,
        "is_gap": False,
    }
    assert [r["user_pk"] for r in rows] == ["UA", "UB", "UC"]  # the gap before 09:00 on the 1st is left out
    with_gaps = api.final_shifts(  # type: ignore[arg-type]
        store, request(path, start_date="2025-03-01", end_date="2025-03-01", include_gaps="true"), schedule["id"], NOW
    )
    assert with_gaps["results"][0]["is_gap"] and with_gaps["results"][0]["shift_end"] == "2025-03-01T08:00:00Z"

    for query, field in (
        ({"start_date": "2025-01-01", "end_date": "2025-04-01"}, "end_date"),  # 91 days
        ({"start_date": "2025-03-02", "end_date": "2025-03-01"}, "end_date"),
        ({"start_date": "01/03/2025"}, "start_date"),
    ):
        status, body = error_of(api.final_shifts, store, request(path, **query), schedule["id"], NOW)
        assert status == 400 and list(body) == [field]
    ninety = request(path, start_date="2025-01-01", end_date="2025-03-31")
    assert api.final_shifts(store, ninety, schedule["id"], NOW)["count"] > 0  # type: ignore[arg-type]
    assert error_of(api.final_shifts, store, request(path), "SNOPE", NOW)[0] == 404


def test_users_on_call_for_the_escalation_step(store: MemoryStore) -> None:
    schedule = make_schedule(store)
    make_shift(store, schedule_id=schedule["id"], start="2025-03-20T09:00:00", rolling_users=[["UB", "UC"]])
    override = {"name": "swap", "type": "override", "start": "2025-03-20T12:00:00", "duration": 3600, "users": ["UA"]}
    override["frequency"] = None
    make_shift(store, schedule_id=schedule["id"], **override)
    assert [u.username for u in users_on_call(store, schedule["id"], NOW)] == ["bob", "carol"]  # type: ignore[arg-type]
    assert [u.id for u in users_on_call(store, schedule["id"], NOW + timedelta(hours=1, minutes=30))] == ["UA"]  # type: ignore[arg-type]
    store.users.delete("UC")  # deleted people are left out
    assert [u.id for u in users_on_call(store, schedule["id"], NOW)] == ["UB"]  # type: ignore[arg-type]
    assert users_on_call(store, schedule["id"], datetime(2025, 3, 19, tzinfo=UTC)) == []  # type: ignore[arg-type]
    with pytest.raises(ScheduleNotFound):
        users_on_call(store, "SGONE", NOW)  # type: ignore[arg-type]


# --- iCalendar ----------------------------------------------------------------------------------------------------


def test_export_then_import_into_another_schedule_gives_the_same_final_shifts(store: MemoryStore) -> None:
    source = make_schedule(store)
    make_shift(store, schedule_id=source["id"])
    lunch = {"level": 1, "start": "2025-03-03T12:00:00", "duration": 3600, "frequency": "weekly", "by_day": ["WE"]}
    make_shift(store, schedule_id=source["id"], name="lunch", rolling_users=[["UB"]], **lunch)
    feed = api.export_schedule(store, source["id"], NOW)  # type: ignore[arg-type]
    assert "BEGIN:VEVENT" in feed and "SUMMARY:alice" in feed

    target = make_schedule(store, name="Copy", time_zone="UTC")
    report = api.import_ical(store, target["id"], feed, NOW)  # type: ignore[arg-type]
    assert report["unknown_users"] == [] and report["skipped"] == [] and report["created"] > 90

    window = {"start_date": "2025-03-13", "end_date": "2025-06-10"}  # 90 days of the feed's 97
    path = "/api/v1/schedules/x/final_shifts"

    def rows(schedule_id: str) -> list[tuple[Any, ...]]:
        result: list[tuple[Any, ...]] = []
        for n in range(1, 100):
            page = api.final_shifts(store, request(path, **window, page=str(n)), schedule_id, NOW)  # type: ignore[arg-type]
            result += [(r["user_pk"], r["shift_start"], r["shift_end"]) for r in page["results"]]
            if not page["next"]:
                return result
        raise AssertionError("too many pages")

    assert rows(target["id"]) == rows(source["id"])
    assert api.get_schedule(store, target["id"], NOW)["shifts"] == []  # type: ignore[arg-type]

    again = api.import_ical(store, target["id"], feed, NOW)  # type: ignore[arg-type]
    assert again["replaced"] == report["created"]  # a re-import replaces the previous one


def test_user_feed_across_schedules(store: MemoryStore) -> None:
    for name in ("Primary", "Secondary"):
        schedule = make_schedule(store, name=name)
        make_shift(store, schedule_id=schedule["id"], rolling_users=[["UA"]])
    calendar = icalendar.Calendar.from_ical(api.export_user(store, "UA", NOW))  # type: ignore[arg-type]
    summaries = {str(e["summary"]) for e in calendar.walk("VEVENT")}
    assert summaries == {"alice on call (Primary)", "alice on call (Secondary)"}
    assert error_of(api.export_user, store, "U404", NOW)[0] == 404


def test_import_from_url_with_unknown_user_reported(store: MemoryStore) -> None:
    schedule = make_schedule(store)
    make_shift(store, schedule_id=schedule["id"], level=3)
    calendar = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20250101T000000Z\r\n"
        "DTSTART:20250320T090000Z\r\nDTEND:20250320T120000Z\r\nSUMMARY:carol, zed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    client = Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, text=calendar)))
    body = schemas.IcalImportIn(url="https://calendar.example.com/oncall.ics")
    report = api.import_calendar(store, schedule["id"], body, NOW, client=client)  # type: ignore[arg-type]
    assert report["unknown_users"] == ["zed"] and report["created"] == 1 and report["level"] == 4
    assert api.on_call_now(store, schedule["id"], NOW) == ["UC"]  # type: ignore[arg-type]  # above the rotation

    failing = Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with pytest.raises(ApiError) as caught:
        api.import_calendar(store, schedule["id"], body, NOW, client=failing)  # type: ignore[arg-type]
    assert caught.value.body == {"url": ["Fetching the calendar failed: HTTP 500."]}
    with pytest.raises(ApiError) as caught:
        api.import_calendar(store, schedule["id"], schemas.IcalImportIn(content="nope"), NOW)  # type: ignore[arg-type]
    assert list(caught.value.body) == ["content"]


# --- OnCall fidelity: rotation_start, source, names, response keys -------------------------------------------------

ONCALL_KEYS = {"id", "team_id", "schedule", "name", "type", "time_zone", "start", "rotation_start", "duration"}
RECURRING_KEYS = {"level", "frequency", "interval", "until", "by_day", "by_month", "by_monthday"}
TOCSIN_EXTRAS = {"schedule_id", "restrict_hours"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "single_event", "frequency": None, "users": ["UA"]}, ONCALL_KEYS | {"level", "users"}),
        ({"type": "override", "frequency": None, "users": ["UA"]}, ONCALL_KEYS | {"users"}),
        ({"type": "recurrent_event", "users": ["UA"]}, ONCALL_KEYS | RECURRING_KEYS | {"users"}),
        (
            {"type": "recurrent_event", "users": ["UA"], "frequency": "weekly", "week_start": "MO"},
            ONCALL_KEYS | RECURRING_KEYS | {"users", "week_start"},
        ),
        ({}, ONCALL_KEYS | RECURRING_KEYS | {"rolling_users", "start_rotation_from_user_index"}),
    ],
)
def test_shift_responses_have_the_keys_oncall_returns(
    store: MemoryStore, fields: dict[str, Any], expected: set[str]
) -> None:
    schedule = make_schedule(store)
    shift = make_shift(store, schedule_id=schedule["id"], **fields)
    assert expected <= set(shift) and set(shift) - expected <= TOCSIN_EXTRAS
    assert shift["schedule"] == schedule["id"] and shift["rotation_start"] == shift["start"]


def test_rotation_start_is_accepted_returned_and_honoured(store: MemoryStore) -> None:
    """A shift as OnCall's API returns it: rotation_start after start skips the turns before it."""
    schedule = make_schedule(store, time_zone="UTC")
    copied = {
        "name": "weekly", "type": "rolling_users", "team_id": None, "time_zone": None, "level": 0,
        "start": "2025-03-03T09:00:00", "rotation_start": "2025-03-12T12:00:00", "duration": 7 * 86_400,
        "frequency": "weekly", "interval": 1, "until": None, "week_start": "MO", "by_day": None, "by_month": None,
        "by_monthday": None, "rolling_users": [["UA"], ["UB"], ["UC"]], "start_rotation_from_user_index": 0,
        "schedule_id": schedule["id"],
    }  # fmt: skip
    shift = api.create_shift(store, schemas.ShiftIn.model_validate(copied))  # type: ignore[arg-type]
    assert shift["rotation_start"] == "2025-03-12T12:00:00"
    # 3, 10 March (alice's and bob's turns) are before rotation_start: nobody until carol's on the 17th.
    assert api.on_call_now(store, schedule["id"], datetime(2025, 3, 14, tzinfo=UTC)) == []  # type: ignore[arg-type]
    assert api.on_call_now(store, schedule["id"], datetime(2025, 3, 18, tzinfo=UTC)) == ["UC"]  # type: ignore[arg-type]
    # Made in OnCall's web UI (source 0): the turn under way at rotation_start counts from then.
    patch = schemas.ShiftPatch.model_validate({"source": 0})
    api.update_shift(store, shift["id"], patch)  # type: ignore[arg-type]
    assert api.on_call_now(store, schedule["id"], datetime(2025, 3, 14, tzinfo=UTC)) == ["UB"]  # type: ignore[arg-type]
    # As in OnCall, a write without source 0 makes it an API shift again.
    api.update_shift(store, shift["id"], schemas.ShiftPatch.model_validate({"name": "renamed"}))  # type: ignore[arg-type]
    assert api.on_call_now(store, schedule["id"], datetime(2025, 3, 14, tzinfo=UTC)) == []  # type: ignore[arg-type]


def test_until_and_rotation_start_are_utc_and_start_is_local(store: MemoryStore) -> None:
    schedule = make_schedule(store)  # Europe/Berlin
    shift = make_shift(
        store, schedule_id=schedule["id"], start="2025-03-01T09:00:00+00:00", until="2025-03-05T09:00:00+01:00",
        rotation_start="2025-03-02T00:00:00+01:00",
    )  # fmt: skip
    assert (shift["start"], shift["until"], shift["rotation_start"]) == (
        "2025-03-01T10:00:00",  # an instant given for start: its wall clock in Berlin
        "2025-03-05T08:00:00",  # until and rotation_start: UTC
        "2025-03-01T23:00:00",
    )


def test_names_need_not_be_unique(store: MemoryStore) -> None:
    first, second = make_schedule(store, name="Same"), make_schedule(store, name="Same")
    assert first["id"] != second["id"]
    a = make_shift(store, schedule_id=first["id"], name="rotation")
    b = make_shift(store, schedule_id=first["id"], name="rotation")
    assert a["id"] != b["id"]
    renamed = api.update_schedule(store, second["id"], schemas.SchedulePatch(name="Same"), NOW)  # type: ignore[arg-type]
    assert renamed["name"] == "Same"


def test_overrides_follow_oncall_levels(store: MemoryStore) -> None:
    """API overrides have level 0 (not returned); those made in OnCall's web UI (source 0) level 99, so they win
    over the API's, and only their first user is on call."""
    schedule = make_schedule(store, time_zone="UTC")
    override = {"type": "override", "frequency": None, "start": "2025-03-20T09:00:00", "duration": 3 * 3600}
    plain = make_shift(store, schedule_id=schedule["id"], name="api", level=5, users=["UA"], **override)
    assert "level" not in plain
    make_shift(store, schedule_id=schedule["id"], name="web", source=0, users=["UB", "UC"], **override)
    assert api.on_call_now(store, schedule["id"], NOW) == ["UB"]  # type: ignore[arg-type]
