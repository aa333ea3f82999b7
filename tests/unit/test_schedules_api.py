"""Schedule and on-call shift use cases: OnCall shapes, validation errors, final shifts, iCal feeds and imports,
who may change what, and the hook of the escalation step (who is on call now). On in-memory fakes of the people and
schedule repositories."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
from oncall import http
from oncall.api.routes.on_call_shifts import shift_out
from oncall.api.routes.schedules import final_shift_out, schedule_out
from oncall.directory import Team, User
from oncall.errors import TocsinError
from oncall.outbound import Policy
from oncall.outbound.client import Client
from oncall.schemas import schedules as schemas
from oncall.services import schedules
from oncall.services.policy import Principal
from oncall.services.schedules import ScheduleNotFound, users_on_call

from tests.support.clock import ManualClock
from tests.support.memory_store import MemoryStore

NOW = datetime(2025, 3, 20, 10, tzinfo=UTC)
ADMIN = Principal("UA", "alice", "admin")


def _offline(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


def offline_client() -> Client:
    return Client(Policy(), transport=httpx.MockTransport(_offline))


@dataclasses.dataclass
class Ports:
    """The ports the schedule use cases reach: the repositories, a clock, the guarded client (no network)."""

    store: MemoryStore = dataclasses.field(default_factory=MemoryStore)
    clock: ManualClock = dataclasses.field(default_factory=lambda: ManualClock(NOW))
    outbound: Client = dataclasses.field(
        default_factory=lambda: Client(Policy(), transport=httpx.MockTransport(_offline))
    )

    def signing_key(self) -> bytes:
        return b"unit-test-signing-key"


@pytest.fixture
def ports() -> Ports:
    memory = Ports()
    memory.store.teams.put(Team(id="T1", name="SRE"))
    memory.store.teams.put(Team(id="T2", name="Web"))
    for uid, name in (("UA", "alice"), ("UB", "bob"), ("UC", "carol")):
        memory.store.users.put(User(id=uid, username=name, email=f"{name}@example.com"))
    return memory


def make_schedule(ports: Ports, caller: Principal = ADMIN, **fields: Any) -> dict[str, Any]:
    body = schemas.ScheduleIn.model_validate({"name": "Primary", "time_zone": "Europe/Berlin", **fields})
    return schedule_out(schedules.create_schedule(ports, caller, body)).model_dump(mode="json")  # type: ignore[arg-type]


def make_shift(ports: Ports, caller: Principal = ADMIN, **fields: Any) -> dict[str, Any]:
    defaults = {
        "name": "rotation",
        "type": "rolling_users",
        "start": "2025-03-01T09:00:00",
        "duration": 86_400,
        "frequency": "daily",
        "rolling_users": [["UA"], ["UB"], ["UC"]],
    }
    body = schemas.ShiftIn.model_validate({**defaults, **fields})
    return shift_out(schedules.create_shift(ports, caller, body)).model_dump(mode="json")  # type: ignore[arg-type]


def get_schedule(ports: Ports, schedule_id: str) -> dict[str, Any]:
    return schedule_out(schedules.get_schedule(ports, ADMIN, schedule_id)).model_dump(mode="json")  # type: ignore[arg-type]


def update_shift(ports: Ports, shift_id: str, **fields: Any) -> dict[str, Any]:
    body = schemas.ShiftPatch.model_validate(fields)
    return shift_out(schedules.update_shift(ports, ADMIN, shift_id, body)).model_dump(mode="json")  # type: ignore[arg-type]


def on_call(ports: Ports, schedule_id: str, at: datetime = NOW) -> list[str]:
    """Who the schedule says is on call at ``at`` (the use case reads the time from the clock)."""
    ports.clock.current = at
    try:
        return schedules.get_schedule(ports, ADMIN, schedule_id).on_call_now  # type: ignore[arg-type]
    finally:
        ports.clock.current = NOW


def final_rows(ports: Ports, schedule_id: str, **query: Any) -> list[dict[str, Any]]:
    rows = schedules.final_shifts(ports, ADMIN, schedule_id, **query)  # type: ignore[arg-type]
    return [final_shift_out(row).model_dump(mode="json") for row in rows]


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(TocsinError) as caught:
        call(*args, **kwargs)
    return http.status_of(caught.value), caught.value.body()


# --- CRUD and shapes ----------------------------------------------------------------------------------------------


def test_schedule_and_shift_have_oncall_shapes(ports: Ports) -> None:
    schedule = make_schedule(ports, team_id="T1")
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
        "enable_web_overrides": False,
        "slack": None,
    }
    shift = make_shift(ports, schedule_id=schedule["id"], by_day=["mo", "tu", "we", "th", "fr"])
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

    fetched = get_schedule(ports, schedule["id"])
    assert fetched["shifts"] == [shift["id"]]
    assert fetched["on_call_now"]  # Thursday 11:00 in Berlin
    listed = schedules.list_shifts(ports, ADMIN, schedule_id=schedule["id"])  # type: ignore[arg-type]
    assert [s.id for s in listed] == [shift["id"]]
    assert len(schedules.list_schedules(ports, ADMIN, team_id="T1")) == 1  # type: ignore[arg-type]
    assert len(schedules.list_schedules(ports, ADMIN, team_id="T2")) == 0  # type: ignore[arg-type]
    assert len(schedules.list_schedules(ports, ADMIN, team_id="")) == 0  # type: ignore[arg-type]  # of no team


def test_update_and_delete(ports: Ports) -> None:
    schedule = make_schedule(ports)
    shift = make_shift(ports, schedule_id=schedule["id"])
    updated = update_shift(ports, shift["id"], rolling_users=[["UB"]], until="2025-06-01T00:00:00")
    assert updated["rolling_users"] == [["UB"]] and updated["until"] == "2025-06-01T00:00:00"
    assert on_call(ports, schedule["id"]) == ["UB"]

    became = update_shift(ports, shift["id"], type="single_event", users=["UC"], rolling_users=None)
    assert (became["type"], became["users"]) == ("single_event", ["UC"]) and "frequency" not in became

    renamed = schedules.update_schedule(ports, ADMIN, schedule["id"], schemas.SchedulePatch(name="Secondary"))  # type: ignore[arg-type]
    assert renamed.schedule.name == "Secondary" and renamed.schedule.time_zone == "Europe/Berlin"

    schedules.delete_schedule(ports, ADMIN, schedule["id"])  # type: ignore[arg-type]
    assert error_of(schedules.get_schedule, ports, ADMIN, schedule["id"]) == (404, {"detail": "Not found."})
    assert error_of(schedules.get_shift, ports, ADMIN, shift["id"])[0] == 404  # its shifts went with it


def test_calendar_schedule_takes_its_shifts_by_id(ports: Ports) -> None:
    first, second = make_shift(ports, name="one"), make_shift(ports, name="two", rolling_users=[["UC"]])
    assert first["schedule_id"] is None
    schedule = make_schedule(ports, type="calendar", shifts=[first["id"], second["id"]])
    assert sorted(schedule["shifts"]) == sorted([first["id"], second["id"]])
    after = schedules.update_schedule(ports, ADMIN, schedule["id"], schemas.SchedulePatch(shifts=[second["id"]]))  # type: ignore[arg-type]
    assert after.shift_ids == [second["id"]]
    assert schedules.get_shift(ports, ADMIN, first["id"]).schedule_id is None  # type: ignore[arg-type]


# --- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"type": "single_event", "frequency": None, "users": ["UA", "nobody"]}, "users", "Unknown ids: nobody"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Invalid timezone"),
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
def test_shift_validation_errors(ports: Ports, fields: dict[str, Any], field: str, message: str) -> None:
    status, body = error_of(make_shift, ports, **fields)
    assert status == 400 and list(body) == [field], body
    assert message in body[field][0]


def test_unknown_rolling_users_are_refused_in_oncalls_words(ports: Ports) -> None:
    """OnCall's test_create_on_call_shift_invalid_rolling_users pins this body."""
    status, body = error_of(make_shift, ports, rolling_users=[["UA"], ["fuzz"]])
    assert (status, body) == (400, {"rolling_users": {"1": ["User does not exist {'fuzz'}"]}})


def test_schedule_validation_errors(ports: Ports) -> None:
    make_schedule(ports)
    for fields, field in (
        ({"name": "B", "time_zone": "Europe/Nowhere"}, "time_zone"),
        ({"name": "C", "team_id": "T404"}, "team_id"),
        ({"name": "D", "type": "ical"}, "ical_url_primary"),
        ({"name": "E", "shifts": ["O404"]}, "shifts"),
    ):
        status, body = error_of(make_schedule, ports, **fields)
        assert status == 400 and list(body) == [field]


def test_overlapping_shifts_are_fine(ports: Ports) -> None:
    schedule = make_schedule(ports)
    make_shift(ports, schedule_id=schedule["id"], name="a")
    make_shift(ports, schedule_id=schedule["id"], name="b", rolling_users=[["UC"]])
    assert sorted(on_call(ports, schedule["id"])) == ["UB", "UC"]


# --- final shifts, on call now, the escalation hook -----------------------------------------------------------------


def test_final_shifts_rows_per_person_and_date_range_rules(ports: Ports) -> None:
    schedule = make_schedule(ports)
    make_shift(ports, schedule_id=schedule["id"], start="2025-03-01T09:00:00", rolling_users=[["UA", "UB"], ["UC"]])
    rows = final_rows(ports, schedule["id"], start_date="2025-03-01", end_date="2025-03-02")
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
    with_gaps = final_rows(ports, schedule["id"], start_date="2025-03-01", end_date="2025-03-01", include_gaps=True)
    assert with_gaps[0]["is_gap"] and with_gaps[0]["user_pk"] is None
    assert (with_gaps[0]["shift_start"], with_gaps[0]["shift_end"]) == ("2025-03-01T00:00:00Z", "2025-03-01T08:00:00Z")

    for query, field in (
        ({"start_date": "2025-01-01", "end_date": "2025-04-01"}, "end_date"),  # 91 days
        ({"start_date": "2025-03-02", "end_date": "2025-03-01"}, "end_date"),
        ({"start_date": "01/03/2025"}, "start_date"),
    ):
        status, body = error_of(schedules.final_shifts, ports, ADMIN, schedule["id"], **query)
        assert status == 400 and list(body) == [field]
    assert final_rows(ports, schedule["id"], start_date="2025-01-01", end_date="2025-03-31")  # 90 days
    week = final_rows(ports, schedule["id"])  # default: the week from today (the clock's)
    assert week[0]["shift_start"] == "2025-03-20T00:00:00Z" and week[-1]["shift_end"] == "2025-03-27T00:00:00Z"
    assert error_of(schedules.final_shifts, ports, ADMIN, "SNOPE")[0] == 404


def test_users_on_call_for_the_escalation_step(ports: Ports) -> None:
    schedule = make_schedule(ports)
    make_shift(ports, schedule_id=schedule["id"], start="2025-03-20T09:00:00", rolling_users=[["UB", "UC"]])
    override = {"name": "swap", "type": "override", "start": "2025-03-20T12:00:00", "duration": 3600, "users": ["UA"]}
    override["frequency"] = None
    make_shift(ports, schedule_id=schedule["id"], **override)
    store = ports.store
    assert [u.username for u in users_on_call(store, schedule["id"], NOW)] == ["bob", "carol"]  # type: ignore[arg-type]
    assert [u.id for u in users_on_call(store, schedule["id"], NOW + timedelta(hours=1, minutes=30))] == ["UA"]  # type: ignore[arg-type]
    store.users.delete("UC")  # deleted people are left out
    assert [u.id for u in users_on_call(store, schedule["id"], NOW)] == ["UB"]  # type: ignore[arg-type]
    assert users_on_call(store, schedule["id"], datetime(2025, 3, 19, tzinfo=UTC)) == []  # type: ignore[arg-type]
    with pytest.raises(ScheduleNotFound):
        users_on_call(store, "SGONE", NOW)  # type: ignore[arg-type]


# --- iCalendar ----------------------------------------------------------------------------------------------------


def test_export_then_import_into_another_schedule_gives_the_same_final_shifts(ports: Ports) -> None:
    source = make_schedule(ports)
    make_shift(ports, schedule_id=source["id"])
    lunch = {"level": 1, "start": "2025-03-03T12:00:00", "duration": 3600, "frequency": "weekly", "by_day": ["WE"]}
    make_shift(ports, schedule_id=source["id"], name="lunch", rolling_users=[["UB"]], **lunch)
    feed = schedules.export_schedule(ports, ADMIN, source["id"])  # type: ignore[arg-type]
    assert "BEGIN:VEVENT" in feed and "SUMMARY:alice" in feed

    target = make_schedule(ports, name="Copy", time_zone="UTC")
    content = schemas.IcalImportIn(content=feed)
    report = schedules.import_calendar(ports, ADMIN, target["id"], content)  # type: ignore[arg-type]
    assert report.unknown_users == [] and report.skipped == [] and report.created > 90

    window = {"start_date": "2025-03-13", "end_date": "2025-06-10"}  # 90 days of the feed's 97

    def rows(schedule_id: str) -> list[tuple[Any, ...]]:
        return [(r["user_pk"], r["shift_start"], r["shift_end"]) for r in final_rows(ports, schedule_id, **window)]

    assert rows(target["id"]) == rows(source["id"])
    assert get_schedule(ports, target["id"])["shifts"] == []

    again = schedules.import_calendar(ports, ADMIN, target["id"], content)  # type: ignore[arg-type]
    assert again.replaced == report.created  # a re-import replaces the previous one


def test_user_feed_across_schedules(ports: Ports) -> None:
    for name in ("Primary", "Secondary"):
        schedule = make_schedule(ports, name=name)
        make_shift(ports, schedule_id=schedule["id"], rolling_users=[["UA"]])
    calendar = icalendar.Calendar.from_ical(schedules.export_user(ports, ADMIN, "UA"))  # type: ignore[arg-type]
    summaries = {str(e["summary"]) for e in calendar.walk("VEVENT")}
    assert summaries == {"alice on call (Primary)", "alice on call (Secondary)"}
    assert error_of(schedules.export_user, ports, ADMIN, "U404")[0] == 404


def test_import_from_url_with_unknown_user_reported(ports: Ports) -> None:
    schedule = make_schedule(ports)
    make_shift(ports, schedule_id=schedule["id"], level=3)
    calendar = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20250101T000000Z\r\n"
        "DTSTART:20250320T090000Z\r\nDTEND:20250320T120000Z\r\nSUMMARY:carol, zed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    fetched: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, text=calendar)

    ports.outbound = Client(Policy(), transport=httpx.MockTransport(answer))
    body = schemas.IcalImportIn(url="webcal://calendar.example.com/oncall.ics")
    report = schedules.import_calendar(ports, ADMIN, schedule["id"], body)  # type: ignore[arg-type]
    assert fetched == ["https://calendar.example.com/oncall.ics"]  # through the ports' guarded client
    assert report.unknown_users == ["zed"] and report.created == 1 and report.level == 4
    assert on_call(ports, schedule["id"]) == ["UC"]  # above the rotation

    ports.outbound = Client(Policy(), transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    failing = error_of(schedules.import_calendar, ports, ADMIN, schedule["id"], body)
    assert failing == (400, {"url": ["Fetching the calendar failed: HTTP 500."]})
    unreadable = error_of(schedules.import_calendar, ports, ADMIN, schedule["id"], schemas.IcalImportIn(content="x"))
    assert unreadable[0] == 400 and list(unreadable[1]) == ["content"]
    both = schemas.IcalImportIn(content="x", url="https://calendar.example.com/oncall.ics")
    assert error_of(schedules.import_calendar, ports, ADMIN, schedule["id"], both)[1] == {
        "content": ["Give either content (the calendar) or url (where to fetch it)."]
    }


def test_calendar_urls_are_checked_against_the_outbound_policy_when_saved(ports: Ports) -> None:
    """The policy of the ports' guarded client decides (the local stack's allows plain http and loopback)."""
    schedule = make_schedule(ports)
    private = "This URL points to a private address"
    for url in ("https://169.254.169.254/latest", "webcal://127.0.0.1/cal.ics", "https://[::ffff:10.0.0.1]/"):
        status, body = error_of(make_schedule, ports, type="ical", ical_url_primary=url)
        assert status == 400 and body["ical_url_primary"][0].startswith(private), url
        patch = schemas.SchedulePatch(ical_url_overrides=url)
        status, body = error_of(schedules.update_schedule, ports, ADMIN, schedule["id"], patch)
        assert status == 400 and body["ical_url_overrides"][0].startswith(private), url
        status, body = error_of(schedules.import_calendar, ports, ADMIN, schedule["id"], schemas.IcalImportIn(url=url))
        assert status == 400 and body["url"][0].startswith(private), url
    assert error_of(make_schedule, ports, type="ical", ical_url_primary="http://calendar.example.com/a.ics") == (
        400,
        {"ical_url_primary": ["Use https:// (plain http is not allowed here)."]},
    )
    assert get_schedule(ports, schedule["id"])["ical_url_overrides"] is None
    ports.outbound = Client(Policy(allow_http=True, allow_loopback=True))
    local = make_schedule(ports, type="ical", ical_url_primary="http://127.0.0.1:8000/cal.ics")
    assert local["ical_url_primary"] == "http://127.0.0.1:8000/cal.ics"


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
def test_shift_responses_have_the_keys_oncall_returns(ports: Ports, fields: dict[str, Any], expected: set[str]) -> None:
    schedule = make_schedule(ports)
    shift = make_shift(ports, schedule_id=schedule["id"], **fields)
    assert expected <= set(shift) and set(shift) - expected <= TOCSIN_EXTRAS
    assert shift["schedule"] == schedule["id"] and shift["rotation_start"] == shift["start"]


def test_rotation_start_is_accepted_returned_and_honoured(ports: Ports) -> None:
    """A shift as OnCall's API returns it: rotation_start after start skips the turns before it."""
    schedule = make_schedule(ports, time_zone="UTC")
    copied = {
        "name": "weekly", "type": "rolling_users", "team_id": None, "time_zone": None, "level": 0,
        "start": "2025-03-03T09:00:00", "rotation_start": "2025-03-12T12:00:00", "duration": 7 * 86_400,
        "frequency": "weekly", "interval": 1, "until": None, "week_start": "MO", "by_day": None, "by_month": None,
        "by_monthday": None, "rolling_users": [["UA"], ["UB"], ["UC"]], "start_rotation_from_user_index": 0,
        "schedule_id": schedule["id"],
    }  # fmt: skip
    shift = make_shift(ports, **copied)
    assert shift["rotation_start"] == "2025-03-12T12:00:00"
    # 3, 10 March (alice's and bob's turns) are before rotation_start: nobody until carol's on the 17th.
    assert on_call(ports, schedule["id"], datetime(2025, 3, 14, tzinfo=UTC)) == []
    assert on_call(ports, schedule["id"], datetime(2025, 3, 18, tzinfo=UTC)) == ["UC"]
    # Made in OnCall's web UI (source 0): the turn under way at rotation_start counts from then.
    update_shift(ports, shift["id"], source=0)
    assert on_call(ports, schedule["id"], datetime(2025, 3, 14, tzinfo=UTC)) == ["UB"]
    # As in OnCall, a write without source 0 makes it an API shift again.
    update_shift(ports, shift["id"], name="renamed")
    assert on_call(ports, schedule["id"], datetime(2025, 3, 14, tzinfo=UTC)) == []


def test_until_and_rotation_start_are_utc_and_start_is_local(ports: Ports) -> None:
    schedule = make_schedule(ports)  # Europe/Berlin
    shift = make_shift(
        ports, schedule_id=schedule["id"], start="2025-03-01T09:00:00+00:00", until="2025-03-05T09:00:00+01:00",
        rotation_start="2025-03-02T00:00:00+01:00",
    )  # fmt: skip
    assert (shift["start"], shift["until"], shift["rotation_start"]) == (
        "2025-03-01T10:00:00",  # an instant given for start: its wall clock in Berlin
        "2025-03-05T08:00:00",  # until and rotation_start: UTC
        "2025-03-01T23:00:00",
    )


def test_names_need_not_be_unique(ports: Ports) -> None:
    first, second = make_schedule(ports, name="Same"), make_schedule(ports, name="Same")
    assert first["id"] != second["id"]
    a = make_shift(ports, schedule_id=first["id"], name="rotation")
    b = make_shift(ports, schedule_id=first["id"], name="rotation")
    assert a["id"] != b["id"]
    renamed = schedules.update_schedule(ports, ADMIN, second["id"], schemas.SchedulePatch(name="Same"))  # type: ignore[arg-type]
    assert renamed.schedule.name == "Same"


def test_overrides_follow_oncall_levels(ports: Ports) -> None:
    """API overrides have level 0 (not returned); those made in OnCall's web UI (source 0) level 99, so they win
    over the API's, and only their first user is on call."""
    schedule = make_schedule(ports, time_zone="UTC")
    override = {"type": "override", "frequency": None, "start": "2025-03-20T09:00:00", "duration": 3 * 3600}
    plain = make_shift(ports, schedule_id=schedule["id"], name="api", level=5, users=["UA"], **override)
    assert "level" not in plain
    make_shift(ports, schedule_id=schedule["id"], name="web", source=0, users=["UB", "UC"], **override)
    assert on_call(ports, schedule["id"]) == ["UB"]


# --- who may change what ------------------------------------------------------------------------------------------

EDITOR = Principal("UB", "bob", "editor", frozenset({"T1"}))
VIEWER = Principal("UC", "carol", "viewer", frozenset({"T1"}))
TEAM_DENIED = (403, {"detail": "You can only change what belongs to your teams."})
ROLE_DENIED = (403, {"detail": "You do not have permission to perform this action."})


def test_a_shift_is_changed_with_the_right_in_its_team_and_its_schedules(ports: Ports) -> None:
    ours, theirs = make_schedule(ports, team_id="T1")["id"], make_schedule(ports, team_id="T2")["id"]
    body = {"name": "mine", "type": "single_event", "frequency": None, "start": "2025-03-20T09:00:00", "duration": 3600}
    body["users"] = ["UB"]
    assert error_of(make_shift, ports, EDITOR, schedule_id=theirs, **body) == TEAM_DENIED
    assert error_of(make_shift, ports, EDITOR, team_id="T2", **body) == TEAM_DENIED
    assert error_of(make_shift, ports, VIEWER, schedule_id=ours, **body) == ROLE_DENIED
    mine = make_shift(ports, EDITOR, schedule_id=ours, team_id="T1", **body)["id"]
    in_theirs = make_shift(ports, schedule_id=theirs, **body)["id"]
    loose_theirs = make_shift(ports, team_id="T2", **body)["id"]
    for shift_id in (in_theirs, loose_theirs):
        patch = schemas.ShiftPatch(name="taken")
        assert error_of(schedules.update_shift, ports, EDITOR, shift_id, patch) == TEAM_DENIED
        assert error_of(schedules.delete_shift, ports, EDITOR, shift_id) == TEAM_DENIED
    for move in ({"schedule_id": theirs}, {"team_id": "T2"}):  # moving it: the new team and schedule too
        assert error_of(schedules.update_shift, ports, EDITOR, mine, schemas.ShiftPatch(**move)) == TEAM_DENIED
    assert schedules.update_shift(ports, EDITOR, mine, schemas.ShiftPatch(team_id=None)).team_id is None  # type: ignore[arg-type]
    assert error_of(schedules.get_shift, ports, EDITOR, "O404")[0] == 404
    schedules.delete_shift(ports, EDITOR, mine)  # type: ignore[arg-type]
    schedules.update_shift(ports, ADMIN, in_theirs, schemas.ShiftPatch(schedule_id=ours))  # type: ignore[arg-type]
    assert schedules.get_shift(ports, VIEWER, in_theirs).schedule_id == ours  # type: ignore[arg-type]  # all read


def test_a_schedule_moves_shifts_only_with_the_right_over_them(ports: Ports) -> None:
    theirs = make_shift(ports, team_id="T2")["id"]
    in_their_schedule = make_shift(ports, schedule_id=make_schedule(ports, team_id="T2")["id"])["id"]
    for taken in (theirs, in_their_schedule):
        assert error_of(make_schedule, ports, EDITOR, team_id="T1", type="calendar", shifts=[taken]) == TEAM_DENIED
    ours = make_schedule(ports, EDITOR, team_id="T1", type="calendar")["id"]
    assert error_of(schedules.update_schedule, ports, EDITOR, ours, schemas.SchedulePatch(shifts=[theirs])) == (
        TEAM_DENIED
    )
    assert error_of(schedules.update_schedule, ports, EDITOR, ours, schemas.SchedulePatch(team_id="T2")) == (
        TEAM_DENIED
    )
    # A shift of team T2 in our schedule (an admin put it there): dropping it from ``shifts`` or deleting the
    # schedule changes it too.
    schedules.update_schedule(ports, ADMIN, ours, schemas.SchedulePatch(shifts=[theirs]))  # type: ignore[arg-type]
    assert error_of(schedules.update_schedule, ports, EDITOR, ours, schemas.SchedulePatch(shifts=[])) == TEAM_DENIED
    assert error_of(schedules.delete_schedule, ports, EDITOR, ours) == TEAM_DENIED
    assert schedules.get_shift(ports, ADMIN, theirs).schedule_id == ours  # type: ignore[arg-type]
    schedules.update_schedule(ports, ADMIN, ours, schemas.SchedulePatch(shifts=[]))  # type: ignore[arg-type]
    schedules.delete_schedule(ports, EDITOR, ours)  # type: ignore[arg-type]
    assert schedules.get_shift(ports, ADMIN, theirs).schedule_id is None  # type: ignore[arg-type]


def test_everyone_reads_schedules_and_gets_their_calendar_feeds(ports: Ports) -> None:
    schedule = make_schedule(ports, team_id="T2")["id"]
    make_shift(ports, schedule_id=schedule)
    assert schedules.get_schedule(ports, VIEWER, schedule).schedule.id == schedule  # type: ignore[arg-type]
    assert schedules.final_shifts(ports, VIEWER, schedule)  # type: ignore[arg-type]
    assert "BEGIN:VCALENDAR" in schedules.export_schedule(ports, VIEWER, schedule)  # type: ignore[arg-type]
    feed = schedules.calendar_feed(ports, VIEWER, "schedule", schedule, "KEYHASH")  # type: ignore[arg-type]
    assert feed.url("https://tocsin.test").startswith(f"https://tocsin.test/api/v1/schedules/{schedule}/export?token=")
    assert feed.token.startswith("KEYHASH.")
    person = schedules.calendar_feed(ports, VIEWER, "user", "UA", "KEYHASH")  # type: ignore[arg-type]
    assert person.url("https://t").startswith("https://t/api/v1/users/UA/schedule_export?token=")
    assert error_of(schedules.calendar_feed, ports, VIEWER, "schedule", "SNOPE", "KEYHASH")[0] == 404
    assert error_of(schedules.calendar_feed, ports, VIEWER, "user", "U404", "KEYHASH")[0] == 404
    assert error_of(schedules.import_calendar, ports, EDITOR, schedule, schemas.IcalImportIn(content="x")) == (
        TEAM_DENIED
    )
