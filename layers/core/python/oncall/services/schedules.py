"""Use cases of on-call schedules and their shifts (OnCall's ``/schedules`` and ``/on_call_shifts``): the resolved
timeline (final shifts), who is on call, iCalendar feeds and imports; and who is on call for the escalation step.

Everyone reads every schedule and shift, and gets calendar feeds of them. Editors change the schedules of their
teams or of no team (admins: all). A shift belongs to its own team and to its schedule's team: changing it needs
the right in both, and in the new ones when it moves (to another team, or another schedule, which a schedule's
``shifts`` also does). Deleting a schedule deletes its shifts, so it needs the right over theirs too. The rows:
:mod:`oncall.services.policy`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, ValidationError

from oncall import feeds, ids
from oncall.directory import User
from oncall.errors import InvalidInput, NotFound
from oncall.lazy_model import LazyModel
from oncall.schedules import engine, recurrence, rotation
from oncall.schedules.models import (
    FREQUENCIES,
    SCHEDULE_PREFIX,
    SHIFT_PREFIX,
    SHIFT_TYPES,
    WEEKDAYS,
    OnCallShift,
    Schedule,
    calendar_fetch_url,
)
from oncall.services.policy import Action, Principal, Resource, authorize, existing
from oncall.services.references import require_known

if TYPE_CHECKING:
    from oncall.ports import Store
    from oncall.schemas.schedules import (
        IcalImportIn,
        ScheduleFields,
        ScheduleIn,
        SchedulePatch,
        ShiftFields,
        ShiftIn,
        ShiftPatch,
    )
    from oncall.services import Ports

MAX_RANGE_DAYS: Final = 90
MAX_SHIFTS_PER_SCHEDULE: Final = 500
EXPORT_PAST: Final = timedelta(days=7)
EXPORT_FUTURE: Final = timedelta(days=90)
WEB_OVERRIDE_LEVEL: Final = 99  # what OnCall gives overrides made in its web UI: they win over the API's (level 0)
SCHEDULE_FIELDS: Final = (
    "name",
    "type",
    "team_id",
    "time_zone",
    "ical_url_primary",
    "ical_url_overrides",
    "enable_web_overrides",
    "slack",
)
CALENDAR_URLS: Final = ("ical_url_primary", "ical_url_overrides")


class ScheduleView(LazyModel):
    """A schedule as its readers see it: who is on call now, and the shifts the API put in it (imported ones are
    not listed, as OnCall lists only a schedule's own shifts)."""

    schedule: Schedule
    on_call_now: list[str]
    shift_ids: list[str]


class FinalShiftRow(LazyModel):
    """One row of the resolved timeline: one person on call from ``start`` to ``end`` (UTC), or nobody (a gap)."""

    start: datetime
    end: datetime
    shift_id: str | None
    is_override: bool = False
    is_gap: bool = False
    user_id: str | None = None
    email: str | None = None  # None also for someone deleted since
    username: str | None = None


class Feed(LazyModel):
    """A calendar feed token: it reads one feed, as the API key it was made with, until that key is revoked."""

    kind: feeds.FeedKind
    entity_id: str
    token: str

    def url(self, base_url: str) -> str:
        return feeds.feed_url(base_url, self.kind, self.entity_id, self.token)


class ImportReport(LazyModel):
    """What a calendar import did: the layer's level, the shifts it made and replaced, the names matching nobody
    and the events it skipped (``{"uid", "summary", "reason"}``)."""

    schedule_id: str
    level: int
    as_overrides: bool
    created: int
    replaced: int
    shifts: list[str]
    unknown_users: list[str]
    skipped: list[dict[str, str]]


# --- loading and checks -------------------------------------------------------------------------------------------


def _schedule(
    store: Store, schedule_id: str, caller: Principal | None = None, action: Action = Action.READ
) -> Schedule:
    """The schedule; ``caller``: who will ``action`` it (unknown: 404 only to who may do that at all, else 403)."""
    return existing(store.schedules.get(schedule_id), caller, Resource.SCHEDULES, action)


def _shift(store: Store, shift_id: str, caller: Principal | None = None, action: Action = Action.READ) -> OnCallShift:
    """The shift; ``caller``: who will ``action`` it (unknown: 404 only to who may do that at all, else 403)."""
    return existing(store.shifts.get(shift_id), caller, Resource.SCHEDULES, action)


def _team_of_schedule(store: Store, schedule_id: str | None) -> str | None:
    """The team of the schedule a shift is in (None: no schedule, or none of that id: checked with the shift)."""
    schedule = store.schedules.get(schedule_id) if schedule_id else None
    return schedule.team_id if schedule else None


def _check_zone(field: str, name: str | None) -> None:
    if name is None:
        return
    try:
        engine.zone(name)
    except (ValueError, KeyError, OSError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput.field(field, "Invalid timezone") from error


def _check_rolling_users(store: Store, groups: list[list[str]]) -> None:
    """Each group's unknown users, in OnCall's words and shape: ``{"rolling_users": {"1": ["User does not exist
    {'U404'}"]}}`` (the index of the group)."""
    errors: dict[str, list[str]] = {}
    for index, group in enumerate(groups):
        unknown = [u for u in dict.fromkeys(group) if store.users.get(u) is None]
        if unknown:
            errors[str(index)] = [f"User does not exist {{{', '.join(map(repr, unknown))}}}"]
    if errors:
        raise InvalidInput.of_fields({"rolling_users": errors})


def _check_calendar_url(ports: Ports, field: str, url: str) -> None:
    """A calendar URL is refused when saved if the guarded client would refuse to fetch it (:mod:`oncall.outbound`:
    its scheme, and a host that is a private address in any notation; names are checked when fetched)."""
    from oncall.outbound import Refused, check_url

    try:
        check_url(calendar_fetch_url(url), ports.outbound.policy)
    except Refused as error:
        raise InvalidInput.field(field, error.message) from None


def _given(body: BaseModel) -> dict[str, Any]:
    return {name: getattr(body, name) for name in body.model_fields_set}


# --- schedules ----------------------------------------------------------------------------------------------------


def _view(store: Store, schedule: Schedule, now: datetime) -> ScheduleView:
    shifts = store.shifts.of_schedule(schedule.id)
    return ScheduleView(
        schedule=schedule,
        on_call_now=engine.on_call_at(schedule, shifts, now),
        shift_ids=[s.id for s in shifts if s.source == "api"],
    )


def list_schedules(
    ports: Ports, caller: Principal, *, name: str | None = None, team_id: str | None = None
) -> list[ScheduleView]:
    """Schedules by name; ``team_id`` filters by team ("": those of no team)."""
    authorize(caller, Resource.SCHEDULES, Action.READ)
    now = ports.clock.now()
    return [
        _view(ports.store, s, now)
        for s in ports.store.schedules.list()
        if (team_id is None or (s.team_id or "") == team_id) and (name is None or s.name == name)
    ]


def get_schedule(ports: Ports, caller: Principal, schedule_id: str) -> ScheduleView:
    authorize(caller, Resource.SCHEDULES, Action.READ)
    return _view(ports.store, _schedule(ports.store, schedule_id), ports.clock.now())


def _check_schedule(ports: Ports, schedule: Schedule, body: ScheduleFields) -> list[OnCallShift]:
    """Check a schedule; returns the shifts to attach (when the body gives ``shifts``). Names need not be unique
    (OnCall's need not either)."""
    for field in CALENDAR_URLS:
        url = getattr(body, field)
        if field in body.model_fields_set and url is not None:
            _check_calendar_url(ports, field, url)
    _check_zone("time_zone", schedule.time_zone)
    require_known("team_id", [schedule.team_id], ports.store.teams.get)
    if schedule.type == "ical" and not schedule.ical_url_primary:
        raise InvalidInput.field("ical_url_primary", "This field is required for schedules of type ical.")
    attached: list[OnCallShift] = []
    for shift_id in dict.fromkeys(body.shifts or []):
        shift = ports.store.shifts.get(shift_id)
        if shift is None:
            raise InvalidInput.field("shifts", f"Unknown ids: {shift_id}")
        attached.append(shift)
    return attached


def _moving(store: Store, schedule: Schedule, wanted: list[OnCallShift] | None) -> list[OnCallShift]:
    """The shifts, as stored, that making ``wanted`` the API-made shifts of ``schedule`` moves: those it takes from
    elsewhere, and its API-made ones left out (they go to no schedule). ``None`` (no ``shifts`` given): none."""
    if wanted is None:
        return []
    wanted_ids = {s.id for s in wanted}
    leaving = [s for s in store.shifts.of_schedule(schedule.id) if s.source == "api" and s.id not in wanted_ids]
    return leaving + [s for s in wanted if s.schedule_id != schedule.id]


def _authorize_moves(store: Store, caller: Principal, schedule: Schedule, moving: list[OnCallShift]) -> None:
    """Moving a shift changes it: the right over its team, the schedule it leaves and the one it joins."""
    if moving:
        teams = {schedule.team_id, *(s.team_id for s in moving)}
        teams |= {_team_of_schedule(store, s.schedule_id) for s in moving}
        authorize(caller, Resource.SCHEDULES, Action.UPDATE, teams=teams)


def _save(store: Store, schedule: Schedule, moving: list[OnCallShift], *, new: bool = False) -> None:
    store.schedules.put(schedule, new=new)
    for shift in moving:
        target = None if shift.schedule_id == schedule.id else schedule.id
        store.shifts.put(shift.model_copy(update={"schedule_id": target}))


def create_schedule(ports: Ports, caller: Principal, body: ScheduleIn) -> ScheduleView:
    authorize(caller, Resource.SCHEDULES, Action.CREATE, teams=[body.team_id])
    schedule = Schedule(
        id=ids.new_id(SCHEDULE_PREFIX),
        name=body.name,
        type=body.type,
        team_id=body.team_id,
        time_zone=body.time_zone or "UTC",
        ical_url_primary=body.ical_url_primary,
        ical_url_overrides=body.ical_url_overrides,
        enable_web_overrides=bool(body.enable_web_overrides),
        slack=body.slack.model_dump() if body.slack else None,
    )
    attached = _check_schedule(ports, schedule, body)
    moving = _moving(ports.store, schedule, attached if body.shifts is not None else None)
    _authorize_moves(ports.store, caller, schedule, moving)
    _save(ports.store, schedule, moving, new=True)
    return _view(ports.store, schedule, ports.clock.now())


def update_schedule(ports: Ports, caller: Principal, schedule_id: str, body: SchedulePatch) -> ScheduleView:
    schedule = _schedule(ports.store, schedule_id, caller, Action.UPDATE)
    changes = {k: v for k, v in _given(body).items() if k in SCHEDULE_FIELDS}
    to_team = changes.get("team_id", schedule.team_id)  # moving it to another team: the right in both
    authorize(caller, Resource.SCHEDULES, Action.UPDATE, teams=[schedule.team_id, to_team])
    if changes.get("time_zone", "") is None:
        changes["time_zone"] = "UTC"
    if "enable_web_overrides" in changes:
        changes["enable_web_overrides"] = bool(changes["enable_web_overrides"])
    if changes.get("slack") is not None:
        changes["slack"] = changes["slack"].model_dump()
    if changes.get("name", "") is None or changes.get("type", "") is None:
        raise InvalidInput.field("name" if changes.get("name", "") is None else "type", "This field may not be null.")
    schedule = schedule.model_copy(update=changes)
    attached = _check_schedule(ports, schedule, body)
    moving = _moving(ports.store, schedule, attached if body.shifts is not None else None)
    _authorize_moves(ports.store, caller, schedule, moving)
    _save(ports.store, schedule, moving)
    return _view(ports.store, schedule, ports.clock.now())


def delete_schedule(ports: Ports, caller: Principal, schedule_id: str) -> None:
    """The schedule and its shifts (escalation steps naming it then report that it does not exist)."""
    schedule = _schedule(ports.store, schedule_id, caller, Action.DELETE)
    shifts = ports.store.shifts.of_schedule(schedule_id)
    authorize(caller, Resource.SCHEDULES, Action.DELETE, teams=[schedule.team_id, *(s.team_id for s in shifts)])
    for shift in shifts:
        ports.store.shifts.delete(shift.id)
    ports.store.schedules.delete(schedule_id)


# --- on-call shifts -----------------------------------------------------------------------------------------------


def list_shifts(
    ports: Ports,
    caller: Principal,
    *,
    schedule_id: str | None = None,
    name: str | None = None,
    team_id: str | None = None,
) -> list[OnCallShift]:
    """The shifts of one schedule, or of every schedule then those in none; ``team_id`` "": those of no team."""
    authorize(caller, Resource.SCHEDULES, Action.READ)
    store = ports.store
    if schedule_id:
        found = store.shifts.of_schedule(schedule_id)
    else:
        found = [s for schedule in store.schedules.list() for s in store.shifts.of_schedule(schedule.id)]
        found += store.shifts.of_schedule(None)
    return [s for s in found if (name is None or s.name == name) and (team_id is None or (s.team_id or "") == team_id)]


def get_shift(ports: Ports, caller: Principal, shift_id: str) -> OnCallShift:
    authorize(caller, Resource.SCHEDULES, Action.READ)
    return _shift(ports.store, shift_id)


def _normalized(data: dict[str, Any]) -> dict[str, Any]:
    """Defaults for what a body left out or set to null."""
    defaults: dict[str, Any] = {
        "interval": 1,
        "level": 0,
        "week_start": "SU",  # OnCall's default
        "start_rotation_from_user_index": 0,
        "by_day": [],
        "by_month": [],
        "by_monthday": [],
        "users": [],
        "rolling_users": [],
    }
    out = {**data, **{k: v for k, v in defaults.items() if data.get(k) is None}}
    if isinstance(out.get("restrict_hours"), BaseModel):
        out["restrict_hours"] = out["restrict_hours"].model_dump(by_alias=True)
    out["by_day"] = [str(d).upper() for d in out["by_day"]]
    out["week_start"] = str(out["week_start"]).upper()
    return out


def _check_recurrence(data: dict[str, Any]) -> None:
    kind = data["type"]
    frequency = data.get("frequency")
    if kind in ("single_event", "override"):
        if frequency is not None:
            raise InvalidInput.field("frequency", f"A shift of type {kind} does not recur; leave frequency out.")
        return
    if frequency not in FREQUENCIES:
        raise InvalidInput.field("frequency", f"Use one of: {', '.join(FREQUENCIES)}.")
    if not isinstance(data["interval"], int) or data["interval"] < 1:
        raise InvalidInput.field("interval", "Ensure this value is greater than or equal to 1.")
    if bad := [d for d in data["by_day"] if d not in WEEKDAYS]:
        raise InvalidInput.field("by_day", f"Unknown days {', '.join(bad)}: use {', '.join(WEEKDAYS)}.")
    if data["week_start"] not in WEEKDAYS:
        raise InvalidInput.field("week_start", f"Use one of: {', '.join(WEEKDAYS)}.")
    if any(not 1 <= m <= 12 for m in data["by_month"]):
        raise InvalidInput.field("by_month", "Months are 1 to 12.")
    if any(d == 0 or not -31 <= d <= 31 for d in data["by_monthday"]):
        raise InvalidInput.field("by_monthday", "Days of the month are 1 to 31 (or -1 to -31 from the end).")
    if kind == "rolling_users" and frequency == "daily":
        _check_daily_rotation(data)
    rule = recurrence.Rule(
        frequency, data["interval"], tuple(data["by_day"]), tuple(data["by_month"]), tuple(data["by_monthday"]),
        data["week_start"],
    )  # fmt: skip
    if not recurrence.repeats(rule, data["start"]):
        raise InvalidInput.field(
            "frequency",
            "This recurrence does not happen again within 8 years of start: check by_day, by_month, by_monthday "
            "and interval.",
        )


def _check_daily_rotation(data: dict[str, Any]) -> None:
    """OnCall's limits on daily rotations."""
    if data["by_monthday"]:
        raise InvalidInput.field(
            "by_monthday",
            "Day limits are temporarily disabled for on-call shifts with type 'rolling_users' and frequency 'daily'.",
        )
    if data["by_day"] and data["interval"] > len(data["by_day"]):
        raise InvalidInput.field("interval", "Interval must be less than or equal to the number of selected days.")


def _check_people(store: Store, data: dict[str, Any]) -> None:
    if data["type"] == "rolling_users":
        if not data["rolling_users"] and data["users"]:
            data["rolling_users"] = [[u] for u in data["users"]]  # one person per turn
        data["users"] = []
        groups = data["rolling_users"]
        if not groups or any(not group for group in groups):
            raise InvalidInput.field("rolling_users", "List at least one group, and at least one user in each group.")
        _check_rolling_users(store, groups)
        index = data["start_rotation_from_user_index"]
        if not 0 <= index < len(groups):
            raise InvalidInput.field("start_rotation_from_user_index", f"Must be between 0 and {len(groups) - 1}.")
        return
    if not data["users"] and data["rolling_users"]:
        data["users"] = [u for group in data["rolling_users"] for u in group]
    data["rolling_users"] = []
    data["start_rotation_from_user_index"] = 0
    if not data["users"]:
        raise InvalidInput.field("users", "List at least one user.")
    require_known("users", dict.fromkeys(data["users"]), store.users.get)


def _check_times(data: dict[str, Any], zone_name: str) -> None:
    """Start (required) as wall-clock time of ``zone_name``, ``until`` and ``rotation_start`` as UTC (as OnCall
    reads them), and a duration of up to a year."""
    start = data.get("start")
    if isinstance(start, datetime) and start.tzinfo is not None:  # an instant: as wall-clock time
        data["start"] = start.astimezone(engine.zone(zone_name)).replace(tzinfo=None)
    for name in ("until", "rotation_start"):
        moment = data.get(name)
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            data[name] = moment.astimezone(UTC).replace(tzinfo=None)
    if data.get("start") is None:
        raise InvalidInput.field("start", "This field is required.")
    duration = data.get("duration")
    if not isinstance(duration, int) or duration <= 0:
        raise InvalidInput.field("duration", "Duration must be a positive number of seconds.")
    if duration > 366 * 86_400:
        raise InvalidInput.field("duration", "A shift lasts at most a year.")


def _checked_shift(store: Store, data: dict[str, Any]) -> OnCallShift:
    """A valid shift from merged fields, or InvalidInput naming the first bad field."""
    data = _normalized(data)
    if data.get("type") not in SHIFT_TYPES:
        raise InvalidInput.field("type", f"Use one of: {', '.join(SHIFT_TYPES)}.")
    schedule: Schedule | None = None
    if data.get("schedule_id"):
        schedule = store.schedules.get(data["schedule_id"])
        if schedule is None:
            raise InvalidInput.field("schedule_id", f"Unknown ids: {data['schedule_id']}")
    require_known("team_id", [data.get("team_id")], store.teams.get)
    _check_zone("time_zone", data.get("time_zone"))
    zone_name = data.get("time_zone") or (schedule.time_zone if schedule else "UTC")
    _check_times(data, zone_name)
    _check_recurrence(data)
    rules = data.get("restrict_hours")
    if rules and rules["from"] == rules["to"]:
        raise InvalidInput.field("restrict_hours", "from and to must differ.")
    _check_people(store, data)
    siblings = store.shifts.of_schedule(data.get("schedule_id"))  # names need not be unique (OnCall)
    if len([s for s in siblings if s.id != data["id"]]) >= MAX_SHIFTS_PER_SCHEDULE:
        raise InvalidInput(f"A schedule has at most {MAX_SHIFTS_PER_SCHEDULE} shifts.")
    if data["type"] in ("single_event", "override"):
        data.update(frequency=None, by_day=[], by_month=[], by_monthday=[], restrict_hours=None)
    if data["type"] == "override":
        _check_override(data)
    try:
        shift = OnCallShift.model_validate(data)
    except ValidationError as error:  # what the checks above let through (e.g. a wrong type)
        problem = error.errors()[0]
        raise InvalidInput.field(
            str(problem["loc"][0]) if problem["loc"] else "non_field_errors", problem["msg"]
        ) from error
    try:
        rotation.calendar_events(engine.spec(schedule or Schedule(id="-", name="-", time_zone=zone_name), shift))
    except rotation.TooManyTurns as error:
        raise InvalidInput.field(
            "rotation_start", f"rotation_start is more than {rotation.MAX_STEPS} turns after start."
        ) from error
    except OverflowError as error:  # dates near the year 1 or 9999
        raise InvalidInput.field("start", "The shift's dates are out of range.") from error
    return shift


def _check_override(data: dict[str, Any]) -> None:
    """OnCall's overrides: level 0, or 99 for those made in its web UI, which also start their turn at start."""
    rotation_start = data.get("rotation_start")
    if data["origin"] == "web":
        data.update(level=WEB_OVERRIDE_LEVEL, rotation_start=None)
    elif rotation_start is not None and rotation_start > data["start"]:
        # OnCall loops forever on such an override: refuse it.
        raise InvalidInput.field("rotation_start", "An override's rotation_start cannot be after its start.")
    else:
        data["level"] = 0


def _given_shift(body: ShiftFields) -> dict[str, Any]:
    """The fields a shift body sets. OnCall's write-only ``source`` (0 web UI, 1 API, 2 Slack, 3 Terraform)
    becomes ``origin``; as in OnCall, every write that does not say 0 makes the shift an API one."""
    given = _given(body)
    given["origin"] = "web" if given.pop("source", None) == 0 else "api"
    return given


def create_shift(ports: Ports, caller: Principal, body: ShiftIn) -> OnCallShift:
    teams = [body.team_id, _team_of_schedule(ports.store, body.schedule_id)]
    authorize(caller, Resource.SCHEDULES, Action.CREATE, teams=teams)
    data = _given_shift(body) | {"name": body.name, "type": body.type, "id": ids.new_id(SHIFT_PREFIX), "source": "api"}
    shift = _checked_shift(ports.store, data)
    ports.store.shifts.put(shift, new=True)
    return shift


def update_shift(ports: Ports, caller: Principal, shift_id: str, body: ShiftPatch) -> OnCallShift:
    store = ports.store
    shift = _shift(store, shift_id, caller, Action.UPDATE)
    data = shift.model_dump() | _given_shift(body)
    teams = {shift.team_id, _team_of_schedule(store, shift.schedule_id)}
    teams |= {data.get("team_id"), _team_of_schedule(store, data.get("schedule_id"))}  # where it moves, if it does
    authorize(caller, Resource.SCHEDULES, Action.UPDATE, teams=teams)
    if data.get("type") in ("single_event", "override") and "frequency" not in body.model_fields_set:
        data["frequency"] = None  # the type no longer recurs
    if data.get("name") is None or data.get("type") is None:
        raise InvalidInput.field("name" if data.get("name") is None else "type", "This field may not be null.")
    updated = _checked_shift(store, data)
    store.shifts.put(updated)
    return updated


def delete_shift(ports: Ports, caller: Principal, shift_id: str) -> None:
    shift = _shift(ports.store, shift_id, caller, Action.DELETE)
    teams = [shift.team_id, _team_of_schedule(ports.store, shift.schedule_id)]
    authorize(caller, Resource.SCHEDULES, Action.DELETE, teams=teams)
    ports.store.shifts.delete(shift_id)


# --- the resolved timeline ----------------------------------------------------------------------------------------


def _date(field: str, raw: str | None, default: date) -> date:
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise InvalidInput.field(field, "Use the format YYYY-MM-DD.") from error


def _date_range(start_date: str | None, end_date: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[start_date 00:00 UTC, the day after end_date 00:00 UTC); both dates included, at most 90 days."""
    first = _date("start_date", start_date, now.astimezone(UTC).date())
    last = _date("end_date", end_date, first + timedelta(days=6))
    if last < first:
        raise InvalidInput.field("end_date", "end_date must not be before start_date.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput.field("end_date", f"The range can be at most {MAX_RANGE_DAYS} days.")
    return datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC)


def _users_of(store: Store, timeline: list[engine.FinalShift]) -> dict[str, User]:
    """The people on call in ``timeline``, by id: keyed reads of them, not a listing of everyone."""
    return store.users.many(u for piece in timeline for u in piece.user_ids)


def final_shifts(
    ports: Ports,
    caller: Principal,
    schedule_id: str,
    *,
    start_date: str | None = None,
    end_date: str | None = None,
    include_gaps: bool = False,
) -> list[FinalShiftRow]:
    """The resolved timeline from ``start_date`` to ``end_date`` (``YYYY-MM-DD``, UTC, both included, at most 90
    days; default: the week from today): one row per person and stretch, as OnCall's ``final_shifts``; with
    ``include_gaps`` (Tocsin), rows of nobody where nobody is on call."""
    authorize(caller, Resource.SCHEDULES, Action.READ)
    schedule = _schedule(ports.store, schedule_id)
    start, end = _date_range(start_date, end_date, ports.clock.now())
    timeline = engine.final_shifts(schedule, ports.store.shifts.of_schedule(schedule_id), start, end)
    users = _users_of(ports.store, timeline)
    rows: list[FinalShiftRow] = []
    for piece in timeline:
        common: dict[str, Any] = {
            "start": piece.start,
            "end": piece.end,
            "shift_id": piece.shift_id,
            "is_override": piece.is_override,
        }
        if piece.is_gap and include_gaps:
            rows.append(FinalShiftRow(is_gap=True, **common))
        for user_id in piece.user_ids:
            user = users.get(user_id)
            email, username = (user.email, user.username) if user else (None, None)
            rows.append(FinalShiftRow(user_id=user_id, email=email, username=username, **common))
    return rows


# --- iCalendar ----------------------------------------------------------------------------------------------------


def _export_window(now: datetime) -> tuple[datetime, datetime]:
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    return today - EXPORT_PAST, today + EXPORT_FUTURE


def export_schedule(ports: Ports, caller: Principal, schedule_id: str) -> str:
    """The schedule's resolved timeline from a week ago to 90 days ahead, as text/calendar."""
    authorize(caller, Resource.SCHEDULES, Action.READ)
    schedule = _schedule(ports.store, schedule_id)
    now = ports.clock.now()
    start, end = _export_window(now)
    timeline = engine.final_shifts(schedule, ports.store.shifts.of_schedule(schedule_id), start, end)
    from oncall.schedules import ical  # icalendar only for the calls that need it (cold starts)

    return ical.export_schedule(schedule, timeline, _users_of(ports.store, timeline), now)


def export_user(ports: Ports, caller: Principal, user_id: str) -> str:
    """One person's on-call stretches in every schedule, a week ago to 90 days ahead, as text/calendar."""
    authorize(caller, Resource.SCHEDULES, Action.READ)
    store = ports.store
    user = store.users.get(user_id)
    if user is None:
        raise NotFound()
    now = ports.clock.now()
    start, end = _export_window(now)
    entries: list[tuple[Schedule, engine.FinalShift]] = []
    for schedule in store.schedules.list():
        shifts = store.shifts.of_schedule(schedule.id)
        if not any(user_id in group for shift in shifts for group in shift.groups()):
            continue
        entries.extend(
            (schedule, piece)
            for piece in engine.final_shifts(schedule, shifts, start, end)
            if user_id in piece.user_ids
        )
    entries.sort(key=lambda entry: (entry[1].start, entry[0].name))
    from oncall.schedules import ical

    return ical.export_user(user, entries, now)


def calendar_feed(ports: Ports, caller: Principal, kind: feeds.FeedKind, entity_id: str, key_hash: str) -> Feed:
    """A feed token of a schedule's export or a person's, standing for the caller's API key (by its hash): for
    calendar apps, which send no header. Everyone who reads schedules gets them."""
    authorize(caller, Resource.SCHEDULES, Action.READ)
    if kind == "schedule":
        _schedule(ports.store, entity_id)
    elif ports.store.users.get(entity_id) is None:
        raise NotFound()
    token = feeds.feed_token(kind, entity_id, key_hash, ports.signing_key())
    return Feed(kind=kind, entity_id=entity_id, token=token)


def import_calendar(ports: Ports, caller: Principal, schedule_id: str, body: IcalImportIn) -> ImportReport:
    """A calendar (``content``, or fetched from ``url`` through the guarded client) as a layer of the schedule, or
    as overrides, replacing what the previous import of the same kind brought. Default level: above the schedule's
    other layers."""
    store = ports.store
    schedule = _schedule(store, schedule_id, caller, Action.UPDATE)
    existing = store.shifts.of_schedule(schedule_id)
    source = "ical_overrides" if body.as_overrides else "ical"
    replaced = [s for s in existing if s.source == source]
    authorize(caller, Resource.SCHEDULES, Action.UPDATE, teams=[schedule.team_id, *(s.team_id for s in replaced)])
    if (body.content is None) == (body.url is None):
        raise InvalidInput.field("content", "Give either content (the calendar) or url (where to fetch it).")
    from oncall.schedules import ical  # icalendar only for the calls that need it (cold starts)

    content = body.content
    if body.url is not None:
        _check_calendar_url(ports, "url", body.url)
        try:
            content = ical.fetch(body.url, client=ports.outbound)
        except ical.IcalError as error:
            raise InvalidInput.field("url", str(error)) from error
    assert content is not None
    level = body.level
    if level is None:
        levels = [s.level for s in existing if s.source == "api" and not s.is_override]
        level = max(levels) + 1 if levels else 0
    try:
        imported = ical.import_calendar(
            content,
            schedule,
            store.users.list(),
            level=level,
            as_overrides=body.as_overrides,
            now=ports.clock.now(),
            new_id=lambda: ids.new_id(SHIFT_PREFIX),
        )
    except ical.IcalError as error:
        raise InvalidInput.field("content", str(error)) from error
    for shift in replaced:
        store.shifts.delete(shift.id)
    for shift in imported.shifts:
        store.shifts.put(shift, new=True)
    return ImportReport(
        schedule_id=schedule_id,
        level=level,
        as_overrides=body.as_overrides,
        created=len(imported.shifts),
        replaced=len(replaced),
        shifts=[s.id for s in imported.shifts],
        unknown_users=imported.unknown_users,
        skipped=imported.skipped,
    )


# --- who is on call, for the escalation step ------------------------------------------------------------------------


class ScheduleNotFound(NotFound):
    """No schedule has this id (it was deleted, or never existed)."""

    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"Schedule {schedule_id} does not exist")
        self.schedule_id = schedule_id


def users_on_call(store: Store, schedule_id: str, now: datetime) -> list[User]:
    """The users on call at ``now`` (aware), in the schedule's order; [] in a gap in coverage. For the escalation
    step ``notify_on_call_from_schedule``: the system pages them, no caller to authorize.

    Raises :class:`ScheduleNotFound` if there is no such schedule. Users deleted since they were put in a shift are
    left out.
    """
    schedule = store.schedules.get(schedule_id) if schedule_id else None
    if schedule is None:
        raise ScheduleNotFound(schedule_id)
    on_call = engine.on_call_at(schedule, store.shifts.of_schedule(schedule_id), now)
    users = [store.users.get(user_id) for user_id in on_call]
    return [u for u in users if u is not None]
