"""iCalendar feeds of schedules and calendars imported as layers: what calendar apps and people see."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
from oncall.directory import User
from oncall.outbound.client import Client
from oncall.schedules import OnCallShift, Schedule, final_shifts, ical

NOW = datetime(2025, 3, 20, 12, tzinfo=UTC)
USERS = [
    User(id="UA", username="alice", email="alice@example.com"),
    User(id="UB", username="bob", email="bob@example.com"),
    User(id="UC", username="carol", email="carol@example.com"),
]
BY_ID = {u.id: u for u in USERS}
_counter = itertools.count()


def new_id() -> str:
    return f"O{next(_counter):06d}"


def berlin_schedule(id: str = "S1") -> Schedule:
    return Schedule(id=id, name="Primary", time_zone="Europe/Berlin")


def layered_shifts() -> list[OnCallShift]:
    """A daily rotation over the DST change, a weekday lunch layer above it, and an override."""
    return [
        OnCallShift(
            id="O1", name="rotation", type="rolling_users", start=datetime(2025, 3, 1, 9), duration=86_400,
            frequency="daily", rolling_users=[["UA"], ["UB"], ["UC"]],
        ),
        OnCallShift(
            id="O2", name="lunch", type="recurrent_event", level=1, start=datetime(2025, 3, 3, 12), duration=3600,
            frequency="weekly", by_day=["MO", "WE", "FR"], users=["UC", "UA"],
        ),
        OnCallShift(
            id="O3", name="swap", type="override", start=datetime(2025, 3, 29, 20), duration=6 * 3600, users=["UB"]
        ),
    ]  # fmt: skip


def comparable(timeline: list[Any]) -> list[tuple[datetime, datetime, tuple[str, ...], bool, bool]]:
    return [(p.start, p.end, p.user_ids, p.is_override, p.is_gap) for p in timeline]


def test_export_is_a_calendar_apps_accept() -> None:
    start, end = NOW - timedelta(days=2), NOW + timedelta(days=2)
    timeline = final_shifts(berlin_schedule(), layered_shifts(), start, end)
    text = ical.export_schedule(berlin_schedule(), timeline, BY_ID, NOW)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["prodid"]) == ical.PRODID and str(calendar["version"]) == "2.0"
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len([p for p in timeline if not p.is_gap])
    for event in events:
        for name in ("uid", "dtstamp", "dtstart", "dtend", "summary"):
            assert name in event
        assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert "DTSTART:20250319T080000Z" in text  # 09:00 in Berlin, in UTC
    assert {str(e["summary"]) for e in events} >= {"alice", "bob", "carol", "carol, alice"}
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_round_trip_export_then_import_gives_the_same_final_shifts() -> None:
    start, end = datetime(2025, 3, 20, tzinfo=UTC), datetime(2025, 4, 10, tzinfo=UTC)
    original = final_shifts(berlin_schedule(), layered_shifts(), start, end)
    text = ical.export_schedule(berlin_schedule(), original, BY_ID, NOW)

    target = Schedule(id="S2", name="Copy", time_zone="America/New_York")  # another zone, on purpose
    imported = ical.import_calendar(text, target, USERS, now=NOW, new_id=new_id)
    assert imported.unknown_users == [] and imported.skipped == []
    assert comparable(final_shifts(target, imported.shifts, start, end)) == comparable(original)
    assert any(s.type == "override" for s in imported.shifts)


def test_user_feed_names_the_person_and_the_schedule() -> None:
    timeline = final_shifts(berlin_schedule(), layered_shifts(), NOW, NOW + timedelta(days=3))
    mine = [(berlin_schedule(), p) for p in timeline if "UA" in p.user_ids]
    calendar = icalendar.Calendar.from_ical(ical.export_user(USERS[0], mine, NOW))
    summaries = {str(e["summary"]) for e in calendar.walk("VEVENT")}
    assert summaries == {"alice on call (Primary)"}
    assert len(list(calendar.walk("VEVENT"))) == len(mine)


CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//Calendar//EN
BEGIN:VEVENT
UID:one@example.com
DTSTAMP:20250101T000000Z
DTSTART;TZID=Europe/Berlin:20250303T090000
DTEND;TZID=Europe/Berlin:20250303T170000
SUMMARY:alice, Dave Unknown
END:VEVENT
BEGIN:VEVENT
UID:two@example.com
DTSTAMP:20250101T000000Z
DTSTART:20250304T080000Z
DTEND:20250304T160000Z
SUMMARY:On call
ATTENDEE;CN=Bob:mailto:BOB@example.com
END:VEVENT
BEGIN:VEVENT
UID:three@example.com
DTSTAMP:20250101T000000Z
DTSTART:20250305T080000Z
DTEND:20250305T160000Z
SUMMARY:mallory
END:VEVENT
END:VCALENDAR
"""


def test_import_reports_unknown_users_and_skips_events_naming_nobody_known() -> None:
    imported = ical.import_calendar(CALENDAR, berlin_schedule(), USERS, now=NOW, new_id=new_id)
    assert imported.unknown_users == ["Dave Unknown", "On call", "mallory"]
    assert [(s["uid"], s["reason"]) for s in imported.skipped] == [
        ("three@example.com", "names no known user: mallory")
    ]
    first, second = imported.shifts
    assert (first.users, first.start, first.duration, first.type) == (
        ["UA"],
        datetime(2025, 3, 3, 9),
        8 * 3600,
        "single_event",
    )
    assert second.users == ["UB"]  # by ATTENDEE e-mail, case-insensitive
    assert second.start == datetime(2025, 3, 4, 9)  # 08:00Z in Berlin time
    assert all(s.source == "ical" and s.schedule_id == "S1" for s in imported.shifts)


def test_simple_recurring_event_becomes_a_recurring_shift_in_its_own_zone() -> None:
    text = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:x
BEGIN:VEVENT
UID:weekdays@example.com
DTSTAMP:20250101T000000Z
DTSTART;TZID=America/New_York:20250303T090000
DTEND;TZID=America/New_York:20250303T170000
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10
SUMMARY:carol
END:VEVENT
END:VCALENDAR
"""
    (shift,) = ical.import_calendar(text, berlin_schedule(), USERS, now=NOW, new_id=new_id).shifts
    assert (shift.type, shift.frequency, shift.by_day, shift.time_zone) == (
        "recurrent_event", "weekly", ["MO", "TU", "WE", "TH", "FR"], "America/New_York",
    )  # fmt: skip
    timeline = final_shifts(
        berlin_schedule(), [shift], datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    )
    worked = [p for p in timeline if not p.is_gap]
    assert len(worked) == 10  # COUNT
    assert worked[0].start == datetime(2025, 3, 3, 14, tzinfo=UTC)  # 09:00 EST
    assert worked[5].start == datetime(2025, 3, 10, 13, tzinfo=UTC)  # 09:00 EDT after 9 March


def test_recurring_event_with_exceptions_is_expanded() -> None:
    text = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:x
BEGIN:VEVENT
UID:daily@example.com
DTSTAMP:20250101T000000Z
DTSTART;TZID=Europe/Berlin:20250317T090000
DTEND;TZID=Europe/Berlin:20250317T100000
RRULE:FREQ=DAILY;UNTIL=20250321T235959Z
EXDATE;TZID=Europe/Berlin:20250319T090000
SUMMARY:bob
END:VEVENT
BEGIN:VEVENT
UID:daily@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20250320T090000
DTSTAMP:20250101T000000Z
DTSTART;TZID=Europe/Berlin:20250320T150000
DTEND;TZID=Europe/Berlin:20250320T160000
SUMMARY:alice
END:VEVENT
END:VCALENDAR
"""
    imported = ical.import_calendar(text, berlin_schedule(), USERS, now=NOW, new_id=new_id)
    got = sorted((s.start, s.users[0]) for s in imported.shifts)
    assert got == [
        (datetime(2025, 3, 17, 9), "UB"),
        (datetime(2025, 3, 18, 9), "UB"),
        (datetime(2025, 3, 20, 15), "UA"),  # the moved occurrence
        (datetime(2025, 3, 21, 9), "UB"),
    ]


def test_not_a_calendar_is_an_error() -> None:
    with pytest.raises(ical.IcalError, match="Not an iCalendar"):
        ical.import_calendar("hello", berlin_schedule(), USERS, now=NOW, new_id=new_id)


def test_fetch_uses_the_given_client_and_reports_failures() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/missing.ics":
            return httpx.Response(404)
        return httpx.Response(200, text=CALENDAR, headers={"content-type": "text/calendar"})

    client = Client(transport=httpx.MockTransport(handler))
    assert ical.fetch("webcal://calendar.example.com/team.ics", client=client) == CALENDAR
    assert str(seen[0].url) == "https://calendar.example.com/team.ics"
    with pytest.raises(ical.IcalError, match="HTTP 404"):
        ical.fetch("https://calendar.example.com/missing.ics", client=client)
    with pytest.raises(ical.IcalError, match="must start with"):
        ical.fetch("file:///etc/passwd", client=client)
    for internal in ("http://169.254.169.254/latest/", "http://localhost:8080/x.ics", "https://[::1]/x.ics"):
        with pytest.raises(ical.IcalError, match="points to a private address"):
            ical.fetch(internal, client=client)
    assert len(seen) == 2

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ical.IcalError, match="ReadTimeout"):
        ical.fetch("https://calendar.example.com/slow.ics", client=Client(transport=httpx.MockTransport(slow)))
