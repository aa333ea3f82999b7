"""On-call schedules and their shifts (OnCall's "on-call shifts": rotations, single events and overrides).

A schedule has a time zone; a shift's ``start`` is a wall-clock time in that zone (or in the shift's own
``time_zone``), so a daily 09:00 handoff stays at 09:00 local time across DST changes. ``until`` and
``rotation_start`` are UTC, as in Grafana OnCall (which stores all three "as UTC" but reads only ``start`` in the
shift's zone). How shifts become on-call time: :mod:`oncall.schedules.rotation`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from oncall.lazy_model import LazyModel

SCHEDULE_PREFIX = "S"
SHIFT_PREFIX = "O"

ScheduleType = Literal["web", "calendar", "ical"]
ShiftType = Literal["single_event", "recurrent_event", "rolling_users", "override"]
Frequency = Literal["hourly", "daily", "weekly", "monthly"]
SHIFT_TYPES: tuple[str, ...] = ("single_event", "recurrent_event", "rolling_users", "override")
FREQUENCIES: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly")
WEEKDAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def calendar_fetch_url(url: str) -> str:
    """The URL a calendar is fetched from: ``webcal://`` (how calendar apps link a feed) is https."""
    return "https://" + url[len("webcal://") :] if url[: len("webcal://")].lower() == "webcal://" else url


class Schedule(LazyModel):
    id: str
    name: str
    type: ScheduleType = "web"
    team_id: str | None = None
    time_zone: str = "UTC"
    ical_url_primary: str | None = None  # type "ical": the calendar imported as the primary layer
    ical_url_overrides: str | None = None  # a calendar imported as overrides
    # Kept and returned for OnCall clients: overrides are always possible (through the API), Slack is not used.
    enable_web_overrides: bool = False
    slack: dict[str, str | None] | None = None  # {"channel_id": ..., "user_group_id": ...}


class RestrictHours(LazyModel):
    """On-call only between these local clock times each day (``to`` <= ``from`` wraps past midnight)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    from_: str = Field(alias="from", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    to: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class OnCallShift(LazyModel):
    id: str
    name: str
    type: ShiftType
    schedule_id: str | None = None
    team_id: str | None = None
    time_zone: str | None = None  # None: the schedule's
    level: int = 0  # priority: where shifts overlap, the highest level wins
    start: datetime  # naive: wall-clock time in the shift's time zone
    duration: int  # seconds of wall-clock time
    frequency: Frequency | None = None  # None: a single occurrence
    interval: int = 1
    by_day: list[str] = Field(default_factory=list)
    by_month: list[int] = Field(default_factory=list)
    by_monthday: list[int] = Field(default_factory=list)
    week_start: str = "SU"  # OnCall's default
    users: list[str] = Field(default_factory=list)  # single_event, recurrent_event, override: all paged together
    rolling_users: list[list[str]] = Field(default_factory=list)  # rotation: one group per turn
    start_rotation_from_user_index: int = 0
    until: datetime | None = None  # naive UTC: no occurrence starts after it; the first one ends there at the latest
    rotation_start: datetime | None = None  # naive UTC: when turns begin to count (None: start)
    origin: Literal["api", "web"] = "api"  # OnCall's ``source``: shifts made in its web UI expand differently
    restrict_hours: RestrictHours | None = None  # Tocsin
    source: Literal["api", "ical", "ical_overrides"] = "api"  # Tocsin: imported shifts are replaced by the next import
    ical_uid: str | None = None

    @property
    def is_override(self) -> bool:
        return self.type == "override"

    def groups(self) -> list[list[str]]:
        """The user groups taking turns (a single group unless this is a rotation)."""
        if self.type == "rolling_users":
            return self.rolling_users
        return [self.users] if self.users else self.rolling_users[:1]
