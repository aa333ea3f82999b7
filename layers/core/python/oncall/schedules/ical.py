"""iCalendar (RFC 5545) feeds of schedules, and calendars imported as a layer of a schedule.

Export: one VEVENT per stretch of the resolved timeline (gaps left out), in UTC, with the usernames of the
people on call as SUMMARY and a UID stable across refreshes, so calendar apps update events in place.

Import: each VEVENT becomes a shift of the users its SUMMARY names (usernames or e-mails, separated by commas,
semicolons or spaces; ATTENDEE e-mails count too). A simple RRULE (FREQ hourly..monthly with INTERVAL, BYDAY,
BYMONTH, BYMONTHDAY, WKST, UNTIL or COUNT) becomes a recurring shift; any other recurrence (EXDATE, RDATE,
edited instances, BYSETPOS, ...) is expanded into single shifts over the next year. Names matching nobody are
reported back, and events naming nobody known are skipped with their reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import icalendar
from dateutil import rrule

from oncall.directory import User
from oncall.schedules.engine import FinalShift
from oncall.schedules.models import FREQUENCIES, WEEKDAYS, OnCallShift, Schedule, calendar_fetch_url
from oncall.schedules.recurrence import Rule, localize, repeats, zone

if TYPE_CHECKING:
    from oncall.outbound.client import Client

PRODID = "-//Tocsin//On-call schedules//EN"
MAX_BYTES = 2 * 1024 * 1024
MAX_SHIFTS = 5000
EXPANSION_PAST = timedelta(days=30)
EXPANSION_FUTURE = timedelta(days=365)
REFRESH = timedelta(hours=1)
OVERRIDE_MARK = "X-TOCSIN-OVERRIDE"
SIMPLE_RULE_PARTS = frozenset({"FREQ", "INTERVAL", "BYDAY", "BYMONTH", "BYMONTHDAY", "WKST", "UNTIL", "COUNT"})


class IcalError(ValueError):
    """The calendar could not be read (not iCalendar, too big, not reachable)."""


# --- export -------------------------------------------------------------------------------------------------------


def _calendar(name: str, now: datetime) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "UTC")
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    return calendar


def _event(uid: str, piece: FinalShift, summary: str, description: str, now: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", piece.start.astimezone(UTC))
    event.add("dtend", piece.end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    if piece.is_override:
        event.add(OVERRIDE_MARK, "TRUE")
    return event


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _names(user_ids: Iterable[str], users: dict[str, User]) -> list[str]:
    return [users[uid].username if uid in users else uid for uid in user_ids]


def export_schedule(schedule: Schedule, timeline: list[FinalShift], users: dict[str, User], now: datetime) -> str:
    """A schedule's resolved timeline as an iCalendar feed (text/calendar)."""
    calendar = _calendar(schedule.name, now)
    for piece in timeline:
        if piece.is_gap:
            continue
        names = _names(piece.user_ids, users)
        kind = "Override" if piece.is_override else "On call"
        calendar.add_component(
            _event(
                f"{schedule.id}-{_stamp(piece.start)}@tocsin",
                piece,
                ", ".join(names),
                f"{kind}: {', '.join(names)} (schedule {schedule.name})",
                now,
            )
        )
    return bytes(calendar.to_ical()).decode("utf-8")


def export_user(user: User, entries: list[tuple[Schedule, FinalShift]], now: datetime) -> str:
    """One person's on-call stretches across schedules as an iCalendar feed (text/calendar)."""
    calendar = _calendar(f"On call: {user.username}", now)
    for schedule, piece in entries:
        calendar.add_component(
            _event(
                f"{schedule.id}-{user.id}-{_stamp(piece.start)}@tocsin",
                piece,
                f"{user.username} on call ({schedule.name})",
                f"{user.username} is on call in schedule {schedule.name}"
                + (" (override)" if piece.is_override else ""),
                now,
            )
        )
    return bytes(calendar.to_ical()).decode("utf-8")


# --- import -------------------------------------------------------------------------------------------------------


@dataclass
class Imported:
    """What a calendar turned into: shifts (not stored yet), names matching nobody, events skipped."""

    shifts: list[OnCallShift] = field(default_factory=list)
    unknown_users: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"uid", "summary", "reason"}


class UserMatcher:
    """Usernames and e-mails (case-insensitive) to user ids."""

    def __init__(self, users: Iterable[User]) -> None:
        self.by_name: dict[str, str] = {}
        for user in users:
            self.by_name.setdefault(user.username.lower(), user.id)
            if user.email:
                self.by_name.setdefault(user.email.lower(), user.id)

    def _one(self, name: str) -> str | None:
        return self.by_name.get(name.strip().removeprefix("mailto:").removeprefix("MAILTO:").lower())

    def match(self, summary: str, attendees: Iterable[str]) -> tuple[list[str], list[str]]:
        """(user ids, unknown names) of an event: the whole summary, else each part, else each word."""
        found: list[str] = []
        unknown: list[str] = []
        summary = summary.strip()
        if summary and (whole := self._one(summary)):
            found.append(whole)
        elif summary:
            for part in filter(None, (p.strip() for p in re.split(r"[,;\n]+", summary))):
                if user_id := self._one(part):
                    found.append(user_id)
                    continue
                words = [w for w in part.split() if w]
                ids = [uid for w in words if (uid := self._one(w))]
                if ids:
                    found.extend(ids)
                    unknown.extend(w for w in words if not self._one(w))
                else:
                    unknown.append(part)
        for attendee in attendees:
            if user_id := self._one(attendee):
                found.append(user_id)
        return list(dict.fromkeys(found)), list(dict.fromkeys(unknown))


def _aware(value: date | datetime, tz: ZoneInfo) -> datetime:
    """An ical DATE / DATE-TIME as an aware datetime (dates and floating times in ``tz``)."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _zone_of(value: date | datetime, fallback: str) -> str | None:
    """The IANA zone an event was written in (None: one we cannot name, e.g. a custom VTIMEZONE)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        return fallback
    tz: tzinfo = value.tzinfo
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        try:
            zone(key)
        except (ValueError, KeyError, OSError):
            return None
        return key
    if value.utcoffset() == timedelta(0) and (tz is UTC or "utc" in str(tz).lower()):
        return "UTC"
    return None


def _local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zone(time_zone)).replace(tzinfo=None)


def _simple_rule(parts: dict[str, list[Any]]) -> bool:
    if set(parts) - SIMPLE_RULE_PARTS or len(parts.get("FREQ", [])) != 1:
        return False
    if str(parts["FREQ"][0]).lower() not in FREQUENCIES:
        return False
    return all(str(day).upper() in WEEKDAYS for day in parts.get("BYDAY", []))


def _ints(values: Iterable[Any]) -> list[int]:
    return [int(v) for v in values]


class _Reader:
    def __init__(
        self, schedule: Schedule, matcher: UserMatcher, level: int, as_overrides: bool, now: datetime, new_id: Any
    ) -> None:
        self.schedule = schedule
        self.matcher = matcher
        self.level = level
        self.as_overrides = as_overrides
        self.now = now
        self.new_id: Callable[[], str] = new_id
        self.result = Imported()
        self.unknown: dict[str, None] = {}

    def skip(self, event: icalendar.Event, reason: str) -> None:
        self.result.skipped.append(
            {"uid": str(event.get("uid", "")), "summary": str(event.get("summary", "")), "reason": reason}
        )

    def is_override(self, event: icalendar.Event) -> bool:
        return self.as_overrides or str(event.get(OVERRIDE_MARK, "")).upper() == "TRUE"

    def shift(self, event: icalendar.Event, users: list[str], start: datetime, length: timedelta, **extra: Any) -> None:
        if len(self.result.shifts) >= MAX_SHIFTS:
            raise IcalError(f"The calendar has more than {MAX_SHIFTS} shifts.")
        uid = str(event.get("uid", "")) or None
        kind = "override" if self.is_override(event) else ("recurrent_event" if extra else "single_event")
        self.result.shifts.append(
            OnCallShift(
                id=self.new_id(),
                name=f"{event.get('summary', 'imported')} ({uid or 'no uid'})"[:150],
                type=kind,  # type: ignore[arg-type]
                schedule_id=self.schedule.id,
                team_id=self.schedule.team_id,
                level=self.level,
                start=start,
                duration=int(length.total_seconds()),
                users=users,
                source="ical_overrides" if self.as_overrides else "ical",
                ical_uid=uid,
                **extra,
            )
        )

    def read(self, calendar: icalendar.Calendar) -> Imported:
        events = [event for event in calendar.walk("VEVENT") if isinstance(event, icalendar.Event)]
        edited: dict[str, list[datetime]] = {}
        tz = zone(self.schedule.time_zone)
        for event in events:
            if event.get("recurrence-id") is not None:
                moment = event.decoded("recurrence-id")
                edited.setdefault(str(event.get("uid", "")), []).append(_aware(moment, tz))
        for event in events:
            try:
                self.event(event, edited.get(str(event.get("uid", "")), []))
            except IcalError:
                raise
            except (ValueError, TypeError, KeyError, OverflowError) as error:
                self.skip(event, f"unreadable event: {error}")
        self.result.unknown_users = list(self.unknown)
        return self.result

    def event(self, event: icalendar.Event, edited: list[datetime]) -> None:
        if str(event.get("status", "")).upper() == "CANCELLED":
            self.skip(event, "cancelled")
            return
        if event.get("dtstart") is None:
            self.skip(event, "no DTSTART")
            return
        attendees = [str(a) for a in _listed(event.get("attendee"))]
        users, unknown = self.matcher.match(str(event.get("summary", "")), attendees)
        self.unknown.update(dict.fromkeys(unknown))
        if not users:
            self.skip(event, "names no known user" + (f": {', '.join(unknown)}" if unknown else ""))
            return
        raw_start = event.decoded("dtstart")
        all_day = not isinstance(raw_start, datetime)
        tz = zone(self.schedule.time_zone)
        start = _aware(raw_start, tz)
        if event.get("dtend") is not None:
            end = _aware(event.decoded("dtend"), tz)
        elif event.get("duration") is not None:
            end = start + event.decoded("duration")
        else:
            end = start + timedelta(days=1) if all_day else start
        time_zone = _zone_of(raw_start, self.schedule.time_zone)
        rules = _listed(event.get("rrule"))
        # Overrides are single shifts: a recurring one is expanded.
        plain = not (edited or event.get("exdate") or event.get("rdate") or len(rules) != 1 or self.is_override(event))
        if plain and time_zone and _simple_rule(dict(rules[0])):
            self.recurring(event, users, start, end, time_zone, dict(rules[0]))
        elif rules or event.get("rdate"):
            self.expanded(event, users, start, end, rules, edited)
        else:
            self.single(event, users, start, end)

    def single(self, event: icalendar.Event, users: list[str], start: datetime, end: datetime) -> None:
        local_start, local_end = _local(start, self.schedule.time_zone), _local(end, self.schedule.time_zone)
        if local_end <= local_start:
            self.skip(event, "no duration")
            return
        self.shift(event, users, local_start, local_end - local_start)

    def recurring(
        self,
        event: icalendar.Event,
        users: list[str],
        start: datetime,
        end: datetime,
        time_zone: str,
        parts: dict[str, list[Any]],
    ) -> None:
        local_start, local_end = _local(start, time_zone), _local(end, time_zone)
        if local_end <= local_start:
            self.skip(event, "no duration")
            return
        frequency = str(parts["FREQ"][0]).lower()
        recurrence: dict[str, Any] = {
            "frequency": frequency,
            "interval": int(parts.get("INTERVAL", [1])[0]),
            "by_day": [str(d).upper() for d in parts.get("BYDAY", [])],
            "by_month": _ints(parts.get("BYMONTH", [])),
            "by_monthday": _ints(parts.get("BYMONTHDAY", [])),
            "week_start": str(parts.get("WKST", ["MO"])[0]).upper(),
        }
        rule = Rule(
            frequency, recurrence["interval"], tuple(recurrence["by_day"]), tuple(recurrence["by_month"]),
            tuple(recurrence["by_monthday"]), recurrence["week_start"],
        )  # fmt: skip
        if not repeats(rule, local_start):  # it never comes back (or too rarely to follow): its first time only
            self.single(event, users, start, end)
            return
        last: datetime | None = None  # the start of the last occurrence, if the rule ends
        if parts.get("UNTIL"):
            until = parts["UNTIL"][0]
            if isinstance(until, datetime):
                until = _local(_aware(until, zone(time_zone)), time_zone)
            else:
                until = datetime.combine(until, time(23, 59, 59))
            last = max(rule.walls(local_start).before(until, inc=True) or local_start, local_start)
        elif parts.get("COUNT"):
            *_, last = rule.walls(local_start).xafter(local_start, count=int(parts["COUNT"][0]), inc=True)
        if last is not None:
            # A shift's until is UTC and ends the occurrences that start after it; an event starting before it
            # that would end after it is shortened to it, and with it every occurrence (OnCall): when the last
            # start comes before the first end, the occurrences are imported one by one instead.
            ends_at = localize(last, zone(time_zone)).astimezone(UTC).replace(tzinfo=None)
            if last == local_start or ends_at < local_end:
                self.expanded(event, users, start, end, _listed(event.get("rrule")), [])
                return
            recurrence["until"] = ends_at
        shift_zone = None if time_zone == self.schedule.time_zone else time_zone
        self.shift(event, users, local_start, local_end - local_start, time_zone=shift_zone, **recurrence)

    def expanded(
        self,
        event: icalendar.Event,
        users: list[str],
        start: datetime,
        end: datetime,
        rules: list[Any],
        edited: list[datetime],
    ) -> None:
        length = end - start
        if length <= timedelta(0):
            self.skip(event, "no duration")
            return
        tz = start.tzinfo
        assert tz is not None
        moments = rrule.rruleset()
        for rule in rules:
            text = rule.to_ical().decode()
            if "UNTIL=" in text and not re.search(r"UNTIL=\d{8}T\d{6}Z", text):
                # A date or floating UNTIL: read it as the end of that day in the event's zone, in UTC.
                raw = re.search(r"UNTIL=(\d{8})", text)
                assert raw is not None
                last = datetime.combine(datetime.strptime(raw.group(1), "%Y%m%d").date(), time(23, 59, 59), tz)
                text = re.sub(r"UNTIL=[^;]+", f"UNTIL={_stamp(last)}", text)
            parsed = rrule.rrulestr(text, dtstart=start)
            assert isinstance(parsed, rrule.rrule)  # one RRULE is one rule
            moments.rrule(parsed)
        for kind, add in (("exdate", moments.exdate), ("rdate", moments.rdate)):
            for group in _listed(event.get(kind)):
                for value in group.dts:
                    add(_aware(value.dt, tz))  # type: ignore[arg-type]
        for moment in edited:
            moments.exdate(moment)
        if not rules:
            moments.rdate(start)
        horizon_start, horizon_end = self.now - EXPANSION_PAST - length, self.now + EXPANSION_FUTURE
        for moment in _bounded(moments.between(horizon_start, horizon_end, inc=True)):
            self.single(event, users, moment, moment + length)


def _listed(value: Any) -> list[Any]:
    """A property that may appear once (a value) or several times (a list)."""
    return value if isinstance(value, list) else [] if value is None else [value]


def _bounded(moments: Iterable[datetime]) -> Iterator[datetime]:
    for n, moment in enumerate(moments):
        if n >= MAX_SHIFTS:
            raise IcalError(f"A recurring event has more than {MAX_SHIFTS} occurrences in a year.")
        yield moment


def parse(content: str | bytes) -> icalendar.Calendar:
    if len(content) > MAX_BYTES:
        raise IcalError(f"The calendar is larger than {MAX_BYTES // 1024 // 1024} MiB.")
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    if "BEGIN:VCALENDAR" not in text.upper():
        raise IcalError("Not an iCalendar file (no BEGIN:VCALENDAR).")
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except (ValueError, KeyError, IndexError) as error:
        raise IcalError(f"Not a valid iCalendar file: {error}") from error
    if not calendars:
        raise IcalError("Not an iCalendar file (no VCALENDAR).")
    return calendars[0]


def import_calendar(
    content: str | bytes,
    schedule: Schedule,
    users: Iterable[User],
    *,
    level: int = 0,
    as_overrides: bool = False,
    now: datetime,
    new_id: Callable[[], str],
) -> Imported:
    """The shifts (not stored) a calendar gives for ``schedule``; IcalError if it cannot be read."""
    return _Reader(schedule, UserMatcher(users), level, as_overrides, now, new_id).read(parse(content))


def fetch(url: str, *, client: Client | None = None) -> str:
    """GET a calendar (http, https or webcal) through the guarded client (:mod:`oncall.outbound`: public addresses,
    up to 3 redirects each checked, 10 s per read, 20 s in all, 2 MiB at most); IcalError on any failure."""
    import httpx  # with the client: only for the calls that fetch

    from oncall.outbound import Refused
    from oncall.outbound.client import Client, ResponseTooLarge

    url = calendar_fetch_url(url)
    if not url.lower().startswith(("http://", "https://")):
        raise IcalError("The calendar URL must start with http://, https:// or webcal://.")
    try:
        reply = (client or Client()).request(
            "GET", url, headers={"Accept": "text/calendar"}, follow_redirects=True, max_bytes=MAX_BYTES
        )
    except Refused as error:
        raise IcalError(f"Fetching the calendar failed: {error.message}") from None
    except ResponseTooLarge:
        raise IcalError(f"The calendar is larger than {MAX_BYTES // 1024 // 1024} MiB.") from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
        raise IcalError(f"Fetching the calendar failed: {type(error).__name__}.") from error
    if not reply.is_success:
        raise IcalError(f"Fetching the calendar failed: HTTP {reply.status_code}.")
    return reply.text
