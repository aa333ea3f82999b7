"""A shift as the calendar events Grafana OnCall makes of it (its ``CustomOnCallShift.convert_to_ical``).

Written for Tocsin from OnCall's behaviour, with its source as the reference; every quirk below is OnCall's, kept
on purpose so that the same shift puts the same people on call in both.

Times. ``start`` is a wall-clock time of the shift's zone; ``until`` and ``rotation_start`` are UTC (OnCall
stores all three "as UTC" but reads only ``start`` in the shift's zone). Until a rotation date has been worked
out, comparisons involving ``start`` use its wall-clock reading as if it were UTC, and the turns walked through
before ``rotation_start`` are worked out in UTC.

Single events, recurrent events: one event per shift, from ``start``, lasting ``duration`` (up to ``until`` if
that comes first), repeating every ``interval`` ``frequency`` with the BY parts; ``rotation_start`` plays no part.

Rotations (``rolling_users``) and overrides: group *k* of ``rolling_users`` (counted from
``start_rotation_from_user_index``) gets one event starting on the *k*-th rotation date and repeating every
``interval x number of groups`` periods. The first rotation date is ``start`` (or, when ``rotation_start``
differs, the first occurrence at or after it in ``start``'s first week or month), moved with ``by_day`` to the
first listed day counted from ``week_start``; each next one is the first occurrence in the next period
(:meth:`_Stepper.next_date`). Groups whose date falls before ``rotation_start`` are skipped, and the turn passes
on. A ``daily`` rotation with ``by_day`` becomes weekly events, one per group and listed day
(:func:`_daily_by_day`). Shifts made in OnCall's web UI (``web``) count a turn already under way at
``rotation_start``, and their occurrences start no earlier than ``rotation_start`` (:mod:`oncall.schedules.engine`).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from oncall.schedules.recurrence import (
    UTC_WALL,
    WEEKDAYS,
    CalendarEvent,
    Rule,
    localize,
    wall,
    wall_occurrences,
    zone,
)

UTC_ZONE = zone("UTC")
# A guard, not a rule of OnCall's: the number of turns walked to reach ``rotation_start`` (hourly and daily rotations
# without BY parts jump instead) or to close the cycle of a daily rotation with ``by_day``. The API refuses shifts
# that would need more; walking that many takes about a second.
MAX_STEPS = 5_000


class TooManyTurns(ValueError):
    """Working out the rotation dates would take more than MAX_STEPS turns."""


@dataclass(frozen=True)
class ShiftSpec:
    """The fields of a shift that decide its calendar events (hashable, so they can be cached)."""

    type: str
    start: datetime  # naive wall clock
    duration: timedelta
    frequency: str | None
    interval: int
    by_day: tuple[str, ...]
    by_month: tuple[int, ...]
    by_monthday: tuple[int, ...]
    week_start: str
    until: datetime | None  # naive UTC
    rotation_start: datetime | None  # naive UTC; None: start
    groups: tuple[tuple[str, ...], ...]  # rolling_users (in order) or (users,)
    start_index: int
    time_zone: str
    web: bool = False


def _utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Stepper:
    """OnCall's rotation-date arithmetic for one shift."""

    spec: ShiftSpec
    tz: ZoneInfo
    until: datetime | None  # aware UTC
    rotation_start: datetime  # aware UTC

    @property
    def base_rule(self) -> Rule | None:
        s = self.spec
        if s.frequency is None:
            return None
        return Rule(s.frequency, s.interval, s.by_day, s.by_month, s.by_monthday, s.week_start, self.until)

    def event(
        self, start: datetime, rule: Rule | None, users: tuple[str, ...] = (), tz: ZoneInfo | None = None
    ) -> CalendarEvent:
        """OnCall's ``generate_ical``: DTSTART is ``start``'s wall clock in the zone; DTEND is ``start +
        duration``, or ``until`` if that is earlier, read the same way (so ``until``'s UTC reading). ``tz``: the
        shift's zone; OnCall writes the events it only walks through (turns before ``rotation_start``) in UTC."""
        zone_of_event = tz or self.tz
        end = start + self.spec.duration
        if self.until is not None and self.until < end:
            end = self.until
        dtstart = localize(wall(start), zone_of_event)
        return CalendarEvent(dtstart, localize(wall(end), zone_of_event) - dtstart, rule, zone_of_event, users)

    def _next_period(self, first: datetime, step: int) -> datetime:
        """The start of the period ``step`` periods after the one of ``first`` (the next hour or day; the next
        week start, or first of the month, ``step - 1`` periods on)."""
        s = self.spec
        if s.frequency == "hourly":
            return first + timedelta(hours=1)
        if s.frequency == "daily":
            return first + timedelta(days=1)
        if s.frequency == "weekly":
            days = 7 - first.weekday() + WEEKDAYS.index(s.week_start)
            if days > 7:
                days %= 7
            return first + timedelta(days=days + 7 * (step - 1))
        if s.frequency == "monthly":
            days = calendar.monthrange(first.year, first.month)[1] - first.day + 1
            for n in range(1, step):
                index = first.year * 12 + first.month - 1 + n
                days += calendar.monthrange(index // 12, index % 12 + 1)[1]
            return first + timedelta(days=days)
        return first

    def _end_of_period(self, bound: datetime) -> datetime | None:
        """The last day of ``bound``'s week or month (weekly and monthly rotations; None for the others)."""
        s = self.spec
        if s.frequency == "weekly":
            back = (bound.weekday() - WEEKDAYS.index(s.week_start)) % 7
            return bound + timedelta(days=6 - back)
        if s.frequency == "monthly":
            return bound + timedelta(days=calendar.monthrange(bound.year, bound.month)[1] - bound.day)
        return None

    def next_date(self, current: CalendarEvent, *, following: bool, interval: int | None = None) -> datetime | None:
        """OnCall's ``get_rotation_date``: the date of the next rotation after ``current`` (``following``), or of
        the first one at or after ``rotation_start`` in ``current``'s first week or month (not ``following``).

        The search runs over the occurrences of ``current`` repeated every ``interval`` (the shift's, not the
        event's) periods, from ``current``'s start moved to the next hour, day, week start (``week_start``) or
        first of the month, up to the end of that week or month or a month on. Those bounds keep the offset of
        ``current``'s start while the occurrences are localized each on their own: across a DST change the
        search can miss the occurrence on the day of the change (an OnCall quirk, kept). Nothing found: the
        bound itself is the date. ``None``: the date would be after ``until``.
        """
        s = self.spec
        rule = current.rule
        if rule is not None:
            rule = replace(rule, interval=interval or s.interval or 1)
        first = current.start
        step = interval or s.interval or 1
        month_days = calendar.monthrange(first.year, first.month)[1]
        bound = self._next_period(first, step) if following else first
        end_date = self._end_of_period(bound)
        horizon = bound + timedelta(days=month_days)
        if end_date is not None:
            horizon = max(end_date, horizon)
        # recurring_ical_events widens the window back by the event's length once it starts after DTSTART.
        lo = wall(bound) - current.duration if bound > first else wall(bound)
        probe = replace(current, rule=rule)
        found: datetime | None = None
        for moment in wall_occurrences(probe, lo, wall(horizon)):
            begins = localize(moment, current.tz)
            if end_date is not None:
                if bound <= begins <= end_date:
                    under_way = s.web and begins + current.duration > self.rotation_start
                    if under_way or begins >= self.rotation_start:
                        found = begins
                        break
                elif begins > end_date:
                    break
            elif begins >= bound:
                found = begins
                break
        date = found if found is not None else bound
        if self.until is not None and date > self.until:
            return None
        return date

    def counts(self, start: datetime) -> bool:
        """Whether the turn starting at ``start`` is on or after ``rotation_start`` (web: still under way then)."""
        if self.spec.web and start + self.spec.duration > self.rotation_start:
            return True
        return start >= self.rotation_start


def _first_listed_day(start: datetime, by_day: Sequence[str], week_start: str) -> datetime:
    """OnCall moves a first rotation date on a day ``by_day`` leaves out to the first listed day of the week
    counted from ``week_start`` (not to the next listed day: a quirk, kept)."""
    if WEEKDAYS[start.weekday()] in by_day:
        return start
    first = WEEKDAYS.index(week_start)
    ordered = [(first + n) % 7 for n in range(7)]
    expected = next(d for d in ordered if WEEKDAYS[d] in by_day)
    return start + timedelta(days=(expected - start.weekday()) % 7)


def _daily_by_day(stepper: _Stepper, start: datetime | None, queue: list[tuple[str, ...]]) -> list[CalendarEvent]:
    """A daily rotation on some days of the week, as OnCall writes it: walk the listed days one by one, each
    group taking ``interval`` of them, until a (group, day, turn-within-interval) comes back; each of those
    becomes a weekly event on its day, repeating every (number of them / number of days) weeks."""
    spec = stepper.spec
    base = stepper.base_rule
    assert base is not None
    day_rule = replace(base, interval=1)
    combinations: list[tuple[int, str, int]] = []
    dates: list[datetime] = []
    previous: str | None = None
    steps = 0
    for group in itertools.cycle(range(len(queue))):
        closed = False
        for turn in range(spec.interval):
            steps += 1
            if steps > MAX_STEPS:
                raise TooManyTurns("the rotation takes too many turns to repeat")
            if start is None:  # the rotation ended (until): keep counting to learn the cycle's length
                day = (
                    spec.by_day[0]
                    if previous is None
                    else spec.by_day[(spec.by_day.index(previous) + 1) % len(spec.by_day)]
                )
                if (group, day, turn) in combinations:
                    closed = True
                    break
                combinations.append((group, day, turn))
                previous = day
                continue
            day = WEEKDAYS[start.weekday()]
            if day in spec.by_day:
                if (group, day, turn) in combinations:
                    closed = True
                    break
                dates.append(start)
                combinations.append((group, day, turn))
                previous = day
            start = stepper.next_date(stepper.event(start, day_rule), following=True, interval=1)
        if closed:
            break
    weeks = len(combinations) // len(spec.by_day) or 1
    events: list[CalendarEvent] = []
    for (group, day, _), date in zip(combinations, dates, strict=False):
        rule = replace(base, frequency="weekly", interval=weeks, by_day=(day,))
        events.append(stepper.event(date, rule, queue[group]))
    return events


PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(days=7)}
PERIODS["monthly"] = timedelta(days=28)  # the shortest month: an upper bound of the turns in a stretch of time


def _turns_to_skip(stepper: _Stepper, start: datetime) -> int:
    """How many turns before ``rotation_start`` can be jumped over rather than walked. OnCall walks them one by
    one, in UTC; for an hourly or daily rotation without BY parts each is exactly ``interval`` hours or days
    there, so all but the last two (and those near ``until``, where the walk may fall back to a shorter step)
    can be jumped over."""
    spec = stepper.spec
    if spec.frequency not in ("hourly", "daily") or spec.by_day or spec.by_month or spec.by_monthday:
        return 0
    step = PERIODS[spec.frequency] * spec.interval
    behind = stepper.rotation_start - start - (spec.duration if spec.web else timedelta(0))
    skip = int(behind // step) - 2
    if stepper.until is not None:
        skip = min(skip, int((stepper.until - start) // step) - 2)
    return max(skip, 0)


def _first_start(stepper: _Stepper) -> datetime | None:
    """Where the rotation's turns begin: ``start``, or the first rotation date at or after ``rotation_start``, on
    the first listed day; None: after ``until``."""
    spec = stepper.spec
    first = _utc(spec.start).replace(tzinfo=UTC_WALL)
    start: datetime | None = first
    if spec.frequency is not None and _utc(spec.start) != stepper.rotation_start:
        start = stepper.next_date(stepper.event(first, stepper.base_rule, tz=UTC_ZONE), following=False)
    if spec.frequency is not None and spec.by_day and start is not None:
        start = _first_listed_day(start, spec.by_day, spec.week_start)
    return start


def _rotation_events(stepper: _Stepper, queue: list[tuple[str, ...]]) -> list[CalendarEvent]:
    spec = stepper.spec
    base = stepper.base_rule
    if spec.frequency is None:
        queue = queue[:1]
    start = _first_start(stepper)
    if spec.frequency == "daily" and spec.by_day:
        return _daily_by_day(stepper, start, queue)
    if start is None:
        return []
    # Each group's event repeats once every group has had its turn.
    rule = replace(base, interval=spec.interval * len(spec.groups)) if base is not None else None
    first_turn = 0
    if spec.frequency is not None and not stepper.counts(start):
        first_turn = _turns_to_skip(stepper, start)
        start += PERIODS[spec.frequency] * spec.interval * first_turn
        if (stepper.rotation_start - start) / (PERIODS[spec.frequency] * spec.interval) > MAX_STEPS:
            raise TooManyTurns("rotation_start is too many turns after start")
    events: list[CalendarEvent] = []
    for turn in itertools.count(first_turn):
        if start is None:
            return events
        if turn - first_turn > MAX_STEPS:
            raise TooManyTurns("rotation_start is too many turns after start")
        users = queue[turn % len(queue)]
        if stepper.counts(start):
            current = stepper.event(start, rule, users)
            events.append(current)
            if len(events) == len(queue):
                return events
        else:  # a turn before rotation_start: OnCall walks past it with an event written in UTC
            current = stepper.event(start, rule, tz=UTC_ZONE)
        if spec.frequency is None:
            # OnCall walks a one-off event with a rotation_start after its start forever; Tocsin's API
            # refuses such an override, and here it simply has no turn.
            return events
        start = stepper.next_date(current, following=True)
    raise AssertionError("unreachable")


@lru_cache(maxsize=1024)
def calendar_events(spec: ShiftSpec) -> tuple[CalendarEvent, ...]:
    """The shift's calendar events, as OnCall's ``convert_to_ical`` writes them."""
    tz = zone(spec.time_zone)
    until = _utc(spec.until) if spec.until is not None else None
    rotation_start = _utc(spec.rotation_start if spec.rotation_start is not None else spec.start)
    stepper = _Stepper(spec, tz, until, rotation_start)
    if spec.type in ("single_event", "recurrent_event"):
        users = spec.groups[0] if spec.groups else ()
        event = stepper.event(_utc(spec.start).replace(tzinfo=UTC_WALL), stepper.base_rule, users)
        return (event,) if users else ()
    queue = list(spec.groups[spec.start_index :] + spec.groups[: spec.start_index])
    return tuple(e for e in _rotation_events(stepper, queue) if e.users)
