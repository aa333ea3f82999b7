"""Grafana OnCall's final schedule, computed by OnCall's own code: the reference Tocsin's schedule engine is held to.

Not part of the test suite and not shipped: a developer tool that writes ``tests/unit/fixtures/
oncall_final_schedules.json`` (see ``golden.py``). Nothing of OnCall is copied here: the functions are read at run
time from a local clone of grafana/oncall (``ONCALL_SRC``, the ``engine`` folder) and run on plain objects, without
Django. It needs OnCall's pinned libraries in a separate virtualenv::

    python -m venv /tmp/oncall-ref
    /tmp/oncall-ref/bin/pip install recurring-ical-events==2.1.0 icalendar==5.0.10 pytz python-dateutil pydantic
    ONCALL_SRC=/path/to/oncall/engine PYTHONPATH=layers/core/python \\
        /tmp/oncall-ref/bin/python tests/support/oncall_reference/golden.py write 360 100

Used from OnCall: ``CustomOnCallShift`` (``convert_to_ical``, ``_daily_by_day_to_ical``, ``generate_ical``,
``get_rotation_date`` and the rule properties), the recurring-ical-events adapter
(``AmixrRecurringIcalEventsAdapter``), and ``OnCallSchedule._merge_events`` / ``_resolve_schedule``.
"""

from __future__ import annotations

import ast
import copy
import datetime
import functools
import itertools
import logging
import os
import re
import typing
import uuid
from calendar import monthrange
from pathlib import Path
from typing import Any

import pytz  # type: ignore[import-untyped]
import recurring_ical_events  # type: ignore[import-untyped]
from dateutil import relativedelta
from icalendar import Calendar
from icalendar.cal import Event

UTC = datetime.UTC
SOURCE = Path(os.environ.get("ONCALL_SRC", "oncall/engine"))
RE_PRIORITY = re.compile(r"^\[L(\d+)\]")
RE_EVENT_UID_V1 = re.compile(r"amixr-([\w\d-]+)-U(\d+)-E(\d+)-S(\d+)")
RE_EVENT_UID_V2 = re.compile(r"oncall-([\w\d-]+)-PK([\w\d]+)-U(\d+)-E(\d+)-S(\d+)")


def _functions(path: str, class_name: str, names: set[str]) -> list[ast.FunctionDef]:
    tree = ast.parse((SOURCE / path).read_text())
    found = [
        item
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == class_name
        for item in node.body
        if isinstance(item, ast.FunctionDef) and item.name in names
    ]
    assert {f.name for f in found} == names, f"{path}: not all of {sorted(names)} found"
    return found


def _install(target: type, path: str, class_name: str, names: set[str], namespace: dict[str, Any]) -> None:
    """Compile the named methods of OnCall's class into ``target``, with ``namespace`` as their globals."""
    for function in _functions(path, class_name, names):
        source = ast.unparse(function).replace("from apps.schedules.models import CustomOnCallShift", "pass")
        exec(compile(source, f"{path}:{function.name}", "exec"), namespace)  # OnCall's own code, on purpose
        value = namespace[function.name]
        setattr(target, function.name, value)
        if isinstance(value, functools.cached_property):
            value.__set_name__(target, function.name)


class User:
    def __init__(self, name: str) -> None:
        self.username = self.pk = name


class Users:
    def __init__(self, users: list[User]) -> None:
        self._users = users

    def all(self) -> list[User]:
        return self._users


class Shift:
    """Stands in for ``CustomOnCallShift``: its constants, plus OnCall's methods installed below."""

    (FREQUENCY_DAILY, FREQUENCY_WEEKLY, FREQUENCY_MONTHLY, FREQUENCY_HOURLY) = range(4)
    (TYPE_SINGLE_EVENT, TYPE_RECURRENT_EVENT, TYPE_ROLLING_USERS_EVENT, TYPE_OVERRIDE) = range(4)
    (SOURCE_WEB, SOURCE_API, SOURCE_SLACK, SOURCE_TERRAFORM) = range(4)
    ICAL_WEEKDAY_MAP: typing.ClassVar = dict(enumerate(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]))
    ICAL_WEEKDAY_REVERSE_MAP: typing.ClassVar = {v: k for k, v in ICAL_WEEKDAY_MAP.items()}
    FREQUENCY_NAMES: typing.ClassVar = {0: "Daily", 1: "Weekly", 2: "Monthly", 3: "Hourly"}
    frequency: int | None
    rolling_users: list[list[str]] | None
    start_rotation_from_user_index: int | None

    def get_frequency_display(self) -> str:
        assert self.frequency is not None
        return self.FREQUENCY_NAMES[self.frequency]

    def get_rolling_users(self) -> list[list[User]]:  # OnCall's reads the users from the database
        if self.rolling_users is None:
            return []
        index = self.start_rotation_from_user_index or 0
        queue = self.rolling_users[index:] + self.rolling_users[:index]
        return [[User(u) for u in group] for group in queue]


class Adapter:
    pass


class Schedule:
    TYPE_ICAL_PRIMARY, TYPE_ICAL_OVERRIDES, TYPE_CALENDAR = range(3)
    PRIMARY, OVERRIDES = range(2)


_shift_globals: dict[str, Any] = {
    "copy": copy,
    "datetime": datetime,
    "itertools": itertools,
    "monthrange": monthrange,
    "pytz": pytz,
    "recurring_ical_events": recurring_ical_events,
    "relativedelta": relativedelta,
    "Event": Event,
    "cached_property": functools.cached_property,
    "logger": logging.getLogger("oncall-reference"),
    "CustomOnCallShift": Shift,
    "User": User,
}
_install(
    Shift,
    "apps/schedules/models/custom_on_call_shift.py",
    "CustomOnCallShift",
    {
        "_daily_by_day_to_ical",
        "convert_to_ical",
        "generate_ical",
        "get_summary_with_user_for_ical",
        "get_rotation_date",
        "event_ical_rules",
        "event_interval",
        "convert_dt_to_schedule_timezone",
    },
    _shift_globals,
)
_install(
    Adapter,
    "apps/schedules/ical_events/adapter/amixr_recurring_ical_events_adapter.py",
    "AmixrRecurringIcalEventsAdapter",
    {"_normalize", "get_events_from_ical_between", "get_start_and_end_with_respect_to_event_type"},
    {
        "datetime": datetime,
        "typing": typing,
        "Calendar": Calendar,
        "Event": Event,
        "UnfoldableCalendar": recurring_ical_events.UnfoldableCalendar,
        "time_span_contains_event": recurring_ical_events.time_span_contains_event,
        "EXTRA_LOOKUP_DAYS": 16,
        "ICAL_DATETIME_END": "DTEND",
        "ICAL_DATETIME_STAMP": "DTSTAMP",
        "ICAL_DATETIME_START": "DTSTART",
        "ICAL_RRULE": "RRULE",
        "ICAL_UID": "UID",
        "ICAL_UNTIL": "UNTIL",
        "RE_EVENT_UID_V1": RE_EVENT_UID_V1,
        "RE_EVENT_UID_V2": RE_EVENT_UID_V2,
        "CustomOnCallShift": Shift,
    },
)
_install(
    Schedule,
    "apps/schedules/models/on_call_schedule.py",
    "OnCallSchedule",
    {"_resolve_schedule", "_merge_events"},
    {
        "typing": typing,
        "datetime": datetime,
        "OnCallSchedule": Schedule,
        "ScheduleEvents": list,
        "ScheduleEvent": dict,
        "ScheduleEventIntervals": list,
    },
)
ADAPTER = Adapter()
FREQUENCIES = {"daily": 0, "weekly": 1, "monthly": 2, "hourly": 3, None: None}
TYPES = {"single_event": 0, "recurrent_event": 1, "rolling_users": 2, "override": 3}
WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_keys = itertools.count(1)


def make_shift(d: dict[str, Any]) -> Any:
    """A shift as OnCall stores it, from Tocsin's fields (naive start, until, rotation_start). An override gets one
    group of all its users: OnCall's API leaves an override's ``rolling_users`` empty (so it puts nobody on call),
    its web UI makes one group per user (see ``docs/api-compat.md``); Tocsin's overrides page all their users."""
    s: Any = Shift()
    s.pk = next(_keys)
    s.public_primary_key = d.get("id") or f"O{s.pk}"
    s.uuid = uuid.UUID(int=s.pk)
    s.type = TYPES[d["type"]]
    s.source = {"web": 0, "api": 1}[d.get("origin", "api")]
    s.time_zone = d.get("time_zone")
    s.priority_level = d.get("level", 0)
    s.start = d["start"].replace(tzinfo=UTC)  # OnCall stores the wall clock "as UTC"
    s.rotation_start = (d.get("rotation_start") or d["start"]).replace(tzinfo=UTC)
    s.duration = datetime.timedelta(seconds=d["duration"])
    s.frequency = FREQUENCIES[d.get("frequency")]
    s.interval = d.get("interval", 1) if d.get("frequency") else None
    s.until = d["until"].replace(tzinfo=UTC) if d.get("until") else None
    s.week_start = WEEKDAYS[d.get("week_start", "SU")]
    s.by_day = d.get("by_day") or None
    s.by_month = d.get("by_month") or None
    s.by_monthday = d.get("by_monthday") or None
    users = d.get("users") or []
    s.rolling_users = (d.get("rolling_users") or ([users] if users else None)) if s.type in (2, 3) else None
    s.users = Users([User(u) for u in users])
    s.start_rotation_from_user_index = d.get("start_rotation_from_user_index")
    return s


def _events(text: str, calendar_type: int, start: datetime.datetime, end: datetime.datetime) -> list[dict[str, Any]]:
    out = []
    for event in ADAPTER.get_events_from_ical_between(Calendar.from_ical(text), start, end):  # type: ignore[attr-defined]
        summary = str(event.get("SUMMARY", "[L0]"))
        user = re.sub(RE_PRIORITY, "", summary.strip(), count=1).strip() if "SUMMARY" in event else None
        found = RE_PRIORITY.findall(summary.strip())
        priority = int(found[0]) if found and int(found[0]) >= 1 else 0
        match = RE_EVENT_UID_V2.match(event["UID"])
        begins, ends = ADAPTER.get_start_and_end_with_respect_to_event_type(event)  # type: ignore[attr-defined]
        if begins < ends:
            out.append(
                {
                    "start": begins.astimezone(UTC),
                    "end": ends.astimezone(UTC),
                    "users": [{"pk": user}] if user else [],
                    "missing_users": [],
                    "priority_level": priority,
                    "calendar_type": calendar_type,
                    "is_empty": not user,
                    "is_gap": False,
                    "shift": {"pk": match.groups()[1] if match else None},
                }
            )
    return out


def final_events(shifts: list[dict[str, Any]], start: datetime.datetime, end: datetime.datetime) -> list[Any]:
    """OnCall's resolved final events (gaps left out) of a web schedule with these shifts, between aware times."""
    made = [make_shift(d) for d in shifts]
    head = "BEGIN:VCALENDAR\r\nPRODID:-//web schedule//oncall//\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\n"
    events: list[dict[str, Any]] = []
    for calendar_type, kind in ((0, [s for s in made if s.type != 3]), (1, [s for s in made if s.type == 3])):
        if kind:
            text = head + "".join(s.convert_to_ical("UTC") for s in kind) + "END:VCALENDAR\r\n"
            events += _events(text, calendar_type, start, end)
    events.sort(key=lambda e: e["start"])
    events = Schedule._merge_events(None, events)  # type: ignore[attr-defined]
    return Schedule._resolve_schedule(None, events, start, end)  # type: ignore[attr-defined, no-any-return]
