"""The schedules page's timeline: final shifts as bars on a window of days, positioned in percent of the window.

Pure functions of the API's final shifts (:func:`oncall.api.routes.schedules.final_shift_out` rows), so the page
draws them with CSS alone (``left`` / ``width`` in percent), without JavaScript. Times are UTC, as the rest of the
console.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NOBODY: Final = "nobody"
DASH: Final = "\u2013"  # en dash, between the ends of a stretch


@dataclass(frozen=True)
class Bar:
    left: float  # percent of the window
    width: float  # percent of the window
    text: str  # "alice, Mon 30 Nov 09:00 \u2013 Tue 1 Dec 09:00 UTC" (an en dash)
    is_override: bool = False
    is_gap: bool = False


@dataclass(frozen=True)
class Row:
    label: str  # the person's username (else id), or "nobody" for the gaps
    bars: tuple[Bar, ...]
    is_gap: bool = False


@dataclass(frozen=True)
class Tick:
    left: float
    width: float
    label: str  # "Mon 30"
    title: str  # "Mon 30 Nov"
    is_weekend: bool


def moment_text(moment: datetime) -> str:
    """``Mon 30 Nov 09:00`` (UTC), without the locale's names."""
    moment = moment.astimezone(UTC)
    return f"{DAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} {moment:%H:%M}"


def _when(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def position(moment: datetime, start: datetime, end: datetime) -> float | None:
    """Where ``moment`` is in the window, in percent; None outside it."""
    if not start <= moment < end:
        return None
    return round((moment - start) / (end - start) * 100, 4)


def _bar(label: str, begin: datetime, finish: datetime, start: datetime, end: datetime, **flags: bool) -> Bar | None:
    shown_begin, shown_finish = max(begin, start), min(finish, end)
    if shown_finish <= shown_begin:
        return None
    total = end - start
    left = round((shown_begin - start) / total * 100, 4)
    width = round((shown_finish - shown_begin) / total * 100, 4)
    text = f"{label}, {moment_text(begin)} {DASH} {moment_text(finish)} UTC"
    if flags.get("is_override"):
        text += " (override)"
    return Bar(left=left, width=round(min(width, 100 - left), 4), text=text, **flags)


def _merge(stretches: list[tuple[datetime, datetime, bool]]) -> list[tuple[datetime, datetime, bool]]:
    """Adjacent or overlapping stretches of one kind become one (the engine cuts where other people's start)."""
    merged: list[tuple[datetime, datetime, bool]] = []
    for begin, finish, override in sorted(stretches):
        if merged and merged[-1][2] == override and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish), override)
        else:
            merged.append((begin, finish, override))
    return merged


def _gaps(covered: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    gaps, cursor = [], start
    for begin, finish in sorted(covered):
        if begin > cursor:
            gaps.append((cursor, min(begin, end)))
        cursor = max(cursor, finish)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(b, f) for b, f in gaps if f > b]


def timeline_rows(shifts: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> list[Row]:
    """One row per person on call in ``[start, end)`` (in the order their first stretch starts), each with a bar
    per stretch, then a ``nobody`` row with the gaps when nobody is on call (also the only row when nobody is
    scheduled at all). ``shifts`` are final shifts of the API (``shift_start``, ``shift_end``, ``user_pk``,
    ``user_username``, ``is_override``, ``is_gap``); rows with ``is_gap`` are ignored, gaps are computed here."""
    stretches: dict[str, list[tuple[datetime, datetime, bool]]] = {}
    labels: dict[str, str] = {}
    covered: list[tuple[datetime, datetime]] = []
    for shift in sorted(shifts, key=lambda s: _when(s["shift_start"])):
        user = shift.get("user_pk")
        if shift.get("is_gap") or not user:
            continue
        begin, finish = _when(shift["shift_start"]), _when(shift["shift_end"])
        if finish <= start or begin >= end or finish <= begin:
            continue
        labels.setdefault(user, shift.get("user_username") or user)
        stretches.setdefault(user, []).append((begin, finish, bool(shift.get("is_override"))))
        covered.append((begin, finish))
    rows = []
    for user, pieces in stretches.items():
        bars = (_bar(labels[user], b, f, start, end, is_override=o) for b, f, o in _merge(pieces))
        rows.append(Row(label=labels[user], bars=tuple(bar for bar in bars if bar)))
    gap_bars = (_bar(f"{NOBODY} on call", b, f, start, end, is_gap=True) for b, f in _gaps(covered, start, end))
    gaps = tuple(bar for bar in gap_bars if bar)
    if gaps:
        rows.append(Row(label=NOBODY, bars=gaps, is_gap=True))
    return rows


def day_ticks(start: datetime, end: datetime) -> list[Tick]:
    """A column label per day of the window (the window starts at midnight UTC)."""
    ticks, day = [], start
    total = end - start
    while day < end:
        following = min(day + timedelta(days=1), end)
        ticks.append(
            Tick(
                left=round((day - start) / total * 100, 4),
                width=round((following - day) / total * 100, 4),
                label=f"{DAYS[day.weekday()]} {day.day}",
                title=f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}",
                is_weekend=day.weekday() >= 5,
            )
        )
        day = following
    return ticks
