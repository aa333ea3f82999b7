"""Calendar events with a recurrence rule, expanded the way Grafana OnCall expands its own calendars.

OnCall turns every shift into iCalendar VEVENTs (see :mod:`oncall.schedules.rotation`) and expands them with
``recurring_ical_events`` 2.x over ``pytz`` time zones. Who is on call depends on the details of that expansion,
so this module reproduces them with ``dateutil`` and ``zoneinfo`` (no pytz, no icalendar on this path):

- A local wall-clock time becomes an instant as ``pytz.localize(..., is_dst=False)`` does: an ambiguous time
  (clocks going back) is the standard-time one, a time that does not exist (clocks going forward) takes the
  offset from before the change. A localized time keeps that fixed offset and DST amount (:class:`Offset`), as
  a pytz datetime does, because later arithmetic on it (``+ timedelta``) keeps them too.
- Occurrences come from the rule applied to the wall-clock DTSTART; DTSTART itself always counts (an RDATE), even
  where the rule's BYDAY / BYMONTH / BYMONTHDAY leave its day out; each occurrence is localized on its own, so a
  09:00 rotation stays at 09:00 across DST changes.
- UNTIL is an instant: an occurrence starting after it is left out, DTSTART too.
- Every occurrence lasts the real duration of the first one (DTEND - DTSTART), and its end is then moved by the
  change in DST between its start and that end, so an occurrence keeps its wall-clock length across a change.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil import rrule

WEEKDAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FREQ: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "hourly": rrule.HOURLY,
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "monthly": rrule.MONTHLY,
}
RRULE_WEEKDAYS = dict(
    zip(WEEKDAYS, (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU), strict=True)
)
ZERO = timedelta(0)
# recurring_ical_events lets occurrences up to an hour past UNTIL through the rule, then drops those that start
# after UNTIL once localized (its fix for DTSTARTs an hour off across DST). The margin matters where a zone's DST
# change is larger than an hour.
UNTIL_MARGIN = timedelta(hours=1)


class Offset(tzinfo):
    """A fixed UTC offset that remembers its DST amount: what a pytz-localized datetime carries."""

    def __init__(self, offset: timedelta, dst: timedelta) -> None:
        self._offset, self._dst = offset, dst

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return self._offset

    def dst(self, dt: datetime | None) -> timedelta:
        return self._dst

    def tzname(self, dt: datetime | None) -> str:
        return f"UTC{self._offset}"

    def __repr__(self) -> str:
        return f"Offset({self._offset}, dst={self._dst})"


@lru_cache(maxsize=256)
def offset(utc_offset: timedelta, dst: timedelta = ZERO) -> Offset:
    return Offset(utc_offset, dst)


UTC_WALL = offset(ZERO)  # the label OnCall gives the wall-clock times it stores (start: "as UTC")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ZoneInfoNotFoundError / ValueError if there is none."""
    return ZoneInfo(name)


def wall(moment: datetime) -> datetime:
    """The wall-clock reading of an aware datetime, in its own offset."""
    return moment.replace(tzinfo=None)


def localize(local: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time ``local`` of ``tz`` as pytz's ``localize(is_dst=False)`` places it."""
    first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    assert before is not None and after is not None
    chosen = first
    if before > after:  # clocks went back: the time happened twice; pytz prefers the one outside DST
        standard = [c for c in (first, second) if not c.dst()]
        chosen = standard[0] if len(standard) == 1 else second
    # before < after: a time skipped by the clocks going forward; fold=0 has the offset from before the change
    dst = chosen.dst()
    return local.replace(tzinfo=offset(chosen.utcoffset() or ZERO, dst or ZERO))


def dst_at(moment: datetime, tz: ZoneInfo) -> timedelta:
    """The DST amount in force at an instant."""
    return moment.astimezone(tz).dst() or ZERO


@dataclass(frozen=True)
class Rule:
    """An RRULE as OnCall writes it: FREQ, INTERVAL, BYDAY, BYMONTH, BYMONTHDAY, WKST and UNTIL (an instant)."""

    frequency: str
    interval: int = 1
    by_day: tuple[str, ...] = ()
    by_month: tuple[int, ...] = ()
    by_monthday: tuple[int, ...] = ()
    week_start: str = "SU"
    until: datetime | None = None  # aware

    def walls(self, dtstart: datetime, origin: datetime | None = None) -> rrule.rrule:
        """The wall-clock occurrences of the rule from the naive ``dtstart``. ``origin``: where the rule really
        started when ``dtstart`` is a later period start in phase with it (the BY parts that ``dateutil`` would
        take from the first DTSTART are then spelled out)."""
        first = origin or dtstart
        by_day = self.by_day
        by_monthday = self.by_monthday
        if not (by_day or by_monthday):  # what dateutil otherwise takes from DTSTART
            if self.frequency == "weekly":
                by_day = (WEEKDAYS[first.weekday()],)
            elif self.frequency == "monthly":
                by_monthday = (first.day,)
        return rrule.rrule(
            FREQ[self.frequency],
            dtstart=dtstart,
            interval=self.interval,
            wkst=RRULE_WEEKDAYS[self.week_start],
            byweekday=[RRULE_WEEKDAYS[d] for d in by_day] or None,
            bymonth=list(self.by_month) or None,
            bymonthday=list(by_monthday) or None,
            cache=False,
        )


REPEAT_HORIZON_DAYS = 8 * 366


def _day_matches(day: date, rule: Rule, first: datetime) -> bool:
    if rule.by_month and day.month not in rule.by_month:
        return False
    if rule.by_monthday:
        length = calendar.monthrange(day.year, day.month)[1]
        if day.day not in rule.by_monthday and day.day - length - 1 not in rule.by_monthday:
            return False
    if rule.by_day and WEEKDAYS[day.weekday()] not in rule.by_day:
        return False
    if not (rule.by_day or rule.by_monthday):
        if rule.frequency == "weekly" and day.weekday() != first.weekday():
            return False
        if rule.frequency == "monthly" and day.day != first.day:
            return False
    return True


@lru_cache(maxsize=1024)
def repeats(rule: Rule, first: datetime) -> bool:
    """Whether the rule, from the naive ``first``, has an occurrence after it within eight years. ``dateutil``
    looks for the next occurrence of a rule up to the year 9999, which takes minutes for a rule that never
    happens (``by_month: [2], by_monthday: [30]``, or ``interval`` stepping over every listed day): such rules are
    refused, and never handed to it. The rule's UNTIL plays no part here."""
    try:
        return _repeats(rule, first)
    except OverflowError:  # an interval that steps past the year 9999
        return False


def _repeats(rule: Rule, first: datetime) -> bool:
    horizon = first.date() + timedelta(days=REPEAT_HORIZON_DAYS)
    if rule.frequency in ("hourly", "daily"):
        return _repeats_by_day(rule, first, horizon)
    if rule.frequency == "weekly":
        return _repeats_by_week(rule, first, horizon)
    return _repeats_by_month(rule, first, horizon)


def _repeats_by_day(rule: Rule, first: datetime, horizon: date) -> bool:
    start_day = first.date()
    step = rule.interval
    day = start_day
    while day <= horizon:
        if _day_matches(day, rule, first):
            if rule.frequency == "daily":
                if day > start_day and (day - start_day).days % step == 0:
                    return True
            else:  # is one of the hours first + k * interval (k >= 1) on that day?
                opens = int((datetime.combine(day, time()) - first).total_seconds() // 3600)
                k = max(-(-max(opens, 1) // step), 1)
                if k * step < opens + 24:
                    return True
        day += timedelta(days=1)
    return False


def _repeats_by_week(rule: Rule, first: datetime, horizon: date) -> bool:
    start_day = first.date()
    week = start_day - timedelta(days=(start_day.weekday() - WEEKDAYS.index(rule.week_start)) % 7)
    while week <= horizon:
        for n in range(7):
            day = week + timedelta(days=n)
            if day > start_day and _day_matches(day, rule, first):
                return True
        week += timedelta(weeks=rule.interval)
    return False


def _repeats_by_month(rule: Rule, first: datetime, horizon: date) -> bool:
    start_day = first.date()
    index = start_day.year * 12 + start_day.month - 1
    while index <= horizon.year * 12 + horizon.month - 1:
        year, month = divmod(index, 12)
        for n in range(calendar.monthrange(year, month + 1)[1]):
            day = date(year, month + 1, n + 1)
            if day > start_day and _day_matches(day, rule, first):
                return True
        index += rule.interval
    return False


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT of OnCall's calendar of a shift: who, from when, how long, how it repeats."""

    start: datetime  # DTSTART, localized (aware, :class:`Offset`)
    duration: timedelta  # DTEND - DTSTART, both localized: real time
    rule: Rule | None
    tz: ZoneInfo
    users: tuple[str, ...]


def _first_period(rule: Rule, first: datetime, before: datetime) -> datetime:
    """A start of one of the rule's periods (``interval`` hours, days, weeks or months from ``first``) at or
    after ``first`` and at least a period before the naive ``before``: iterating from there skips history."""
    step = rule.interval
    if rule.frequency == "hourly":
        periods = int((before - first).total_seconds() // 3600) // step - 1
        return first + timedelta(hours=max(periods, 0) * step)
    if rule.frequency == "daily":
        periods = (before - first).days // step - 1
        return first + timedelta(days=max(periods, 0) * step)
    if rule.frequency == "weekly":
        back = (first.weekday() - WEEKDAYS.index(rule.week_start)) % 7
        week = first - timedelta(days=back)  # dateutil's weeks begin on WKST
        periods = (before - week).days // (7 * step) - 1
        return week + timedelta(weeks=periods * step) if periods > 0 else first
    months = (before.year - first.year) * 12 + before.month - first.month
    periods = months // step - 1
    if periods <= 0:
        return first
    index = first.year * 12 + first.month - 1 + periods * step
    return first.replace(year=index // 12, month=index % 12 + 1, day=1)


def wall_occurrences(event: CalendarEvent, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """Wall-clock starts of the event's occurrences between the naive ``lo`` and ``hi`` (both included), in
    order, as recurring_ical_events lists them: DTSTART included, UNTIL applied (see the module docstring)."""
    start = wall(event.start)
    rule = event.rule
    if rule is None:
        if lo <= start <= hi:
            yield start
        return
    # DTSTART counts even where the rule leaves its day out, but not after UNTIL.
    pending_start = lo <= start <= hi and (rule.until is None or event.start <= rule.until)
    if not repeats(rule, start):
        if pending_start:
            yield start
        return
    cut = None
    if rule.until is not None:
        # The rule runs on DTSTART's fixed offset: wall - offset <= until + margin
        cut = wall(rule.until.astimezone(event.start.tzinfo)) + UNTIL_MARGIN
    origin = _first_period(rule, start, lo)
    walls = rule.walls(origin, start)
    for moment in walls.xafter(max(lo, origin), inc=True):
        if moment > hi or (cut is not None and moment > cut):
            break
        if pending_start and start <= moment:
            pending_start = False
            if start < moment:
                yield start
        if rule.until is None or localize(moment, event.tz) <= rule.until:
            yield moment
    if pending_start:
        yield start


def stop(event: CalendarEvent, start: datetime) -> datetime:
    """The end of the occurrence starting at the localized ``start``: DTEND - DTSTART later, moved by the change
    in DST between the two (recurring_ical_events' repetition, then OnCall's DTEND normalization)."""
    end = start + event.duration
    return end + ((start.dst() or ZERO) - dst_at(end, event.tz))


def occurrences(event: CalendarEvent, lo: datetime, hi: datetime) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) instants (aware) of the occurrences overlapping [lo, hi) (aware), in order of start."""
    slack = max(event.duration, ZERO) + timedelta(days=2)
    local_lo = wall(lo.astimezone(event.tz)) - slack
    local_hi = wall(hi.astimezone(event.tz)) + timedelta(days=2)
    for moment in wall_occurrences(event, local_lo, local_hi):
        begins = localize(moment, event.tz)
        ends = stop(event, begins)
        if begins < ends and begins < hi and ends > lo:
            yield begins.astimezone(UTC), ends.astimezone(UTC)
