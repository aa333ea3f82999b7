"""Use cases of the API for on-call schedules and their shifts (OnCall's ``/api/v1/schedules/`` and
``/api/v1/on_call_shifts/``), the resolved timeline (``final_shifts``), who is on call now, and iCalendar feeds
and imports. Each takes the store port and plain values and returns plain dicts (or text/calendar strings).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from oncall import ids
from oncall.api.logic import ApiError, not_found
from oncall.api.pagination import paginate_list
from oncall.api.request import RequestInfo
from oncall.models import User
from oncall.ports import Store
from oncall.schedules import engine, recurrence, rotation
from oncall.schedules.models import (
    FREQUENCIES,
    SCHEDULE_PREFIX,
    SHIFT_PREFIX,
    SHIFT_TYPES,
    WEEKDAYS,
    OnCallShift,
    Schedule,
)
from oncall.schemas import schedules as schemas

if TYPE_CHECKING:
    from oncall.outbound.client import Client

PAGE_SIZE = 50
MAX_RANGE_DAYS = 90
MAX_SHIFTS_PER_SCHEDULE = 500
EXPORT_PAST = timedelta(days=7)
EXPORT_FUTURE = timedelta(days=90)
RECURRENCE_FIELDS = ("frequency", "interval", "until", "week_start", "by_day", "by_month", "by_monthday")
# The fields OnCall's public API returns for each type, in its order (week_start only for weekly shifts).
SHIFT_FIELDS: dict[str, tuple[str, ...]] = {
    "single_event": ("level", "users"),
    "recurrent_event": ("level", *RECURRENCE_FIELDS, "users", "restrict_hours"),
    "rolling_users": (
        "level",
        *RECURRENCE_FIELDS,
        "rolling_users",
        "start_rotation_from_user_index",
        "restrict_hours",
    ),
    "override": ("users",),
}
WEB_OVERRIDE_LEVEL = 99  # what OnCall gives overrides made in its web UI: they win over the API's (level 0)


# --- shapes -------------------------------------------------------------------------------------------------------


def _zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wall(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") if moment is not None else None


def shift_out(shift: OnCallShift) -> dict[str, Any]:
    """OnCall's shape: the keys of the shift's type (``schedule``, ``rotation_start``, ...); Tocsin adds
    ``schedule_id`` (the same as ``schedule``), ``restrict_hours``, and ``until`` on the one-off types when set."""
    data: dict[str, Any] = {
        "id": shift.id,
        "team_id": shift.team_id,
        "schedule": shift.schedule_id,
        "schedule_id": shift.schedule_id,
        "name": shift.name,
        "type": shift.type,
        "time_zone": shift.time_zone,
        "start": _wall(shift.start),
        "duration": shift.duration,
        "rotation_start": _wall(shift.rotation_start or shift.start),
    }
    for name in SHIFT_FIELDS[shift.type]:
        value = getattr(shift, name)
        if name == "week_start" and shift.frequency != "weekly":
            continue
        if name == "until":
            value = _wall(value)
        elif name == "restrict_hours" and value is not None:
            value = value.model_dump(by_alias=True)
        elif isinstance(value, list) and not value and name.startswith("by_"):
            value = None
        data[name] = value
    if shift.type in ("single_event", "override") and shift.until is not None:
        data["until"] = _wall(shift.until)
    return schemas.ShiftOut.model_validate(data).model_dump(mode="json")


def schedule_out(schedule: Schedule, shifts: list[OnCallShift], now: datetime) -> dict[str, Any]:
    return schemas.ScheduleOut(
        id=schedule.id,
        team_id=schedule.team_id,
        name=schedule.name,
        type=schedule.type,
        time_zone=schedule.time_zone,
        on_call_now=engine.on_call_at(schedule, shifts, now),
        shifts=[s.id for s in shifts if s.source == "api"],
        ical_url_primary=schedule.ical_url_primary,
        ical_url_overrides=schedule.ical_url_overrides,
    ).model_dump(mode="json")


# --- checks -------------------------------------------------------------------------------------------------------


def _check_zone(field: str, name: str | None) -> None:
    if name is None:
        return
    try:
        engine.zone(name)
    except (ValueError, KeyError, OSError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise ApiError.field(field, f"Unknown time zone {name!r}: use an IANA name like Europe/Berlin.") from error


def _check_team(store: Store, team_id: str | None) -> None:
    if team_id and store.teams.get(team_id) is None:
        raise ApiError.field("team_id", f"Unknown ids: {team_id}")


def _check_users(store: Store, field: str, user_ids: Iterable[str]) -> None:
    unknown = [u for u in dict.fromkeys(user_ids) if store.users.get(u) is None]
    if unknown:
        raise ApiError.field(field, f"Unknown ids: {', '.join(unknown)}")


def _load_schedule(store: Store, schedule_id: str) -> Schedule:
    schedule = store.schedules.get(schedule_id)
    if schedule is None:
        raise not_found()
    return schedule


def _load_shift(store: Store, shift_id: str) -> OnCallShift:
    shift = store.shifts.get(shift_id)
    if shift is None:
        raise not_found()
    return shift


def _given(body: BaseModel) -> dict[str, Any]:
    return {name: getattr(body, name) for name in body.model_fields_set}


# --- schedules ----------------------------------------------------------------------------------------------------


def list_schedules(store: Store, request: RequestInfo, now: datetime) -> dict[str, Any]:
    items = store.schedules.list()
    if (team_id := request.first("team_id")) is not None:
        items = [s for s in items if (s.team_id or "") == team_id]
    if (name := request.first("name")) is not None:
        items = [s for s in items if s.name == name]
    return paginate_list(request, items, PAGE_SIZE, lambda s: schedule_out(s, store.shifts.of_schedule(s.id), now))


def get_schedule(store: Store, schedule_id: str, now: datetime) -> dict[str, Any]:
    schedule = _load_schedule(store, schedule_id)
    return schedule_out(schedule, store.shifts.of_schedule(schedule_id), now)


def _check_schedule(store: Store, schedule: Schedule, shift_ids: list[str] | None) -> list[OnCallShift]:
    """Check a schedule; returns the shifts to attach (when ``shift_ids`` is given). Names need not be unique
    (OnCall's need not either)."""
    _check_zone("time_zone", schedule.time_zone)
    _check_team(store, schedule.team_id)
    if schedule.type == "ical" and not schedule.ical_url_primary:
        raise ApiError.field("ical_url_primary", "This field is required for schedules of type ical.")
    attached: list[OnCallShift] = []
    for shift_id in dict.fromkeys(shift_ids or []):
        shift = store.shifts.get(shift_id)
        if shift is None:
            raise ApiError.field("shifts", f"Unknown ids: {shift_id}")
        attached.append(shift)
    return attached


def _attach(store: Store, schedule: Schedule, wanted: list[OnCallShift]) -> None:
    """Make ``wanted`` the API-made shifts of the schedule: attach them, detach the others."""
    wanted_ids = {s.id for s in wanted}
    for shift in store.shifts.of_schedule(schedule.id):
        if shift.source == "api" and shift.id not in wanted_ids:
            store.shifts.put(shift.model_copy(update={"schedule_id": None}))
    for shift in wanted:
        if shift.schedule_id != schedule.id:
            store.shifts.put(shift.model_copy(update={"schedule_id": schedule.id}))


def create_schedule(store: Store, body: schemas.ScheduleIn, now: datetime) -> dict[str, Any]:
    schedule = Schedule(
        id=ids.new_id(SCHEDULE_PREFIX),
        name=body.name,
        type=body.type,
        team_id=body.team_id,
        time_zone=body.time_zone or "UTC",
        ical_url_primary=body.ical_url_primary,
        ical_url_overrides=body.ical_url_overrides,
    )
    attached = _check_schedule(store, schedule, body.shifts)
    store.schedules.put(schedule, new=True)
    if body.shifts is not None:
        _attach(store, schedule, attached)
    return get_schedule(store, schedule.id, now)


def update_schedule(store: Store, schedule_id: str, body: schemas.SchedulePatch, now: datetime) -> dict[str, Any]:
    schedule = _load_schedule(store, schedule_id)
    changes = {
        k: v
        for k, v in _given(body).items()
        if k in ("name", "type", "team_id", "time_zone", "ical_url_primary", "ical_url_overrides")
    }
    if changes.get("time_zone", "") is None:
        changes["time_zone"] = "UTC"
    if changes.get("name", "") is None or changes.get("type", "") is None:
        raise ApiError.field("name" if changes.get("name", "") is None else "type", "This field may not be null.")
    schedule = schedule.model_copy(update=changes)
    attached = _check_schedule(store, schedule, body.shifts)
    store.schedules.put(schedule)
    if body.shifts is not None:
        _attach(store, schedule, attached)
    return get_schedule(store, schedule_id, now)


def delete_schedule(store: Store, schedule_id: str) -> None:
    """The schedule and its shifts (escalation steps naming it then report that it does not exist)."""
    _load_schedule(store, schedule_id)
    for shift in store.shifts.of_schedule(schedule_id):
        store.shifts.delete(shift.id)
    store.schedules.delete(schedule_id)


# --- on-call shifts -----------------------------------------------------------------------------------------------


def _all_shifts(store: Store) -> list[OnCallShift]:
    found = [s for schedule in store.schedules.list() for s in store.shifts.of_schedule(schedule.id)]
    return found + store.shifts.of_schedule(None)


def list_shifts(store: Store, request: RequestInfo) -> dict[str, Any]:
    schedule_id = request.first("schedule_id")
    items = store.shifts.of_schedule(schedule_id) if schedule_id else _all_shifts(store)
    if (name := request.first("name")) is not None:
        items = [s for s in items if s.name == name]
    if (team_id := request.first("team_id")) is not None:
        items = [s for s in items if (s.team_id or "") == team_id]
    return paginate_list(request, items, PAGE_SIZE, shift_out)


def get_shift(store: Store, shift_id: str) -> dict[str, Any]:
    return shift_out(_load_shift(store, shift_id))


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
            raise ApiError.field("frequency", f"A shift of type {kind} does not recur; leave frequency out.")
        return
    if frequency not in FREQUENCIES:
        raise ApiError.field("frequency", f"Use one of: {', '.join(FREQUENCIES)}.")
    if not isinstance(data["interval"], int) or data["interval"] < 1:
        raise ApiError.field("interval", "Ensure this value is greater than or equal to 1.")
    if bad := [d for d in data["by_day"] if d not in WEEKDAYS]:
        raise ApiError.field("by_day", f"Unknown days {', '.join(bad)}: use {', '.join(WEEKDAYS)}.")
    if data["week_start"] not in WEEKDAYS:
        raise ApiError.field("week_start", f"Use one of: {', '.join(WEEKDAYS)}.")
    if any(not 1 <= m <= 12 for m in data["by_month"]):
        raise ApiError.field("by_month", "Months are 1 to 12.")
    if any(d == 0 or not -31 <= d <= 31 for d in data["by_monthday"]):
        raise ApiError.field("by_monthday", "Days of the month are 1 to 31 (or -1 to -31 from the end).")
    if kind == "rolling_users" and frequency == "daily":  # OnCall's limits on daily rotations
        if data["by_monthday"]:
            raise ApiError.field(
                "by_monthday",
                "Day limits are temporarily disabled for on-call shifts with type 'rolling_users' and frequency "
                "'daily'.",
            )
        if data["by_day"] and data["interval"] > len(data["by_day"]):
            raise ApiError.field("interval", "Interval must be less than or equal to the number of selected days.")
    rule = recurrence.Rule(
        frequency, data["interval"], tuple(data["by_day"]), tuple(data["by_month"]), tuple(data["by_monthday"]),
        data["week_start"],
    )  # fmt: skip
    if not recurrence.repeats(rule, data["start"]):
        raise ApiError.field(
            "frequency",
            "This recurrence does not happen again within 8 years of start: check by_day, by_month, by_monthday "
            "and interval.",
        )


def _check_people(store: Store, data: dict[str, Any]) -> None:
    if data["type"] == "rolling_users":
        if not data["rolling_users"] and data["users"]:
            data["rolling_users"] = [[u] for u in data["users"]]  # one person per turn
        data["users"] = []
        groups = data["rolling_users"]
        if not groups or any(not group for group in groups):
            raise ApiError.field("rolling_users", "List at least one group, and at least one user in each group.")
        _check_users(store, "rolling_users", [u for group in groups for u in group])
        index = data["start_rotation_from_user_index"]
        if not 0 <= index < len(groups):
            raise ApiError.field("start_rotation_from_user_index", f"Must be between 0 and {len(groups) - 1}.")
        return
    if not data["users"] and data["rolling_users"]:
        data["users"] = [u for group in data["rolling_users"] for u in group]
    data["rolling_users"] = []
    data["start_rotation_from_user_index"] = 0
    if not data["users"]:
        raise ApiError.field("users", "List at least one user.")
    _check_users(store, "users", data["users"])


def _checked_shift(store: Store, data: dict[str, Any]) -> OnCallShift:
    """A valid shift from merged fields, or an ApiError naming the first bad field."""
    data = _normalized(data)
    if data.get("type") not in SHIFT_TYPES:
        raise ApiError.field("type", f"Use one of: {', '.join(SHIFT_TYPES)}.")
    schedule: Schedule | None = None
    if data.get("schedule_id"):
        schedule = store.schedules.get(data["schedule_id"])
        if schedule is None:
            raise ApiError.field("schedule_id", f"Unknown ids: {data['schedule_id']}")
    _check_team(store, data.get("team_id"))
    _check_zone("time_zone", data.get("time_zone"))
    zone_name = data.get("time_zone") or (schedule.time_zone if schedule else "UTC")
    start = data.get("start")
    if isinstance(start, datetime) and start.tzinfo is not None:  # an instant: as wall-clock time
        data["start"] = start.astimezone(engine.zone(zone_name)).replace(tzinfo=None)
    for name in ("until", "rotation_start"):  # UTC, as OnCall reads them
        moment = data.get(name)
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            data[name] = moment.astimezone(UTC).replace(tzinfo=None)
    if data.get("start") is None:
        raise ApiError.field("start", "This field is required.")
    duration = data.get("duration")
    if not isinstance(duration, int) or duration <= 0:
        raise ApiError.field("duration", "Duration must be a positive number of seconds.")
    if duration > 366 * 86_400:
        raise ApiError.field("duration", "A shift lasts at most a year.")
    _check_recurrence(data)
    rules = data.get("restrict_hours")
    if rules and rules["from"] == rules["to"]:
        raise ApiError.field("restrict_hours", "from and to must differ.")
    _check_people(store, data)
    siblings = store.shifts.of_schedule(data.get("schedule_id"))  # names need not be unique (OnCall)
    if len([s for s in siblings if s.id != data["id"]]) >= MAX_SHIFTS_PER_SCHEDULE:
        raise ApiError.detail(f"A schedule has at most {MAX_SHIFTS_PER_SCHEDULE} shifts.")
    if data["type"] in ("single_event", "override"):
        data.update(frequency=None, by_day=[], by_month=[], by_monthday=[], restrict_hours=None)
    if data["type"] == "override":
        _check_override(data)
    try:
        shift = OnCallShift.model_validate(data)
    except ValidationError as error:  # what the checks above let through (e.g. a wrong type)
        problem = error.errors()[0]
        raise ApiError.field(
            str(problem["loc"][0]) if problem["loc"] else "non_field_errors", problem["msg"]
        ) from error
    try:
        rotation.calendar_events(engine.spec(schedule or Schedule(id="-", name="-", time_zone=zone_name), shift))
    except rotation.TooManyTurns as error:
        raise ApiError.field(
            "rotation_start", f"rotation_start is more than {rotation.MAX_STEPS} turns after start."
        ) from error
    except OverflowError as error:  # dates near the year 1 or 9999
        raise ApiError.field("start", "The shift's dates are out of range.") from error
    return shift


def _check_override(data: dict[str, Any]) -> None:
    """OnCall's overrides: level 0, or 99 for those made in its web UI, which also start their turn at start."""
    rotation_start = data.get("rotation_start")
    if data["origin"] == "web":
        data.update(level=WEB_OVERRIDE_LEVEL, rotation_start=None)
    elif rotation_start is not None and rotation_start > data["start"]:
        # OnCall loops forever on such an override: refuse it.
        raise ApiError.field("rotation_start", "An override's rotation_start cannot be after its start.")
    else:
        data["level"] = 0


def _given_shift(body: schemas.ShiftFields) -> dict[str, Any]:
    """The fields a shift body sets. OnCall's write-only ``source`` (0 web UI, 1 API, 2 Slack, 3 Terraform)
    becomes ``origin``; as in OnCall, every write that does not say 0 makes the shift an API one."""
    given = _given(body)
    given["origin"] = "web" if given.pop("source", None) == 0 else "api"
    return given


def create_shift(store: Store, body: schemas.ShiftIn) -> dict[str, Any]:
    data = _given_shift(body) | {"name": body.name, "type": body.type, "id": ids.new_id(SHIFT_PREFIX), "source": "api"}
    shift = _checked_shift(store, data)
    store.shifts.put(shift, new=True)
    return shift_out(shift)


def update_shift(store: Store, shift_id: str, body: schemas.ShiftPatch) -> dict[str, Any]:
    shift = _load_shift(store, shift_id)
    data = shift.model_dump() | _given_shift(body)
    if data.get("type") in ("single_event", "override") and "frequency" not in body.model_fields_set:
        data["frequency"] = None  # the type no longer recurs
    if data.get("name") is None or data.get("type") is None:
        raise ApiError.field("name" if data.get("name") is None else "type", "This field may not be null.")
    updated = _checked_shift(store, data)
    store.shifts.put(updated)
    return shift_out(updated)


def delete_shift(store: Store, shift_id: str) -> None:
    _load_shift(store, shift_id)
    store.shifts.delete(shift_id)


# --- the resolved timeline ----------------------------------------------------------------------------------------


def _date(field: str, raw: str | None, default: date) -> date:
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise ApiError.field(field, "Use the format YYYY-MM-DD.") from error


def date_range(start_date: str | None, end_date: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[start_date 00:00 UTC, the day after end_date 00:00 UTC); both dates included, at most 90 days."""
    first = _date("start_date", start_date, now.astimezone(UTC).date())
    last = _date("end_date", end_date, first + timedelta(days=6))
    if last < first:
        raise ApiError.field("end_date", "end_date must not be before start_date.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ApiError.field("end_date", f"The range can be at most {MAX_RANGE_DAYS} days.")
    return datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC)


def _users_by_id(store: Store) -> dict[str, User]:
    return {u.id: u for u in store.users.list()}


def final_shifts(store: Store, request: RequestInfo, schedule_id: str, now: datetime) -> dict[str, Any]:
    """``GET /schedules/{id}/final_shifts?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD`` (UTC dates, both included,
    at most 90 days; default: the week from today): one row per person and stretch, OnCall's shape.
    Tocsin: ``include_gaps=true`` adds rows without a user where nobody is on call."""
    schedule = _load_schedule(store, schedule_id)
    start, end = date_range(request.first("start_date"), request.first("end_date"), now)
    timeline = engine.final_shifts(schedule, store.shifts.of_schedule(schedule_id), start, end)
    users = _users_by_id(store)
    gaps = (request.first("include_gaps") or "").lower() in ("true", "1", "yes")
    rows: list[dict[str, Any]] = []
    for piece in timeline:
        common = {
            "shift_start": _zulu(piece.start),
            "shift_end": _zulu(piece.end),
            "shift_id": piece.shift_id,
            "is_override": piece.is_override,
        }
        if piece.is_gap and gaps:
            rows.append({"user_pk": None, "user_email": None, "user_username": None, "is_gap": True, **common})
        for user_id in piece.user_ids:
            user = users.get(user_id)
            rows.append(
                {
                    "user_pk": user_id,
                    "user_email": user.email if user else None,
                    "user_username": user.username if user else None,
                    **common,
                }
            )
    return paginate_list(request, rows, PAGE_SIZE, lambda r: schemas.FinalShiftOut(**r).model_dump(mode="json"))


def on_call_now(store: Store, schedule_id: str, now: datetime) -> list[str]:
    """Ids of the users on call at ``now``; 404 if there is no such schedule."""
    schedule = _load_schedule(store, schedule_id)
    return engine.on_call_at(schedule, store.shifts.of_schedule(schedule_id), now)


# --- iCalendar ----------------------------------------------------------------------------------------------------


def _export_window(now: datetime) -> tuple[datetime, datetime]:
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    return today - EXPORT_PAST, today + EXPORT_FUTURE


def export_schedule(store: Store, schedule_id: str, now: datetime) -> str:
    """The schedule's resolved timeline from a week ago to 90 days ahead, as text/calendar."""
    schedule = _load_schedule(store, schedule_id)
    start, end = _export_window(now)
    timeline = engine.final_shifts(schedule, store.shifts.of_schedule(schedule_id), start, end)
    from oncall.schedules import ical  # icalendar only for the calls that need it (cold starts)

    return ical.export_schedule(schedule, timeline, _users_by_id(store), now)


def export_user(store: Store, user_id: str, now: datetime) -> str:
    """One person's on-call stretches in every schedule, a week ago to 90 days ahead, as text/calendar."""
    user = store.users.get(user_id)
    if user is None:
        raise not_found()
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


def import_ical(
    store: Store,
    schedule_id: str,
    content: str | bytes,
    now: datetime,
    *,
    level: int | None = None,
    as_overrides: bool = False,
) -> dict[str, Any]:
    """Import a calendar as a layer of the schedule (or as overrides), replacing what the previous import of
    the same kind brought. Default level: above the schedule's other layers. Returns a report."""
    schedule = _load_schedule(store, schedule_id)
    existing = store.shifts.of_schedule(schedule_id)
    source = "ical_overrides" if as_overrides else "ical"
    if level is None:
        levels = [s.level for s in existing if s.source == "api" and not s.is_override]
        level = max(levels) + 1 if levels else 0
    from oncall.schedules import ical

    try:
        imported = ical.import_calendar(
            content,
            schedule,
            store.users.list(),
            level=level,
            as_overrides=as_overrides,
            now=now,
            new_id=lambda: ids.new_id(SHIFT_PREFIX),
        )
    except ical.IcalError as error:
        raise ApiError.field("content", str(error)) from error
    replaced = [s for s in existing if s.source == source]
    for shift in replaced:
        store.shifts.delete(shift.id)
    for shift in imported.shifts:
        store.shifts.put(shift, new=True)
    return {
        "schedule_id": schedule_id,
        "level": level,
        "as_overrides": as_overrides,
        "created": len(imported.shifts),
        "replaced": len(replaced),
        "shifts": [s.id for s in imported.shifts],
        "unknown_users": imported.unknown_users,
        "skipped": imported.skipped,
    }


def import_ical_url(
    store: Store,
    schedule_id: str,
    url: str,
    now: datetime,
    *,
    client: Client | None = None,
    level: int | None = None,
    as_overrides: bool = False,
) -> dict[str, Any]:
    """Fetch a calendar (:func:`oncall.schedules.ical.fetch`) and import it as :func:`import_ical` does."""
    _load_schedule(store, schedule_id)
    from oncall.schedules import ical

    try:
        content = ical.fetch(url, client=client)
    except ical.IcalError as error:
        raise ApiError.field("url", str(error)) from error
    return import_ical(store, schedule_id, content, now, level=level, as_overrides=as_overrides)


def import_calendar(
    store: Store, schedule_id: str, body: schemas.IcalImportIn, now: datetime, *, client: Client | None = None
) -> dict[str, Any]:
    """``POST /schedules/{id}/import``: ``{"content": "BEGIN:VCALENDAR..."}`` or ``{"url": "https://..."}``."""
    if (body.content is None) == (body.url is None):
        raise ApiError.field("content", "Give either content (the calendar) or url (where to fetch it).")
    if body.url is not None:
        return import_ical_url(
            store, schedule_id, body.url, now, client=client, level=body.level, as_overrides=body.as_overrides
        )
    assert body.content is not None
    return import_ical(store, schedule_id, body.content, now, level=body.level, as_overrides=body.as_overrides)


def refresh_ical(store: Store, schedule_id: str, now: datetime, *, client: Client | None = None) -> dict[str, Any]:
    """Re-import a schedule's ``ical_url_primary`` (as a layer) and ``ical_url_overrides`` (as overrides)."""
    schedule = _load_schedule(store, schedule_id)
    report: dict[str, Any] = {"primary": None, "overrides": None}
    if schedule.ical_url_primary:
        report["primary"] = import_ical_url(store, schedule_id, schedule.ical_url_primary, now, client=client)
    if schedule.ical_url_overrides:
        report["overrides"] = import_ical_url(
            store, schedule_id, schedule.ical_url_overrides, now, client=client, as_overrides=True
        )
    return report
