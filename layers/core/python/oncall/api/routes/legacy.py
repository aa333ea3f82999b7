"""Routes of the management API not yet moved to their resource's router (:mod:`oncall.api.routes`): they check
the caller at the entry point (``oncall.access`` guards) and call the use cases of :mod:`oncall.api`. Each resource's
router and use cases in :mod:`oncall.services` replace their part of this module, until nothing is left of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import access, escalation, http, schemas
from oncall.api import action_links, directory, logic, responders
from oncall.api.request import ApiRequest, RequestInfo, current, ports_of
from oncall.errors import PermissionDenied
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
