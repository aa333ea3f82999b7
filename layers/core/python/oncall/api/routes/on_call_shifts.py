"""``/api/v1/on_call_shifts``: OnCall's on-call shifts API over :mod:`oncall.services.schedules`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.schedules.models import OnCallShift
from oncall.schemas import schedules as schemas
from oncall.services import schedules

PATH = "/api/v1/on_call_shifts"
PAGE_SIZE = 50
RECURRENCE_FIELDS: Final = ("frequency", "interval", "until", "week_start", "by_day", "by_month", "by_monthday")
# The fields OnCall's public API returns for each type, in its order (week_start only for weekly shifts).
SHIFT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
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


def _wall(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") if moment is not None else None


def shift_out(shift: OnCallShift) -> schemas.ShiftOut:
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
    return schemas.ShiftOut.model_validate(data)


def _json(shift: OnCallShift) -> dict[str, Any]:
    return shift_out(shift).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_shifts() -> dict[str, Any]:
        request = current(api)
        found = schedules.list_shifts(
            request.ports,
            request.principal,
            schedule_id=request.first("schedule_id"),
            name=request.first("name"),
            team_id=request.first("team_id"),
        )
        return paginate_list(request.info, found, PAGE_SIZE, _json)

    @api.post(PATH)
    def create_shift(body: Annotated[schemas.ShiftIn, Body()]) -> Response[schemas.ShiftOut]:
        request = current(api)
        shift = schedules.create_shift(request.ports, request.principal, body)
        return Response(201, "application/json", _json(shift))

    @api.get(f"{PATH}/<shift_id>")
    def get_shift(shift_id: str) -> schemas.ShiftOut:
        request = current(api)
        return _json(schedules.get_shift(request.ports, request.principal, shift_id))  # type: ignore[return-value]

    @api.route(f"{PATH}/<shift_id>", method=["PUT", "PATCH"])
    def update_shift(shift_id: str, body: Annotated[schemas.ShiftPatch, Body()]) -> schemas.ShiftOut:
        request = current(api)
        shift = schedules.update_shift(request.ports, request.principal, shift_id, body)
        return _json(shift)  # type: ignore[return-value]  # with the type's own keys (extra="allow")

    @api.delete(f"{PATH}/<shift_id>")
    def delete_shift(shift_id: str) -> Response[None]:
        request = current(api)
        schedules.delete_shift(request.ports, request.principal, shift_id)
        return Response(204)

    return api
