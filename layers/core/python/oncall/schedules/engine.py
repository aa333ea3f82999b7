"""The schedule engine: pure functions from a schedule and its shifts to who is on call when, as Grafana OnCall
works it out.

Each shift becomes OnCall's calendar events (:mod:`oncall.schedules.rotation`), expanded as OnCall expands them
(:mod:`oncall.schedules.recurrence`); a shift without a ``time_zone`` is in the schedule's (OnCall's calendar
schedules). Occurrences are not cut where the next one begins: a shift longer than its period overlaps the next
turn, and both are on call.

Resolution (OnCall's final schedule), at every instant: overrides win over every layer; among the overrides, and
otherwise among the other shifts, those of the highest level win, for the overlap only, and everybody in the
winning shifts is on call. A level below 0 counts as 0 (OnCall writes the level into the event's summary only
when it is above 0). Instants nobody covers are gaps.

Tocsin adds ``restrict_hours`` (on call only between two local clock times each day), applied to each occurrence.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from oncall.schedules.models import OnCallShift, Schedule
from oncall.schedules.recurrence import localize, occurrences, zone
from oncall.schedules.rotation import ShiftSpec, calendar_events

__all__ = ["Event", "FinalShift", "final_shifts", "on_call_at", "resolve", "shift_events", "spec", "zone"]


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


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    return moment.astimezone(UTC)


def spec(schedule: Schedule, shift: OnCallShift) -> ShiftSpec:
    """What decides the shift's calendar events."""
    groups: tuple[tuple[str, ...], ...]
    if shift.type == "rolling_users":
        groups = tuple(tuple(dict.fromkeys(g)) for g in shift.rolling_users)
    elif shift.type == "override" and shift.origin == "web":
        # OnCall's web overrides keep one user per group, and a one-off event takes the first group only.
        groups = tuple((u,) for u in dict.fromkeys(shift.users))
    else:
        users = shift.users or [u for g in shift.rolling_users[:1] for u in g]
        groups = (tuple(dict.fromkeys(users)),) if users else ()
    recurring = shift.frequency is not None and shift.type != "single_event" and shift.type != "override"
    return ShiftSpec(
        type=shift.type,
        start=shift.start.replace(tzinfo=None),
        duration=timedelta(seconds=shift.duration),
        frequency=shift.frequency if recurring else None,
        interval=shift.interval,
        by_day=tuple(shift.by_day),
        by_month=tuple(shift.by_month),
        by_monthday=tuple(shift.by_monthday),
        week_start=shift.week_start,
        until=shift.until.replace(tzinfo=None) if shift.until is not None else None,
        rotation_start=shift.rotation_start.replace(tzinfo=None) if shift.rotation_start is not None else None,
        groups=groups,
        start_index=shift.start_rotation_from_user_index if shift.type == "rolling_users" else 0,
        time_zone=shift.time_zone or schedule.time_zone,
        web=shift.origin == "web",
    )


Span = tuple[datetime, datetime]  # start, end (UTC)
Occurrence = tuple[datetime, datetime, tuple[str, ...]]  # start, end (UTC), who


def _restricted(start: datetime, end: datetime, shift: OnCallShift, schedule: Schedule) -> Iterator[Span]:
    """The parts of [start, end) (UTC) inside the shift's daily hours, local clock of the shift's zone."""
    if shift.restrict_hours is None:
        yield start, end
        return
    tz = zone(shift.time_zone or schedule.time_zone)
    opens, closes = time.fromisoformat(shift.restrict_hours.from_), time.fromisoformat(shift.restrict_hours.to)
    first, last = start.astimezone(tz).date() - timedelta(days=1), end.astimezone(tz).date()
    day = first
    while day <= last:
        window_start = localize(datetime.combine(day, opens), tz)
        window_end = localize(datetime.combine(day + timedelta(days=1) if closes <= opens else day, closes), tz)
        lo, hi = max(start, window_start), min(end, window_end)
        if lo < hi:
            yield lo.astimezone(UTC), hi.astimezone(UTC)
        day += timedelta(days=1)


def shift_events(schedule: Schedule, shift: OnCallShift, start: datetime, end: datetime) -> list[Event]:
    """The occurrences of ``shift`` that overlap [start, end), clipped to it."""
    start, end = _utc(start), _utc(end)
    if shift.duration <= 0:
        return []
    definition = spec(schedule, shift)
    level = max(shift.level, 0)
    rotation_start = (shift.rotation_start or shift.start).replace(tzinfo=UTC)
    found: list[Occurrence] = []
    for calendar_event in calendar_events(definition):
        for begins, ends in occurrences(calendar_event, start, end):
            if definition.web:
                # OnCall's web-made shifts: each occurrence starts no earlier than rotation_start. (OnCall also
                # means to end them at the rule's UNTIL, but reads it from the expanded occurrence, which no
                # longer has the rule: no cut.)
                begins = max(begins, rotation_start)
            if begins < ends:
                found.append((begins, ends, calendar_event.users))
    events: list[Event] = []
    for begins, ends, users in _merged(found):
        for part_start, part_end in _restricted(begins, ends, shift, schedule):
            lo, hi = max(part_start, start), min(part_end, end)
            if lo < hi:
                events.append(Event(lo, hi, users, shift.id, level, shift.is_override))
    return events


def _merged(
    found: list[tuple[datetime, datetime, tuple[str, ...]]],
) -> list[tuple[datetime, datetime, tuple[str, ...]]]:
    """OnCall merges the occurrences of one shift that start at the same instant into one, of everybody in them,
    ending where the first of them (in calendar order) ends: a later, longer one is cut short (a quirk, kept).
    ``found`` is in calendar order (event by event, each in time order)."""
    merged: list[Occurrence] = []
    for begins, ends, users in sorted(found, key=lambda item: item[0]):  # stable: calendar order within a start
        if merged and merged[-1][0] == begins:
            first = merged[-1]
            merged[-1] = (first[0], first[1], tuple(dict.fromkeys(first[2] + users)))
        else:
            merged.append((begins, ends, users))
    return merged


def _winners(active: Iterable[Event]) -> list[Event]:
    candidates = list(active)
    overrides = [e for e in candidates if e.is_override]
    pool = overrides or candidates
    if not pool:
        return []
    top = max(e.level for e in pool)
    return [e for e in pool if e.level == top]


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
    """The user ids on call at instant ``when`` (empty in a gap). A stretch covers [start, end): at a handoff
    the incoming people are on call."""
    timeline = final_shifts(schedule, shifts, when, _utc(when) + timedelta(seconds=1))
    return list(timeline[0].user_ids) if timeline else []
