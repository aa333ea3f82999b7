"""The schedule engine: pure functions from a schedule and its shifts to who is on call when.

Occurrences come from ``dateutil.rrule`` over *naive wall-clock* times in the shift's time zone, and each lasts
``duration`` seconds of wall-clock time; only then are they placed on the UTC time line with ``zoneinfo``. So a
daily rotation handing off at 09:00 hands off at 09:00 local on both sides of a DST change (that day's shift is
23 or 25 real hours long). A wall-clock time that does not exist (spring forward) maps to the instant of the
change, so an hourly shift in the missing hour is empty.

Resolution, at every instant: overrides win over every layer (several overlapping overrides page everybody in
them); otherwise the shifts of the highest ``level`` covering the instant win, for the overlap only (several
shifts of that level page all their users). Instants nobody covers are reported as gaps.

An occurrence ends where the next occurrence of the same shift begins, if that comes first (so a monthly
rotation of 31 days hands off on the 1st of every month, and a weekly shift on several ``by_day`` days covers
each day until the next listed one).

Rotations (``rolling_users``): each occurrence belongs to a *turn*, and turn ``n`` pages group
``(start_rotation_from_user_index + n) % len(rolling_users)``. A turn is a period of ``interval`` hours, days,
weeks or months that has an occurrence: hourly and daily rotations take one turn per occurrence (days left out
by ``by_day`` take none), and all the ``by_day`` occurrences of a week of a weekly rotation are one group's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import rrule
from dateutil.relativedelta import relativedelta

from oncall.schedules.models import WEEKDAYS, OnCallShift, Schedule

FREQ = {"hourly": rrule.HOURLY, "daily": rrule.DAILY, "weekly": rrule.WEEKLY, "monthly": rrule.MONTHLY}
RRULE_WEEKDAYS = dict(
    zip(WEEKDAYS, (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU), strict=True)
)


@dataclass(frozen=True)
class FinalShift:
    """One stretch of the resolved timeline: who is on call from ``start`` to ``end`` (UTC)."""

    start: datetime
    end: datetime
    user_ids: tuple[str, ...]
    shift_id: str | None  # the shift it comes from (the first one, where several of one level overlap)
    is_override: bool = False
    is_gap: bool = False  # nobody is on call


@dataclass(frozen=True)
class Event:
    """One occurrence of one shift on the UTC time line."""

    start: datetime
    end: datetime
    user_ids: tuple[str, ...]
    shift_id: str
    level: int
    is_override: bool


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ZoneInfoNotFoundError / ValueError if there is none."""
    return ZoneInfo(name)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    return moment.astimezone(UTC)


def _placed(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time of ``tz`` as a UTC instant (ambiguous: the first; missing: the change)."""
    return local.replace(tzinfo=tz).astimezone(UTC)


def _clock(raw: str) -> time:
    hours, minutes = raw.split(":")
    return time(int(hours), int(minutes))


def _restricted(start: datetime, end: datetime, shift: OnCallShift) -> Iterator[tuple[datetime, datetime]]:
    """The parts of the wall-clock interval [start, end) inside the shift's daily hours."""
    if shift.restrict_hours is None:
        yield start, end
        return
    opens, closes = _clock(shift.restrict_hours.from_), _clock(shift.restrict_hours.to)
    day = start.date() - timedelta(days=1)
    while day <= end.date():
        window_start = datetime.combine(day, opens)
        window_end = datetime.combine(day + timedelta(days=1) if closes <= opens else day, closes)
        lo, hi = max(start, window_start), min(end, window_end)
        if lo < hi:
            yield lo, hi
        day += timedelta(days=1)


def recurrence_rule(shift: OnCallShift, dtstart: datetime | None = None) -> rrule.rrule:
    """The shift's recurrence; ``dtstart``: a later start in phase with the shift's (to skip history)."""
    assert shift.frequency is not None
    return rrule.rrule(
        FREQ[shift.frequency],
        dtstart=dtstart or shift.start,
        interval=shift.interval,
        wkst=RRULE_WEEKDAYS[shift.week_start],
        byweekday=[RRULE_WEEKDAYS[d] for d in shift.by_day] or None,
        bymonth=shift.by_month or None,
        bymonthday=shift.by_monthday or None,
        until=shift.until,
        cache=False,
    )


def _week_of(day: datetime, week_start: str) -> datetime:
    back = (day.weekday() - WEEKDAYS.index(week_start)) % 7
    return (day - timedelta(days=back)).replace(hour=0, minute=0, second=0, microsecond=0)


def _turn(shift: OnCallShift, occurrence: datetime) -> int:
    """The period (of ``interval`` hours, days, weeks or months since the start) an occurrence falls in."""
    first = shift.start
    if shift.frequency == "hourly":
        return int((occurrence - first).total_seconds() // 3600) // shift.interval
    if shift.frequency == "daily":
        return (occurrence.date() - first.date()).days // shift.interval
    if shift.frequency == "weekly":
        return (_week_of(occurrence, shift.week_start) - _week_of(first, shift.week_start)).days // 7 // shift.interval
    return ((occurrence.year - first.year) * 12 + occurrence.month - first.month) // shift.interval


def _fast_forward(shift: OnCallShift, lo: datetime) -> datetime:
    """A start in phase with the shift's, a period or two before ``lo``: rrule iterates from its start, so a
    rotation running for years would otherwise walk its whole history."""
    first, step = shift.start, shift.interval
    if shift.frequency == "hourly":
        periods = int((lo - first).total_seconds() // 3600) // step - 1
        return first + timedelta(hours=periods * step) if periods > 0 else first
    if shift.frequency == "daily":
        periods = (lo.date() - first.date()).days // step - 1
        return first + timedelta(days=periods * step) if periods > 0 else first
    if shift.frequency == "weekly":
        periods = (lo - first).days // (7 * step) - 1
        return first + timedelta(weeks=periods * step) if periods > 0 else first
    periods = ((lo.year - first.year) * 12 + lo.month - first.month) // step - 1
    if periods > 0 and first.day <= 28:  # later days are not in every month: rrule skips those months
        return first + relativedelta(months=periods * step)
    return first


def occurrences(shift: OnCallShift, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """(wall-clock start, turn) of the occurrences starting in [lo, hi] (naive local times), followed by the
    first one after ``hi`` if there is one (it bounds the last: an occurrence ends where the next begins)."""
    if shift.frequency is None:
        return [(shift.start, 0)] if lo <= shift.start <= hi else []
    found: list[tuple[datetime, int]] = []
    if shift.by_month or shift.by_monthday or (shift.by_day and shift.frequency in ("hourly", "daily")):
        # Some periods have no occurrence and take no turn: count the periods that have one, from the start.
        turn, last_period = -1, -1
        for start in recurrence_rule(shift):
            if (period := _turn(shift, start)) != last_period:
                turn, last_period = turn + 1, period
            if start >= lo:
                found.append((start, turn))
            if start > hi:
                break
        return found
    rule = recurrence_rule(shift, _fast_forward(shift, lo))
    found = [(start, _turn(shift, start)) for start in rule.between(lo, hi, inc=True)]
    following = rule.after(hi)
    if following is not None:
        found.append((following, _turn(shift, following)))
    return found


def shift_events(schedule: Schedule, shift: OnCallShift, start: datetime, end: datetime) -> list[Event]:
    """The occurrences of ``shift`` that overlap [start, end), clipped to it."""
    start, end = _utc(start), _utc(end)
    groups = [tuple(dict.fromkeys(g)) for g in shift.groups()]
    if not groups or shift.duration <= 0:
        return []
    tz = zone(shift.time_zone or schedule.time_zone)
    length = timedelta(seconds=shift.duration)
    # Naive local bounds with a day of slack on each side for offsets and DST changes.
    lo = start.astimezone(tz).replace(tzinfo=None) - length - timedelta(days=1)
    hi = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    events: list[Event] = []
    found = occurrences(shift, lo, hi)
    for n, (local_start, turn) in enumerate(found):
        group = groups[(shift.start_rotation_from_user_index + turn) % len(groups)]
        if local_start > hi or not group:
            continue
        local_end = local_start + length
        if n + 1 < len(found):
            local_end = min(local_end, found[n + 1][0])
        if shift.until is not None and shift.frequency is not None:
            local_end = min(local_end, shift.until)
        for part_start, part_end in _restricted(local_start, local_end, shift):
            real_start, real_end = max(_placed(part_start, tz), start), min(_placed(part_end, tz), end)
            if real_start < real_end:
                events.append(Event(real_start, real_end, group, shift.id, shift.level, shift.is_override))
    return events


def _winners(active: Iterable[Event]) -> list[Event]:
    candidates = list(active)
    overrides = [e for e in candidates if e.is_override]
    if overrides:
        return overrides
    if not candidates:
        return []
    top = max(e.level for e in candidates)
    return [e for e in candidates if e.level == top]


def resolve(events: Sequence[Event], start: datetime, end: datetime) -> list[FinalShift]:
    """The timeline of [start, end) from events (any order): winners per stretch, gaps included."""
    start, end = _utc(start), _utc(end)
    ordered = sorted(events, key=lambda e: (e.start, e.shift_id))
    cuts = sorted({start, end, *(e.start for e in ordered), *(e.end for e in ordered)})
    cuts = [c for c in cuts if start <= c <= end]
    timeline: list[FinalShift] = []
    active: list[Event] = []
    upcoming = 0
    for lo, hi in itertools.pairwise(cuts):
        while upcoming < len(ordered) and ordered[upcoming].start <= lo:
            active.append(ordered[upcoming])
            upcoming += 1
        active = [e for e in active if e.end > lo]
        winners = _winners(active)
        users = tuple(dict.fromkeys(u for e in winners for u in e.user_ids))
        piece = FinalShift(
            start=lo,
            end=hi,
            user_ids=users,
            shift_id=winners[0].shift_id if winners else None,
            is_override=bool(winners) and winners[0].is_override,
            is_gap=not users,
        )
        last = timeline[-1] if timeline else None
        if (
            last is not None
            and last.end == lo
            and (last.user_ids, last.is_override, last.is_gap) == (users, piece.is_override, piece.is_gap)
        ):
            timeline[-1] = FinalShift(last.start, hi, users, last.shift_id, last.is_override, last.is_gap)
        else:
            timeline.append(piece)
    return timeline


def final_shifts(schedule: Schedule, shifts: Iterable[OnCallShift], start: datetime, end: datetime) -> list[FinalShift]:
    """Who is on call from ``start`` to ``end`` (aware datetimes), as consecutive stretches covering the whole
    range; stretches nobody covers have no users and ``is_gap``. Adjacent stretches of the same users (and the
    same override-ness) are merged."""
    if _utc(end) <= _utc(start):
        return []
    events = [e for shift in shifts for e in shift_events(schedule, shift, start, end)]
    return resolve(events, start, end)


def on_call_at(schedule: Schedule, shifts: Iterable[OnCallShift], when: datetime) -> list[str]:
    """The user ids on call at instant ``when`` (empty in a gap)."""
    timeline = final_shifts(schedule, shifts, when, _utc(when) + timedelta(seconds=1))
    return list(timeline[0].user_ids) if timeline else []
