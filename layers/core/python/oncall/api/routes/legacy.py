"""Routes of the management API not yet moved to their resource's router (:mod:`oncall.api.routes`): they check
the caller at the entry point (``oncall.access`` guards) and call the use cases of :mod:`oncall.api`. Each resource's
router and use cases in :mod:`oncall.services` replace their part of this module, until nothing is left of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import access, escalation, feeds, http, schemas
from oncall.api import action_links, directory, logic, responders
from oncall.api import schedules as schedules_api
from oncall.api.request import ApiRequest, RequestInfo, current, ports_of
from oncall.errors import PermissionDenied
from oncall.models import ApiKey
from oncall.schemas import schedules as schedule_schemas
from oncall.services.policy import Principal

PREFIX = "/api/v1"


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    def request() -> ApiRequest:
        return current(api)

    def store() -> Any:
        return request().ports.store

    def executor() -> Any:
        return request().ports.executor

    def scheduler() -> Any:
        return request().ports.scheduler

    def authenticator() -> access.Authenticator:
        return request().ports.authenticator

    def request_info() -> RequestInfo:
        return request().info

    def caller() -> Principal:
        return request().principal

    def actor() -> str:
        return caller().user_id

    def now() -> datetime:
        return request().now

    def feed_out(kind: feeds.FeedKind, entity_id: str) -> dict[str, str]:
        """A calendar feed URL for the caller's key (made again, it is the same URL; it dies with the key)."""
        key: ApiKey = request().key
        token = feeds.feed_token(kind, entity_id, key.key_hash, request().ports.signing_key())
        return {
            "token": token,
            "export_url": feeds.feed_url(request().base_url, kind, entity_id, token),
        }

    def guard_rule_owner(user_id: str) -> None:
        if caller().role != "admin" and user_id != caller().user_id:
            raise PermissionDenied("You can only change your own notification rules.")

    def ok(body: Any, status: int = 200) -> Response[Any]:
        return Response(status_code=status, content_type="application/json", body=body)

    @api.get(f"{PREFIX}/alert_groups")
    def list_alert_groups() -> schemas.AlertGroupPage:
        return logic.list_groups(store(), request_info())  # type: ignore[return-value]

    @api.get(f"{PREFIX}/alert_groups/<group_id>")
    def get_alert_group(group_id: str) -> schemas.AlertGroupOut:
        return logic.get_group(store(), request_info(), group_id)  # type: ignore[return-value]

    @api.get(f"{PREFIX}/alert_groups/<group_id>/timeline")
    def alert_group_timeline(group_id: str) -> list[schemas.TimelineOut]:
        return logic.group_timeline(store(), group_id)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/alert_groups/<group_id>")
    def delete_alert_group(group_id: str) -> Response[None]:
        raw = api.current_event.json_body if api.current_event.body else None
        mode = schemas.DeleteGroupIn.model_validate(raw or {}).mode
        logic.delete_group(store(), group_id, mode, actor(), now())
        return Response(204)

    @api.post(f"{PREFIX}/alert_groups/<group_id>/<action>")
    def alert_group_action(group_id: str, action: str) -> schemas.AlertGroupOut:
        if action not in (*logic.actions.ACTIONS, "silence"):
            raise logic.not_found()
        body = api.current_event.json_body if api.current_event.body else None
        return logic.act_on_group(
            store(), executor(), scheduler(), request_info(), group_id, action, actor(), request().ports.clock, body
        )  # type: ignore[return-value]

    @api.get(f"{PREFIX}/alerts")
    def list_alerts() -> schemas.AlertPage:
        return logic.list_alerts(store(), request_info())  # type: ignore[return-value]

    # --- teams, users, notification rules ---------------------------------------------------------------------------

    @api.get(f"{PREFIX}/teams")
    def list_teams() -> dict[str, Any]:
        items = store().teams.list()
        return directory.listing(store(), request_info(), directory.TEAMS, items, {"name": lambda t, v: t.name == v})

    @api.post(f"{PREFIX}/teams")
    def create_team(body: Annotated[schemas.TeamIn, Body()]) -> Response[schemas.TeamOut]:
        return ok(directory.create_team(store(), body), 201)

    @api.get(f"{PREFIX}/teams/<team_id>")
    def get_team(team_id: str) -> schemas.TeamOut:
        return directory.TEAMS.out(directory.load(store(), directory.TEAMS, team_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/teams/<team_id>", method=["PUT", "PATCH"])
    def update_team(team_id: str, body: Annotated[schemas.TeamPatch, Body()]) -> schemas.TeamOut:
        return directory.update_team(store(), team_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/teams/<team_id>")
    def delete_team(team_id: str) -> Response[None]:
        directory.load(store(), directory.TEAMS, team_id)
        store().teams.delete(team_id)
        return Response(204)

    @api.get(f"{PREFIX}/users")
    def list_users() -> dict[str, Any]:
        items = store().users.list()
        return directory.listing(
            store(),
            request_info(),
            directory.USERS,
            items,
            {"email": lambda u, v: u.email == v, "username": lambda u, v: u.username == v},
        )

    @api.post(f"{PREFIX}/users")
    def create_user(body: Annotated[schemas.UserIn, Body()]) -> Response[schemas.UserOut]:
        return ok(directory.create_user(store(), body), 201)

    @api.get(f"{PREFIX}/users/<user_id>")
    def get_user(user_id: str) -> schemas.UserOut:
        user_id = actor() if user_id == "current" else user_id
        return directory.USERS.out(directory.load(store(), directory.USERS, user_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/users/<user_id>", method=["PUT", "PATCH"])
    def update_user(user_id: str, body: Annotated[schemas.UserPatch, Body()]) -> schemas.UserOut:
        return directory.update_user(store(), user_id, body, caller())  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/users/<user_id>")
    def delete_user(user_id: str) -> Response[None]:
        directory.delete_user(store(), user_id)
        return Response(204)

    @api.get(f"{PREFIX}/personal_notification_rules")
    def list_rules() -> dict[str, Any]:
        return directory.list_rules(store(), request_info())

    @api.post(f"{PREFIX}/personal_notification_rules")
    def create_rule(body: Annotated[schemas.NotificationRuleIn, Body()]) -> Response[schemas.NotificationRuleOut]:
        guard_rule_owner(body.user_id)
        return ok(directory.create_rule(store(), body), 201)

    @api.get(f"{PREFIX}/personal_notification_rules/<rule_id>")
    def get_rule(rule_id: str) -> schemas.NotificationRuleOut:
        return directory.RULES.out(directory.load(store(), directory.RULES, rule_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/personal_notification_rules/<rule_id>", method=["PUT", "PATCH"])
    def update_rule(
        rule_id: str, body: Annotated[schemas.NotificationRulePatch, Body()]
    ) -> schemas.NotificationRuleOut:
        guard_rule_owner(directory.load(store(), directory.RULES, rule_id).user_id)
        return directory.update_rule(store(), rule_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/personal_notification_rules/<rule_id>")
    def delete_rule(rule_id: str) -> Response[None]:
        guard_rule_owner(directory.load(store(), directory.RULES, rule_id).user_id)
        directory.delete_rule(store(), rule_id)
        return Response(204)

    # --- on-call schedules and shifts ------------------------------------------------------------------------------

    def _calendar(text: str) -> Response[str]:
        return Response(200, "text/calendar; charset=utf-8", text)

    @api.get(f"{PREFIX}/schedules")
    def list_schedules() -> dict[str, Any]:
        return schedules_api.list_schedules(store(), request_info(), now())

    @api.post(f"{PREFIX}/schedules")
    def create_schedule(body: Annotated[schedule_schemas.ScheduleIn, Body()]) -> Response[schedule_schemas.ScheduleOut]:
        access.check_team(caller(), body.team_id)
        return ok(schedules_api.create_schedule(store(), body, now()), 201)

    @api.get(f"{PREFIX}/schedules/<schedule_id>")
    def get_schedule(schedule_id: str) -> schedule_schemas.ScheduleOut:
        return schedules_api.get_schedule(store(), schedule_id, now())  # type: ignore[return-value]

    @api.route(f"{PREFIX}/schedules/<schedule_id>", method=["PUT", "PATCH"])
    def update_schedule(
        schedule_id: str, body: Annotated[schedule_schemas.SchedulePatch, Body()]
    ) -> schedule_schemas.ScheduleOut:
        guard_schedule(schedule_id)
        return schedules_api.update_schedule(store(), schedule_id, body, now())  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/schedules/<schedule_id>")
    def delete_schedule(schedule_id: str) -> Response[None]:
        guard_schedule(schedule_id)
        schedules_api.delete_schedule(store(), schedule_id)
        return Response(204)

    @api.get(f"{PREFIX}/schedules/<schedule_id>/final_shifts")
    def schedule_final_shifts(schedule_id: str) -> dict[str, Any]:
        return schedules_api.final_shifts(store(), request_info(), schedule_id, now())

    @api.get(f"{PREFIX}/schedules/<schedule_id>/export")
    def export_schedule(schedule_id: str) -> Response[str]:
        return _calendar(schedules_api.export_schedule(store(), schedule_id, now()))

    @api.post(f"{PREFIX}/schedules/<schedule_id>/export_token")
    def schedule_feed(schedule_id: str) -> Response[dict[str, str]]:
        """Tocsin: a calendar feed URL of the schedule (the ``?token=`` stands for the caller's API key)."""
        schedules_api.get_schedule(store(), schedule_id, now())  # 404 for an unknown schedule
        return Response(201, "application/json", feed_out("schedule", schedule_id))

    @api.post(f"{PREFIX}/schedules/<schedule_id>/import")
    def import_schedule_calendar(
        schedule_id: str, body: Annotated[schedule_schemas.IcalImportIn, Body()]
    ) -> dict[str, Any]:
        guard_schedule(schedule_id)
        return schedules_api.import_calendar(store(), schedule_id, body, now())

    @api.get(f"{PREFIX}/users/<user_id>/schedule_export")
    def export_user_schedule(user_id: str) -> Response[str]:
        return _calendar(schedules_api.export_user(store(), user_id, now()))

    @api.post(f"{PREFIX}/users/<user_id>/schedule_export_token")
    def user_feed(user_id: str) -> Response[dict[str, str]]:
        """Tocsin: a calendar feed URL of one person's shifts in every schedule."""
        if store().users.get(user_id) is None:
            raise logic.not_found()
        return Response(201, "application/json", feed_out("user", user_id))

    @api.get(f"{PREFIX}/on_call_shifts")
    def list_shifts() -> dict[str, Any]:
        return schedules_api.list_shifts(store(), request_info())

    @api.post(f"{PREFIX}/on_call_shifts")
    def create_shift(body: Annotated[schedule_schemas.ShiftIn, Body()]) -> Response[schedule_schemas.ShiftOut]:
        access.check_team(caller(), body.team_id)
        return ok(schedules_api.create_shift(store(), body), 201)

    @api.get(f"{PREFIX}/on_call_shifts/<shift_id>")
    def get_shift(shift_id: str) -> schedule_schemas.ShiftOut:
        return schedules_api.get_shift(store(), shift_id)  # type: ignore[return-value]

    @api.route(f"{PREFIX}/on_call_shifts/<shift_id>", method=["PUT", "PATCH"])
    def update_shift(shift_id: str, body: Annotated[schedule_schemas.ShiftPatch, Body()]) -> schedule_schemas.ShiftOut:
        return schedules_api.update_shift(store(), shift_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/on_call_shifts/<shift_id>")
    def delete_shift(shift_id: str) -> Response[None]:
        schedules_api.delete_shift(store(), shift_id)
        return Response(204)

    def guard_schedule(schedule_id: str) -> None:

        schedule = store().schedules.get(schedule_id)
        if schedule is not None:
            access.check_team(caller(), schedule.team_id)

    @api.get(f"{PREFIX}/api_keys")
    def list_api_keys() -> dict[str, Any]:
        return directory.list_keys(store(), request_info(), caller())

    @api.post(f"{PREFIX}/api_keys")
    def create_api_key(body: Annotated[schemas.ApiKeyIn, Body()]) -> Response[schemas.ApiKeyOut]:
        return ok(directory.create_key(store(), body, caller(), now()), 201)

    @api.delete(f"{PREFIX}/api_keys/<key_id>")
    def revoke_api_key(key_id: str) -> Response[None]:
        directory.revoke_key(store(), key_id, caller())
        authenticator().forget()  # this container stops accepting it at once; others within their 60 s cache
        return Response(204)

    @api.get(f"{PREFIX}/audit_log")
    def audit_log() -> dict[str, Any]:
        return directory.audit_log(store(), request_info(), now().strftime("%Y-%m-%d"))

    @api.post(f"{PREFIX}/escalation")
    def direct_paging(body: Annotated[schemas.EscalationIn, Body()]) -> schemas.AlertGroupOut:
        return responders.page(services(), request_info(), caller(), body, now())  # type: ignore[return-value]

    @api.post(f"{PREFIX}/alert_groups/bulk_action")
    def bulk_action(body: Annotated[schemas.BulkActionIn, Body()]) -> schemas.BulkActionOut:
        return responders.bulk_action(services(), scheduler(), caller(), body)  # type: ignore[return-value]

    def services() -> escalation.Services:

        base = http.base_url(api.current_event.raw_event)
        return escalation.Services(
            store(),
            executor(),
            notifier=None,
            public_url=base,
            signing_key=request().ports.signing_key,
            clock=request().ports.clock,
        )

    # --- signed action links from notifications -------------------------------------------------------------------

    def _html(status_and_page: tuple[int, str]) -> Response[str]:
        status, page = status_and_page
        return Response(status, "text/html; charset=utf-8", page, headers={"Cache-Control": "no-store"})

    @api.get("/actions/<token>", include_in_schema=False)
    def action_link_page(token: str) -> Response[str]:
        ports = ports_of(api)
        return _html(action_links.confirm(ports.store, token, ports.signing_key(), ports.clock.now()))

    @api.post("/actions/<token>", include_in_schema=False)
    def action_link_submit(token: str) -> Response[str]:
        ports = ports_of(api)
        return _html(action_links.perform(ports.store, ports.executor, token, ports.signing_key(), ports.clock))

    def signing_key() -> bytes:
        return request().ports.signing_key()

    return api
