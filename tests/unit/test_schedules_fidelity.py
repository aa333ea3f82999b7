"""Who is on call, against an independent expansion, for every frequency x interval x by_day x by_monthday x
week_start x until combination and thousands of random rotations.

The oracle writes each shift as the iCalendar events Grafana OnCall writes for it (one VEVENT per rotation group,
with its RRULE: :func:`oncall.schedules.rotation.calendar_events`), exports them with ``icalendar``, reads the
file back and expands each RRULE with ``dateutil.rrule.rrulestr`` from its time-zone-aware DTSTART (RFC 5545
wall-clock semantics, DTSTART always included, UNTIL an instant), ends each occurrence by OnCall's rule, and
resolves the final schedule by brute force at every instant where anything starts or ends. The engine gets there
its own way (naive wall-clock rules localized one by one, history skipped, a sweep line). Where the rotation dates
themselves come from (OnCall's stepping), ``test_schedules_oncall_golden.py`` checks against OnCall's own code.

Kept out: wall-clock times within the hour of a DST change, which OnCall (pytz) and zoneinfo place differently
(hourly rotations run in zones without DST here, the others start at 04:00-21:59 local).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
from dateutil import rrule
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oncall.schedules import OnCallShift, Schedule, engine, rotation
from oncall.schedules.recurrence import Rule, repeats

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney"]
FIXED_ZONES = ["UTC", "Asia/Kolkata"]
SPAN = {"hourly": timedelta(days=2), "daily": timedelta(days=16), "weekly": timedelta(days=56), None: timedelta(days=6)}
SPAN["monthly"] = timedelta(days=150)
SCHEDULE = Schedule(id="S1", name="fidelity", time_zone="UTC")
ZERO = timedelta(0)


# --- the oracle -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vevent:
    """What the oracle reads of one calendar event."""

    shift: int
    order: int  # its place among the shift's events
    dtstart: datetime  # aware, in the event's zone (zoneinfo)
    dtend: datetime
    rrule: str | None  # the RRULE's text
    users: tuple[str, ...]
    comes_back: bool = True  # False: a rule with no occurrence after DTSTART, which dateutil would search for ages


def _rule_text(rule: Rule) -> str:
    parts = [f"FREQ={rule.frequency.upper()}", f"INTERVAL={rule.interval}", f"WKST={rule.week_start}"]
    if rule.by_day:
        parts.append("BYDAY=" + ",".join(rule.by_day))
    if rule.by_month:
        parts.append("BYMONTH=" + ",".join(map(str, rule.by_month)))
    if rule.by_monthday:
        parts.append("BYMONTHDAY=" + ",".join(map(str, rule.by_monthday)))
    if rule.until is not None:
        parts.append("UNTIL=" + rule.until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


def vevents(shifts: list[OnCallShift]) -> list[Vevent]:
    """The shifts' calendar events, as written (DTEND: DTSTART + the event's real length)."""
    return [
        Vevent(
            n,
            k,
            event.start.replace(tzinfo=event.tz),  # the wall clock, in its zone
            (event.start + event.duration).astimezone(event.tz),
            _rule_text(event.rule) if event.rule is not None else None,
            event.users,
            event.rule is None or repeats(event.rule, event.start.replace(tzinfo=None)),
        )
        for n, shift in enumerate(shifts)
        for k, event in enumerate(rotation.calendar_events(engine.spec(SCHEDULE, shift)))
    ]


def exported_and_read_back(shifts: list[OnCallShift]) -> list[Vevent]:
    """The same, through an iCalendar file written and parsed by ``icalendar``."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Tocsin tests//OnCall calendar events//EN")
    calendar.add("version", "2.0")
    written = vevents(shifts)
    for event in written:
        vevent = icalendar.Event()
        vevent.add("uid", f"{event.shift}-{event.order}")
        vevent.add("dtstamp", datetime(2030, 1, 1, tzinfo=UTC))
        vevent.add("dtstart", event.dtstart)
        vevent.add("dtend", event.dtend)
        vevent.add("summary", ",".join(event.users))
        if event.rrule is not None:
            vevent.add("rrule", icalendar.vRecur.from_ical(event.rrule))
        calendar.add_component(vevent)
    read: list[Vevent] = []
    for vevent in icalendar.Calendar.from_ical(calendar.to_ical()).walk("VEVENT"):
        n, k = map(int, str(vevent["uid"]).split("-"))
        rule = vevent["RRULE"].to_ical().decode() if "RRULE" in vevent else None
        users = tuple(str(vevent["summary"]).split(","))
        comes_back = next(e.comes_back for e in written if (e.shift, e.order) == (n, k))
        read.append(Vevent(n, k, vevent["DTSTART"].dt, vevent["DTEND"].dt, rule, users, comes_back))
    return read


def _starts(event: Vevent, lo: datetime, hi: datetime) -> list[datetime]:
    """The event's occurrence starts in [lo, hi]: its RRULE read by dateutil from the zone-aware DTSTART (so
    wall-clock times), with DTSTART itself, none after UNTIL."""
    moments = rrule.rruleset()
    until = None
    if event.rrule is not None and event.comes_back:
        moments.rrule(rrule.rrulestr(event.rrule, dtstart=event.dtstart))
        if found := re.search(r"UNTIL=(\d{8}T\d{6})Z", event.rrule):
            until = datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    moments.rdate(event.dtstart)
    return [m for m in moments.between(lo, hi, inc=True) if until is None or m <= until]


def expected_timeline(
    shifts: list[OnCallShift], events: list[Vevent], lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, Any]]:
    """(start, end, (is_override, level, users)) of every occurrence, OnCall's way."""
    lengths = [e.dtend.astimezone(UTC) - e.dtstart.astimezone(UTC) for e in events]  # real time
    reach = max([ZERO, *lengths]) + timedelta(days=1)
    found: dict[int, list[tuple[datetime, datetime, int, tuple[str, ...]]]] = {}
    for event, length in zip(events, lengths, strict=True):
        shift = shifts[event.shift]
        tz = event.dtstart.tzinfo
        for local_start in _starts(event, lo - reach, hi):
            starts = local_start.astimezone(UTC)
            # OnCall ends an occurrence the first one's real length later, moved by the change in DST in between.
            raw_end = starts + length
            ends = raw_end + (local_start.dst() or ZERO) - (raw_end.astimezone(tz).dst() or ZERO)
            if shift.origin == "web":
                starts = max(starts, (shift.rotation_start or shift.start).replace(tzinfo=UTC))
            if starts < ends:
                found.setdefault(event.shift, []).append((starts, ends, event.order, event.users))
    out: list[tuple[datetime, datetime, Any]] = []
    for n, items in found.items():
        shift = shifts[n]
        items.sort(key=lambda item: (item[0], item[2]))  # calendar order among those starting together
        for starts, group in itertools.groupby(items, key=lambda item: item[0]):
            members = list(group)
            users = tuple(dict.fromkeys(u for m in members for u in m[3]))
            out.append((starts, members[0][1], (shift.is_override, max(shift.level, 0), users)))
    return out


def who_expected(active: list[Any]) -> set[str]:
    """OnCall's final schedule at one instant, from the occurrences covering it."""
    overrides = [a for a in active if a[0]]
    pool = overrides or active
    if not pool:
        return set()
    top = max(a[1] for a in pool)
    return {u for a in pool if a[1] == top for u in a[2]}


def assert_same_people(shifts: list[OnCallShift], lo: datetime, hi: datetime, *, through_text: bool = False) -> None:
    timeline = engine.final_shifts(SCHEDULE, shifts, lo, hi)
    events = exported_and_read_back(shifts) if through_text else vevents(shifts)
    occurrences = expected_timeline(shifts, events, lo, hi)
    points = {lo} | {p.start for p in timeline} | {t for o in occurrences for t in o[:2]}
    instants = sorted(t for t in points if lo <= t < hi)
    probes = sorted(set(instants) | {a + (b - a) / 2 for a, b in itertools.pairwise([*instants, hi])})
    pieces = iter(timeline)
    piece = next(pieces)
    pending = sorted(occurrences, key=lambda o: o[0])
    active: list[tuple[datetime, datetime, Any]] = []
    for when in probes:
        while not piece.start <= when < piece.end:
            piece = next(pieces)
        while pending and pending[0][0] <= when:
            active.append(pending.pop(0))
        active = [o for o in active if o[1] > when]
        expected = who_expected([o[2] for o in active])
        assert set(piece.user_ids) == expected, (when, sorted(piece.user_ids), sorted(expected))


# --- shifts -------------------------------------------------------------------------------------------------------


def make_shift(n: int, **fields: Any) -> OnCallShift:
    base: dict[str, Any] = {"id": f"O{n}", "name": f"shift {n}", "type": "rolling_users", "duration": 86_400}
    base.update(fields)
    if base["type"] == "rolling_users" and "rolling_users" not in base:
        base["rolling_users"] = [[f"U{n}{g}"] for g in range(3)]
    return OnCallShift(**base)


@st.composite
def shifts(draw: st.DrawFn, n: int) -> OnCallShift:
    kind = draw(st.sampled_from(["rolling_users"] * 6 + ["recurrent_event"] * 2 + ["single_event", "override"]))
    frequency = (
        draw(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
        if kind
        in (
            "rolling_users",
            "recurrent_event",
        )
        else None
    )
    zone = draw(st.sampled_from(FIXED_ZONES if frequency == "hourly" else FIXED_ZONES + DST_ZONES))
    day = datetime(2030, 1, 1) + timedelta(days=draw(st.integers(0, 729)))
    hour = draw(st.integers(0, 23) if zone in FIXED_ZONES else st.integers(4, 21))
    start = day.replace(hour=hour, minute=draw(st.sampled_from([0, 0, 15, 30])))
    interval = draw(st.integers(1, 4))
    by_day = draw(st.lists(st.sampled_from(DAYS), max_size=4, unique=True)) if frequency else []
    by_monthday = draw(st.lists(st.sampled_from([*range(1, 32), -1, -2]), max_size=3, unique=True)) if frequency else []
    by_month = draw(st.sampled_from([[], [], [], [1, 2, 3, 4, 5, 6, 7, 9, 11]])) if frequency else []
    groups = draw(st.integers(1, 4))
    if kind == "rolling_users" and frequency == "daily":
        by_monthday = []  # OnCall refuses day limits on daily rotations...
        if by_day:
            interval = min(interval, len(by_day))  # ... and intervals above the number of days
    period = {"hourly": 3600, "daily": 86_400, "weekly": 7 * 86_400, "monthly": 30 * 86_400, None: 86_400}[frequency]
    duration = draw(st.sampled_from([period // 2, period, period * interval, period + 3600, 4 * 3600]))
    until = None
    if draw(st.booleans()):
        until = (
            start
            + draw(st.sampled_from([-timedelta(hours=3), timedelta(hours=5)]))
            + timedelta(hours=draw(st.integers(0, int(SPAN[frequency] / timedelta(hours=1)))))
        )
    rotation_start = None
    if kind != "override" and draw(st.booleans()):
        rotation_start = start + timedelta(hours=draw(st.integers(-48, int(SPAN[frequency] / timedelta(hours=2)))))
    fields: dict[str, Any] = {
        "type": kind, "start": start, "duration": duration, "frequency": frequency, "interval": interval,
        "by_day": by_day, "by_month": by_month, "by_monthday": by_monthday,
        "week_start": draw(st.sampled_from(DAYS)), "until": until, "rotation_start": rotation_start,
        "time_zone": zone, "level": draw(st.sampled_from([0, 0, 1, 2])),
        "origin": draw(st.sampled_from(["api", "api", "web"])) if kind == "rolling_users" else "api",
    }  # fmt: skip
    if kind == "rolling_users":
        fields["rolling_users"] = [[f"U{n}{g}"] + ([f"X{n}"] if g == 0 and groups > 2 else []) for g in range(groups)]
        fields["start_rotation_from_user_index"] = draw(st.integers(0, groups - 1))
    else:
        fields["users"] = [f"U{n}0", f"U{n}1"][: draw(st.integers(1, 2))]
    if frequency is not None:  # the API refuses a recurrence that never comes back
        assume(repeats(Rule(frequency, interval, tuple(by_day), tuple(by_month), tuple(by_monthday)), start))
    return make_shift(n, **fields)


@settings(max_examples=450, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 4).flatmap(lambda count: st.tuples(*(shifts(n) for n in range(count)))))
def test_random_rotations_put_the_same_people_on_call_as_their_calendar_events(
    drawn: tuple[OnCallShift, ...],
) -> None:
    layered = list(drawn)
    try:
        for shift in layered:
            rotation.calendar_events(engine.spec(SCHEDULE, shift))
    except rotation.TooManyTurns:  # the API refuses these
        assume(False)
    first = min(s.start for s in layered).replace(tzinfo=UTC) - timedelta(days=1)
    span = min(SPAN[s.frequency] for s in layered if s.frequency) if any(s.frequency for s in layered) else SPAN[None]
    assert_same_people(layered, first, first + span)


def test_every_combination_of_frequency_interval_by_day_by_monthday_week_start_and_until() -> None:
    """One rotation per combination (4 x 3 x 3 x 3 x 3 x 3 = 972), three groups, in Berlin."""
    start = datetime(2030, 3, 13, 9, 30)  # a Wednesday, the DST change of 31 March ahead
    checked = 0
    for frequency, interval, by_day, by_monthday, week_start, until in itertools.product(
        ["hourly", "daily", "weekly", "monthly"],
        [1, 2, 3],
        [[], ["MO", "WE", "FR"], ["SU", "TU"]],
        [[], [13, 20, -1], [2]],
        ["MO", "SU", "WE"],
        [None, start + timedelta(days=9, hours=2), start + timedelta(days=120)],
    ):
        zone = "Asia/Kolkata" if frequency == "hourly" else "Europe/Berlin"
        if frequency == "daily" and (by_monthday or (by_day and interval > len(by_day))):
            continue  # refused by the API, as by OnCall
        if not repeats(Rule(frequency, interval, tuple(by_day), (), tuple(by_monthday)), start):
            continue
        shift = make_shift(
            0, start=start, frequency=frequency, interval=interval, by_day=by_day, by_monthday=by_monthday,
            week_start=week_start, until=until, time_zone=zone,
            duration={"hourly": 5400, "daily": 86_400, "weekly": 3 * 86_400, "monthly": 20 * 86_400}[frequency],
        )  # fmt: skip
        lo = start.replace(tzinfo=UTC) - timedelta(days=1)
        assert_same_people([shift], lo, lo + SPAN[frequency], through_text=True)
        checked += 1
    assert checked > 700
