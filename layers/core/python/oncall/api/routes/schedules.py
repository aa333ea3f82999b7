"""``/api/v1/schedules`` (and ``/api/v1/users/{id}/schedule_export``, a person's shifts in every schedule):
OnCall's schedules API, final shifts and iCalendar feeds over :mod:`oncall.services.schedules`.

The iCal exports also answer a calendar feed URL's ``?token=`` instead of a key (the app's middleware reads it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall.api.pagination import paginate_list
from oncall.api.request import ApiRequest, current
from oncall.feeds import FeedKind
from oncall.schemas import schedules as schemas
from oncall.services import schedules
from oncall.services.schedules import FinalShiftRow, ScheduleView

PATH = "/api/v1/schedules"
PAGE_SIZE = 50
CALENDAR = "text/calendar; charset=utf-8"


def _zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_out(view: ScheduleView) -> schemas.ScheduleOut:
    schedule = view.schedule
    return schemas.ScheduleOut(
        id=schedule.id,
        team_id=schedule.team_id,
        name=schedule.name,
        type=schedule.type,
        time_zone=schedule.time_zone,
        on_call_now=view.on_call_now,
        shifts=view.shift_ids,
        ical_url_primary=schedule.ical_url_primary,
        ical_url_overrides=schedule.ical_url_overrides,
    )


def final_shift_out(row: FinalShiftRow) -> schemas.FinalShiftOut:
    """OnCall's row (``user_pk``, ``user_email``, ``user_username``, ``shift_start``, ``shift_end``; Tocsin adds
    ``shift_id``, ``is_override``, ``is_gap``); the console's timeline reads the same rows."""
    return schemas.FinalShiftOut(
        user_pk=row.user_id,
        user_email=row.email,
        user_username=row.username,
        shift_start=_zulu(row.start),
        shift_end=_zulu(row.end),
        shift_id=row.shift_id,
        is_override=row.is_override,
        is_gap=row.is_gap,
    )


def _json(view: ScheduleView) -> dict[str, Any]:
    return schedule_out(view).model_dump(mode="json")


def _calendar(text: str) -> Response[str]:
    return Response(200, CALENDAR, text)


def _feed(request: ApiRequest, kind: FeedKind, entity_id: str) -> Response[dict[str, str]]:
    """A calendar feed URL for the caller's key (made again, it is the same URL; it dies with the key)."""
    feed = schedules.calendar_feed(request.ports, request.principal, kind, entity_id, request.key.key_hash)
    return Response(201, "application/json", {"token": feed.token, "export_url": feed.url(request.base_url)})


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_schedules() -> dict[str, Any]:
        request = current(api)
        found = schedules.list_schedules(
            request.ports, request.principal, name=request.first("name"), team_id=request.first("team_id")
        )
        return paginate_list(request.info, found, PAGE_SIZE, _json)

    @api.post(PATH)
    def create_schedule(body: Annotated[schemas.ScheduleIn, Body()]) -> Response[schemas.ScheduleOut]:
        request = current(api)
        view = schedules.create_schedule(request.ports, request.principal, body)
        return Response(201, "application/json", _json(view))

    @api.get(f"{PATH}/<schedule_id>")
    def get_schedule(schedule_id: str) -> schemas.ScheduleOut:
        request = current(api)
        return schedule_out(schedules.get_schedule(request.ports, request.principal, schedule_id))

    @api.route(f"{PATH}/<schedule_id>", method=["PUT", "PATCH"])
    def update_schedule(schedule_id: str, body: Annotated[schemas.SchedulePatch, Body()]) -> schemas.ScheduleOut:
        request = current(api)
        return schedule_out(schedules.update_schedule(request.ports, request.principal, schedule_id, body))

    @api.delete(f"{PATH}/<schedule_id>")
    def delete_schedule(schedule_id: str) -> Response[None]:
        request = current(api)
        schedules.delete_schedule(request.ports, request.principal, schedule_id)
        return Response(204)

    @api.get(f"{PATH}/<schedule_id>/final_shifts")
    def final_shifts(schedule_id: str) -> dict[str, Any]:
        """``?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD`` (UTC, both included, at most 90 days; default: the week
        from today). Tocsin: ``include_gaps=true`` adds rows without a user where nobody is on call."""
        request = current(api)
        rows = schedules.final_shifts(
            request.ports,
            request.principal,
            schedule_id,
            start_date=request.first("start_date"),
            end_date=request.first("end_date"),
            include_gaps=(request.first("include_gaps") or "").lower() in ("true", "1", "yes"),
        )
        return paginate_list(request.info, rows, PAGE_SIZE, lambda row: final_shift_out(row).model_dump(mode="json"))

    @api.get(f"{PATH}/<schedule_id>/export")
    def export_schedule(schedule_id: str) -> Response[str]:
        request = current(api)
        return _calendar(schedules.export_schedule(request.ports, request.principal, schedule_id))

    @api.post(f"{PATH}/<schedule_id>/export_token")
    def schedule_feed(schedule_id: str) -> Response[dict[str, str]]:
        """Tocsin: a calendar feed URL of the schedule (the ``?token=`` stands for the caller's API key)."""
        return _feed(current(api), "schedule", schedule_id)

    @api.post(f"{PATH}/<schedule_id>/import")
    def import_calendar(schedule_id: str, body: Annotated[schemas.IcalImportIn, Body()]) -> dict[str, Any]:
        """``{"content": "BEGIN:VCALENDAR..."}`` or ``{"url": "https://..."}``, as a layer or ``as_overrides``."""
        request = current(api)
        report = schedules.import_calendar(request.ports, request.principal, schedule_id, body)
        return report.model_dump(mode="json")

    @api.get("/api/v1/users/<user_id>/schedule_export")
    def export_user_schedule(user_id: str) -> Response[str]:
        request = current(api)
        return _calendar(schedules.export_user(request.ports, request.principal, user_id))

    @api.post("/api/v1/users/<user_id>/schedule_export_token")
    def user_feed(user_id: str) -> Response[dict[str, str]]:
        """Tocsin: a calendar feed URL of one person's shifts in every schedule."""
        return _feed(current(api), "user", user_id)

    return api
