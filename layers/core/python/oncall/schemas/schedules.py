"""Request and response shapes of schedules and on-call shifts, compatible with Grafana OnCall's public API
(``/api/v1/schedules/``, ``/api/v1/on_call_shifts/``). Values checked against the store or with rules of their
own (time zones, frequencies, user ids, durations, calendar URLs) are checked by the use cases in
:mod:`oncall.services.schedules`, so they answer DRF-style field errors whoever calls them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from oncall.lazy_model import LazyModel
from oncall.schemas import Lenient, RelatedId

# Where a calendar is fetched from (http, https or webcal): the use case checks it under the deployment's outbound
# policy when it is saved, as every URL Tocsin sends requests to (:mod:`oncall.outbound`).
CalendarUrl = Annotated[str, Field(max_length=2000, description="An https:// or webcal:// URL of a public host")]
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


class ScheduleSlack(Lenient):
    channel_id: str | None = Field(default=None, max_length=100)
    user_group_id: str | None = Field(default=None, max_length=100)


class ScheduleFields(Lenient):
    team_id: RelatedId = None
    time_zone: str | None = Field(default=None, max_length=64)
    ical_url_primary: CalendarUrl | None = None
    ical_url_overrides: CalendarUrl | None = None
    shifts: list[str] | None = None  # ids of the shifts in the schedule (OnCall "calendar" schedules)
    # Kept and returned for OnCall clients; not used by Tocsin.
    enable_web_overrides: bool | None = None
    slack: ScheduleSlack | None = None


class ScheduleIn(ScheduleFields):
    name: str = Field(min_length=1, max_length=150)
    type: Literal["web", "calendar", "ical"] = "web"


class SchedulePatch(ScheduleFields):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    type: Literal["web", "calendar", "ical"] | None = None


class ScheduleOut(LazyModel):
    id: str
    team_id: str | None
    name: str
    type: str
    time_zone: str
    on_call_now: list[str]
    shifts: list[str]
    ical_url_primary: str | None
    ical_url_overrides: str | None
    enable_web_overrides: bool = False
    slack: ScheduleSlack | None = None


class RestrictHoursIn(Lenient):
    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
    from_: str = Field(alias="from", pattern=CLOCK)
    to: str = Field(pattern=CLOCK)


class ShiftFields(Lenient):
    team_id: RelatedId = None
    schedule_id: RelatedId = None
    time_zone: str | None = Field(default=None, max_length=64)
    level: int | None = Field(default=None, ge=-100_000, le=100_000)
    start: datetime | None = None  # wall-clock time in the shift's time zone: "2020-09-10T08:00:00"
    rotation_start: datetime | None = None  # UTC, as in OnCall: when turns begin to count (default: start)
    duration: int | None = None  # seconds
    frequency: str | None = None  # hourly, daily, weekly, monthly
    interval: int | None = None
    by_day: list[str] | None = None  # MO..SU
    by_month: list[int] | None = None
    by_monthday: list[int] | None = None
    week_start: str | None = None
    users: list[str] | None = None
    rolling_users: list[list[str]] | None = None
    start_rotation_from_user_index: int | None = None
    until: datetime | None = None  # UTC, as in OnCall
    source: int | None = Field(default=None, ge=0, le=3)  # OnCall's, write-only: 0 web UI, 1 API, 2 Slack, 3 Terraform
    restrict_hours: RestrictHoursIn | None = None  # Tocsin: {"from": "09:00", "to": "17:00"}


class ShiftIn(ShiftFields):
    name: str = Field(min_length=1, max_length=150)
    type: str  # single_event, recurrent_event, rolling_users, override


class ShiftPatch(ShiftFields):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    type: str | None = None


class ShiftOut(LazyModel):
    """Only the fields that matter for the shift type are returned, as OnCall does."""

    model_config = ConfigDict(extra="allow")
    id: str
    team_id: str | None
    schedule: str | None
    schedule_id: str | None  # Tocsin: the same as schedule
    name: str
    type: str
    time_zone: str | None
    start: str
    duration: int
    rotation_start: str


class FinalShiftOut(LazyModel):
    user_pk: str | None
    user_email: str | None
    user_username: str | None
    shift_start: str
    shift_end: str
    shift_id: str | None = None  # Tocsin
    is_override: bool = False  # Tocsin
    is_gap: bool = False  # Tocsin (rows with no user; only with include_gaps=true)


class IcalImportIn(Lenient):
    """A calendar to import as a layer of a schedule: its text, or a URL to fetch it from."""

    content: str | None = Field(default=None, max_length=2 * 1024 * 1024)
    url: CalendarUrl | None = None
    level: int | None = Field(default=None, ge=-100_000, le=100_000)  # default: above the schedule's layers
    as_overrides: bool = False
