"""Management API Lambda: ``/api/v1/...`` (OnCall-compatible), authenticated by API key."""

import json
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import access, escalation, feeds, http, schemas, telemetry
from oncall.access import READ_METHODS, AccessDenied, Actor, authorize
from oncall.api import action_links, directory, logic, responders
from oncall.api import schedules as schedules_api
from oncall.container import Container
from oncall.executor import Executor
from oncall.models import ApiKey
from oncall.ports import StoreError
from oncall.scheduler import Scheduler
from oncall.schemas import schedules as schedule_schemas
from oncall.store.dynamodb import DynamoStore

PREFIX = "/api/v1"
logger = telemetry.handler_logger()
container = Container()  # this environment's settings, store, authenticator, executor, scheduler and clock
tracer = telemetry.tracer(container.settings.tracing)
app = APIGatewayHttpResolver(enable_validation=True)


def store() -> DynamoStore:
    return container.store


def authenticator() -> access.Authenticator:
    return container.authenticator


def executor() -> Executor:
    return container.executor


def scheduler() -> Scheduler:
    return container.scheduler


def request_info() -> logic.RequestInfo:
    event = app.current_event
    return logic.RequestInfo(
        base_url=http.base_url(event.raw_event),
        path=event.path,
        query=parse_qs(event.raw_event.get("rawQueryString") or "", keep_blank_values=True),
        now=now(),
        inbound_domain=container.settings.inbound_email_domain,
    )


def caller() -> Actor:
    actor: Actor = app.context["actor"]
    return actor


def actor() -> str:
    return caller().user_id


def now() -> datetime:
    return container.clock.now()


def authenticate(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Key -> user -> role; per-key throttling; every successful change goes to the audit log."""
    event = resolver.current_event
    method, path = event.http_method.upper(), event.path.removeprefix(f"{PREFIX}/")
    actor, key = authenticator().authenticate(event.headers.get("authorization"))
    authenticator().throttle(key, now())
    authorize(actor, method, path)
    resolver.append_context(actor=actor, key=key)
    response = next_middleware(resolver)
    if method not in READ_METHODS and response.status_code < 400:
        access.audit(store(), actor, method, event.path, response.status_code, now())
    return response


FEED_PATH = re.compile(r"(?:schedules/(?P<schedule>[\w-]+)/export|users/(?P<user>[\w-]+)/schedule_export)/?")


def authenticate_feed(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The iCal exports: an API key header, or the ``token`` of a calendar feed URL (apps send no headers)."""
    event = resolver.current_event
    token = next(iter(request_info().query.get("token", [])), None)
    match = FEED_PATH.fullmatch(event.path.removeprefix(f"{PREFIX}/"))
    if token is None or match is None:
        return authenticate(resolver, next_middleware)
    kind: feeds.FeedKind = "schedule" if match["schedule"] else "user"
    try:
        key_hash = feeds.key_hash_of(token, kind, match["schedule"] or match["user"], container.signing_key())
    except feeds.InvalidFeedToken:
        raise AccessDenied(401, "Invalid token.") from None
    actor, key = authenticator().by_hash(key_hash)
    authenticator().throttle(key, now())
    resolver.append_context(actor=actor, key=key)
    return next_middleware(resolver)


def feed_out(kind: feeds.FeedKind, entity_id: str) -> dict[str, str]:
    """A calendar feed URL for the caller's key (made again, it is the same URL; it dies with the key)."""
    key: ApiKey = app.context["key"]
    token = feeds.feed_token(kind, entity_id, key.key_hash, container.signing_key())
    return {
        "token": token,
        "export_url": feeds.feed_url(http.base_url(app.current_event.raw_event), kind, entity_id, token),
    }


def guard_integration(integration_id: str) -> None:
    """Editors change only integrations of their teams."""
    config = store().integrations.config(integration_id)
    if config is not None:
        caller().check_team(config.integration.team_id)


def guard_route(route_id: str) -> None:
    route = store().integrations.route(route_id)
    if route is not None:
        guard_integration(route.integration_id)


def guard_entity(resource: directory.Resource[Any], entity_id: str) -> None:
    entity = resource.repository(store()).get(entity_id)
    if entity is not None:
        caller().check_team(getattr(entity, "team_id", None))


def guard_policy(policy_id: str) -> None:
    policy = store().policies.get(policy_id)
    if policy is not None:
        guard_entity(directory.CHAINS, policy.escalation_chain_id)


def guard_rule_owner(user_id: str) -> None:
    if caller().role != "admin" and user_id != caller().user_id:
        raise AccessDenied(403, "You can only change your own notification rules.")


def ok(body: Any, status: int = 200) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


# --- errors -----------------------------------------------------------------------------------------------------


@app.exception_handler(logic.ApiError)
def api_error(error: logic.ApiError) -> Response:
    return ok(error.body, error.status)


@app.exception_handler(AccessDenied)
def access_denied(error: AccessDenied) -> Response[Any]:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return Response(error.status, "application/json", {"detail": str(error)}, headers=headers)


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    """DRF-style field errors: ``{"name": ["message"]}``."""
    return ok(logic.field_errors(error.errors()), 400)


@app.exception_handler(StoreError)
def store_error(error: StoreError) -> Response:
    logger.exception("storage failed")
    return ok({"detail": "Storage is unavailable; retry."}, 503)


@app.not_found
def not_found(_: Exception) -> Response:
    return ok({"detail": "Not found."}, 404)


# --- routes -----------------------------------------------------------------------------------------------------


@app.get(f"{PREFIX}/openapi.json", include_in_schema=False)
def openapi() -> dict[str, Any]:
    """The OpenAPI 3 document, generated from the pydantic models of :mod:`oncall.schemas`."""
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title="Tocsin API", version="1.0.0"))
    return document


@app.get(f"{PREFIX}/integrations", middlewares=[authenticate])
def list_integrations() -> schemas.IntegrationPage:
    return logic.list_integrations(store(), request_info())  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations", middlewares=[authenticate])
def create_integration(body: Annotated[schemas.IntegrationIn, Body()]) -> Response[schemas.IntegrationOut]:
    caller().check_team(body.team_id)
    return ok(logic.create_integration(store(), request_info(), body, now()), 201)


@app.get(f"{PREFIX}/integrations/<integration_id>", middlewares=[authenticate])
def get_integration(integration_id: str) -> schemas.IntegrationOut:
    return logic.get_integration(store(), request_info(), integration_id)  # type: ignore[return-value]


@app.route(f"{PREFIX}/integrations/<integration_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_integration(
    integration_id: str, body: Annotated[schemas.IntegrationPatch, Body()]
) -> schemas.IntegrationOut:
    guard_integration(integration_id)
    if "team_id" in body.model_fields_set:
        caller().check_team(body.team_id)
    return logic.update_integration(store(), request_info(), integration_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/integrations/<integration_id>", middlewares=[authenticate])
def delete_integration(integration_id: str) -> Response[None]:
    guard_integration(integration_id)
    logic.delete_integration(store(), integration_id)
    return Response(204)


@app.post(f"{PREFIX}/integrations/<integration_id>/send_demo_alert", middlewares=[authenticate])
def send_demo_alert(integration_id: str) -> schemas.DemoAlertOut:
    guard_integration(integration_id)
    raw = app.current_event.json_body if app.current_event.body else None
    payload = None
    if isinstance(raw, dict):
        payload = raw.get("demo_alert_payload", raw.get("payload"))
    return logic.send_demo_alert(store(), executor(), integration_id, payload, now())  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations/<integration_id>/regenerate_token", middlewares=[authenticate])
def regenerate_token(integration_id: str) -> schemas.IntegrationOut:
    guard_integration(integration_id)
    return logic.regenerate_token(store(), request_info(), integration_id)  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations/<integration_id>/maintenance_start", middlewares=[authenticate])
def maintenance_start(integration_id: str, body: Annotated[schemas.MaintenanceIn, Body()]) -> schemas.IntegrationOut:
    guard_integration(integration_id)
    return logic.start_maintenance(store(), scheduler(), request_info(), integration_id, body, actor(), now())  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations/<integration_id>/maintenance_stop", middlewares=[authenticate])
def maintenance_stop(integration_id: str) -> schemas.IntegrationOut:
    guard_integration(integration_id)
    return logic.stop_maintenance(store(), scheduler(), executor(), request_info(), integration_id, actor(), now())  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations/<integration_id>/heartbeat_reset", middlewares=[authenticate])
def heartbeat_reset(integration_id: str) -> schemas.IntegrationOut:
    guard_integration(integration_id)
    return logic.reset_heartbeat(store(), request_info(), integration_id)  # type: ignore[return-value]


@app.get(f"{PREFIX}/routes", middlewares=[authenticate])
def list_routes() -> schemas.RoutePage:
    return logic.list_routes(store(), request_info())  # type: ignore[return-value]


@app.post(f"{PREFIX}/routes", middlewares=[authenticate])
def create_route(body: Annotated[schemas.RouteIn, Body()]) -> Response[schemas.RouteOut]:
    guard_integration(body.integration_id)
    return ok(logic.create_route(store(), body), 201)


@app.get(f"{PREFIX}/routes/<route_id>", middlewares=[authenticate])
def get_route(route_id: str) -> schemas.RouteOut:
    return logic.get_route(store(), route_id)  # type: ignore[return-value]


@app.route(f"{PREFIX}/routes/<route_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_route(route_id: str, body: Annotated[schemas.RoutePatch, Body()]) -> schemas.RouteOut:
    guard_route(route_id)
    return logic.update_route(store(), route_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/routes/<route_id>", middlewares=[authenticate])
def delete_route(route_id: str) -> Response[None]:
    guard_route(route_id)
    logic.delete_route(store(), route_id)
    return Response(204)


@app.get(f"{PREFIX}/alert_groups", middlewares=[authenticate])
def list_alert_groups() -> schemas.AlertGroupPage:
    return logic.list_groups(store(), request_info())  # type: ignore[return-value]


@app.get(f"{PREFIX}/alert_groups/<group_id>", middlewares=[authenticate])
def get_alert_group(group_id: str) -> schemas.AlertGroupOut:
    return logic.get_group(store(), request_info(), group_id)  # type: ignore[return-value]


@app.get(f"{PREFIX}/alert_groups/<group_id>/timeline", middlewares=[authenticate])
def alert_group_timeline(group_id: str) -> list[schemas.TimelineOut]:
    return logic.group_timeline(store(), group_id)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/alert_groups/<group_id>", middlewares=[authenticate])
def delete_alert_group(group_id: str) -> Response[None]:
    raw = app.current_event.json_body if app.current_event.body else None
    mode = schemas.DeleteGroupIn.model_validate(raw or {}).mode
    logic.delete_group(store(), group_id, mode, actor(), now())
    return Response(204)


@app.post(f"{PREFIX}/alert_groups/<group_id>/<action>", middlewares=[authenticate])
def alert_group_action(group_id: str, action: str) -> schemas.AlertGroupOut:
    if action not in (*logic.actions.ACTIONS, "silence"):
        raise logic.not_found()
    body = app.current_event.json_body if app.current_event.body else None
    return logic.act_on_group(
        store(), executor(), scheduler(), request_info(), group_id, action, actor(), container.clock, body
    )  # type: ignore[return-value]


@app.get(f"{PREFIX}/alerts", middlewares=[authenticate])
def list_alerts() -> schemas.AlertPage:
    return logic.list_alerts(store(), request_info())  # type: ignore[return-value]


# --- teams, users, notification rules, escalation chains and policies, outgoing webhooks ---------------------------


@app.get(f"{PREFIX}/teams", middlewares=[authenticate])
def list_teams() -> dict[str, Any]:
    items = store().teams.list()
    return directory.listing(store(), request_info(), directory.TEAMS, items, {"name": lambda t, v: t.name == v})


@app.post(f"{PREFIX}/teams", middlewares=[authenticate])
def create_team(body: Annotated[schemas.TeamIn, Body()]) -> Response[schemas.TeamOut]:
    return ok(directory.create_team(store(), body), 201)


@app.get(f"{PREFIX}/teams/<team_id>", middlewares=[authenticate])
def get_team(team_id: str) -> schemas.TeamOut:
    return directory.TEAMS.out(directory.load(store(), directory.TEAMS, team_id))  # type: ignore[return-value]


@app.route(f"{PREFIX}/teams/<team_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_team(team_id: str, body: Annotated[schemas.TeamPatch, Body()]) -> schemas.TeamOut:
    return directory.update_team(store(), team_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/teams/<team_id>", middlewares=[authenticate])
def delete_team(team_id: str) -> Response[None]:
    directory.load(store(), directory.TEAMS, team_id)
    store().teams.delete(team_id)
    return Response(204)


@app.get(f"{PREFIX}/users", middlewares=[authenticate])
def list_users() -> dict[str, Any]:
    items = store().users.list()
    return directory.listing(
        store(),
        request_info(),
        directory.USERS,
        items,
        {"email": lambda u, v: u.email == v, "username": lambda u, v: u.username == v},
    )


@app.post(f"{PREFIX}/users", middlewares=[authenticate])
def create_user(body: Annotated[schemas.UserIn, Body()]) -> Response[schemas.UserOut]:
    return ok(directory.create_user(store(), body), 201)


@app.get(f"{PREFIX}/users/<user_id>", middlewares=[authenticate])
def get_user(user_id: str) -> schemas.UserOut:
    user_id = actor() if user_id == "current" else user_id
    return directory.USERS.out(directory.load(store(), directory.USERS, user_id))  # type: ignore[return-value]


@app.route(f"{PREFIX}/users/<user_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_user(user_id: str, body: Annotated[schemas.UserPatch, Body()]) -> schemas.UserOut:
    return directory.update_user(store(), user_id, body, caller())  # type: ignore[return-value]


@app.delete(f"{PREFIX}/users/<user_id>", middlewares=[authenticate])
def delete_user(user_id: str) -> Response[None]:
    directory.delete_user(store(), user_id)
    return Response(204)


@app.get(f"{PREFIX}/personal_notification_rules", middlewares=[authenticate])
def list_rules() -> dict[str, Any]:
    return directory.list_rules(store(), request_info())


@app.post(f"{PREFIX}/personal_notification_rules", middlewares=[authenticate])
def create_rule(body: Annotated[schemas.NotificationRuleIn, Body()]) -> Response[schemas.NotificationRuleOut]:
    guard_rule_owner(body.user_id)
    return ok(directory.create_rule(store(), body), 201)


@app.get(f"{PREFIX}/personal_notification_rules/<rule_id>", middlewares=[authenticate])
def get_rule(rule_id: str) -> schemas.NotificationRuleOut:
    return directory.RULES.out(directory.load(store(), directory.RULES, rule_id))  # type: ignore[return-value]


@app.route(f"{PREFIX}/personal_notification_rules/<rule_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_rule(rule_id: str, body: Annotated[schemas.NotificationRulePatch, Body()]) -> schemas.NotificationRuleOut:
    guard_rule_owner(directory.load(store(), directory.RULES, rule_id).user_id)
    return directory.update_rule(store(), rule_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/personal_notification_rules/<rule_id>", middlewares=[authenticate])
def delete_rule(rule_id: str) -> Response[None]:
    guard_rule_owner(directory.load(store(), directory.RULES, rule_id).user_id)
    directory.delete_rule(store(), rule_id)
    return Response(204)


@app.get(f"{PREFIX}/escalation_chains", middlewares=[authenticate])
def list_chains() -> dict[str, Any]:
    items = store().chains.list()
    return directory.listing(store(), request_info(), directory.CHAINS, items, {"name": lambda c, v: c.name == v})


@app.post(f"{PREFIX}/escalation_chains", middlewares=[authenticate])
def create_chain(body: Annotated[schemas.ChainIn, Body()]) -> Response[schemas.ChainOut]:
    caller().check_team(body.team_id)
    return ok(directory.create_chain(store(), body), 201)


@app.get(f"{PREFIX}/escalation_chains/<chain_id>", middlewares=[authenticate])
def get_chain(chain_id: str) -> schemas.ChainOut:
    return directory.CHAINS.out(directory.load(store(), directory.CHAINS, chain_id))  # type: ignore[return-value]


@app.route(f"{PREFIX}/escalation_chains/<chain_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_chain(chain_id: str, body: Annotated[schemas.ChainPatch, Body()]) -> schemas.ChainOut:
    guard_entity(directory.CHAINS, chain_id)
    return directory.update_chain(store(), chain_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/escalation_chains/<chain_id>", middlewares=[authenticate])
def delete_chain(chain_id: str) -> Response[None]:
    guard_entity(directory.CHAINS, chain_id)
    directory.delete_chain(store(), chain_id)
    return Response(204)


@app.get(f"{PREFIX}/escalation_policies", middlewares=[authenticate])
def list_policies() -> dict[str, Any]:
    return directory.list_policies(store(), request_info())


@app.post(f"{PREFIX}/escalation_policies", middlewares=[authenticate])
def create_policy(body: Annotated[schemas.PolicyIn, Body()]) -> Response[schemas.PolicyOut]:
    guard_entity(directory.CHAINS, body.escalation_chain_id)
    return ok(directory.create_policy(store(), body), 201)


@app.get(f"{PREFIX}/escalation_policies/<policy_id>", middlewares=[authenticate])
def get_policy(policy_id: str) -> schemas.PolicyOut:
    return directory.POLICIES.out(directory.load(store(), directory.POLICIES, policy_id))  # type: ignore[return-value]


@app.route(f"{PREFIX}/escalation_policies/<policy_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_policy(policy_id: str, body: Annotated[schemas.PolicyPatch, Body()]) -> schemas.PolicyOut:
    guard_policy(policy_id)
    return directory.update_policy(store(), policy_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/escalation_policies/<policy_id>", middlewares=[authenticate])
def delete_policy(policy_id: str) -> Response[None]:
    guard_policy(policy_id)
    directory.delete_policy(store(), policy_id)
    return Response(204)


@app.get(f"{PREFIX}/webhooks", middlewares=[authenticate])
def list_webhooks() -> dict[str, Any]:
    items = store().webhooks.list()
    return directory.listing(store(), request_info(), directory.WEBHOOKS, items, {"name": lambda w, v: w.name == v})


@app.post(f"{PREFIX}/webhooks", middlewares=[authenticate])
def create_webhook(body: Annotated[schemas.WebhookIn, Body()]) -> Response[schemas.WebhookOut]:
    caller().check_team(body.team_id)
    return ok(directory.create_webhook(store(), body), 201)


@app.get(f"{PREFIX}/webhooks/<webhook_id>", middlewares=[authenticate])
def get_webhook(webhook_id: str) -> schemas.WebhookOut:
    return directory.WEBHOOKS.out(directory.load(store(), directory.WEBHOOKS, webhook_id))  # type: ignore[return-value]


@app.route(f"{PREFIX}/webhooks/<webhook_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_webhook(webhook_id: str, body: Annotated[schemas.WebhookPatch, Body()]) -> schemas.WebhookOut:
    guard_entity(directory.WEBHOOKS, webhook_id)
    return directory.update_webhook(store(), webhook_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/webhooks/<webhook_id>", middlewares=[authenticate])
def delete_webhook(webhook_id: str) -> Response[None]:
    guard_entity(directory.WEBHOOKS, webhook_id)
    directory.load(store(), directory.WEBHOOKS, webhook_id)
    store().webhooks.delete(webhook_id)
    return Response(204)


# --- on-call schedules and shifts ------------------------------------------------------------------------------


def _calendar(text: str) -> Response[str]:
    return Response(200, "text/calendar; charset=utf-8", text)


@app.get(f"{PREFIX}/schedules", middlewares=[authenticate])
def list_schedules() -> dict[str, Any]:
    return schedules_api.list_schedules(store(), request_info(), now())


@app.post(f"{PREFIX}/schedules", middlewares=[authenticate])
def create_schedule(body: Annotated[schedule_schemas.ScheduleIn, Body()]) -> Response[schedule_schemas.ScheduleOut]:
    caller().check_team(body.team_id)
    return ok(schedules_api.create_schedule(store(), body, now()), 201)


@app.get(f"{PREFIX}/schedules/<schedule_id>", middlewares=[authenticate])
def get_schedule(schedule_id: str) -> schedule_schemas.ScheduleOut:
    return schedules_api.get_schedule(store(), schedule_id, now())  # type: ignore[return-value]


@app.route(f"{PREFIX}/schedules/<schedule_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_schedule(
    schedule_id: str, body: Annotated[schedule_schemas.SchedulePatch, Body()]
) -> schedule_schemas.ScheduleOut:
    guard_schedule(schedule_id)
    return schedules_api.update_schedule(store(), schedule_id, body, now())  # type: ignore[return-value]


@app.delete(f"{PREFIX}/schedules/<schedule_id>", middlewares=[authenticate])
def delete_schedule(schedule_id: str) -> Response[None]:
    guard_schedule(schedule_id)
    schedules_api.delete_schedule(store(), schedule_id)
    return Response(204)


@app.get(f"{PREFIX}/schedules/<schedule_id>/final_shifts", middlewares=[authenticate])
def schedule_final_shifts(schedule_id: str) -> dict[str, Any]:
    return schedules_api.final_shifts(store(), request_info(), schedule_id, now())


@app.get(f"{PREFIX}/schedules/<schedule_id>/export", middlewares=[authenticate_feed])
def export_schedule(schedule_id: str) -> Response[str]:
    return _calendar(schedules_api.export_schedule(store(), schedule_id, now()))


@app.post(f"{PREFIX}/schedules/<schedule_id>/export_token", middlewares=[authenticate])
def schedule_feed(schedule_id: str) -> Response[dict[str, str]]:
    """Tocsin: a calendar feed URL of the schedule (the ``?token=`` stands for the caller's API key)."""
    schedules_api.get_schedule(store(), schedule_id, now())  # 404 for an unknown schedule
    return Response(201, "application/json", feed_out("schedule", schedule_id))


@app.post(f"{PREFIX}/schedules/<schedule_id>/import", middlewares=[authenticate])
def import_schedule_calendar(
    schedule_id: str, body: Annotated[schedule_schemas.IcalImportIn, Body()]
) -> dict[str, Any]:
    guard_schedule(schedule_id)
    return schedules_api.import_calendar(store(), schedule_id, body, now())


@app.get(f"{PREFIX}/users/<user_id>/schedule_export", middlewares=[authenticate_feed])
def export_user_schedule(user_id: str) -> Response[str]:
    return _calendar(schedules_api.export_user(store(), user_id, now()))


@app.post(f"{PREFIX}/users/<user_id>/schedule_export_token", middlewares=[authenticate])
def user_feed(user_id: str) -> Response[dict[str, str]]:
    """Tocsin: a calendar feed URL of one person's shifts in every schedule."""
    if store().users.get(user_id) is None:
        raise logic.not_found()
    return Response(201, "application/json", feed_out("user", user_id))


@app.get(f"{PREFIX}/on_call_shifts", middlewares=[authenticate])
def list_shifts() -> dict[str, Any]:
    return schedules_api.list_shifts(store(), request_info())


@app.post(f"{PREFIX}/on_call_shifts", middlewares=[authenticate])
def create_shift(body: Annotated[schedule_schemas.ShiftIn, Body()]) -> Response[schedule_schemas.ShiftOut]:
    caller().check_team(body.team_id)
    return ok(schedules_api.create_shift(store(), body), 201)


@app.get(f"{PREFIX}/on_call_shifts/<shift_id>", middlewares=[authenticate])
def get_shift(shift_id: str) -> schedule_schemas.ShiftOut:
    return schedules_api.get_shift(store(), shift_id)  # type: ignore[return-value]


@app.route(f"{PREFIX}/on_call_shifts/<shift_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_shift(shift_id: str, body: Annotated[schedule_schemas.ShiftPatch, Body()]) -> schedule_schemas.ShiftOut:
    return schedules_api.update_shift(store(), shift_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/on_call_shifts/<shift_id>", middlewares=[authenticate])
def delete_shift(shift_id: str) -> Response[None]:
    schedules_api.delete_shift(store(), shift_id)
    return Response(204)


def guard_schedule(schedule_id: str) -> None:

    schedule = store().schedules.get(schedule_id)
    if schedule is not None:
        caller().check_team(schedule.team_id)


@app.get(f"{PREFIX}/api_keys", middlewares=[authenticate])
def list_api_keys() -> dict[str, Any]:
    return directory.list_keys(store(), request_info(), caller())


@app.post(f"{PREFIX}/api_keys", middlewares=[authenticate])
def create_api_key(body: Annotated[schemas.ApiKeyIn, Body()]) -> Response[schemas.ApiKeyOut]:
    return ok(directory.create_key(store(), body, caller(), now()), 201)


@app.delete(f"{PREFIX}/api_keys/<key_id>", middlewares=[authenticate])
def revoke_api_key(key_id: str) -> Response[None]:
    directory.revoke_key(store(), key_id, caller())
    authenticator().forget()  # this container stops accepting it at once; others within their 60 s cache
    return Response(204)


@app.get(f"{PREFIX}/audit_log", middlewares=[authenticate])
def audit_log() -> dict[str, Any]:
    return directory.audit_log(store(), request_info(), now().strftime("%Y-%m-%d"))


@app.post(f"{PREFIX}/escalation", middlewares=[authenticate])
def direct_paging(body: Annotated[schemas.EscalationIn, Body()]) -> schemas.AlertGroupOut:
    return responders.page(services(), request_info(), caller(), body, now())  # type: ignore[return-value]


@app.post(f"{PREFIX}/alert_groups/bulk_action", middlewares=[authenticate])
def bulk_action(body: Annotated[schemas.BulkActionIn, Body()]) -> schemas.BulkActionOut:
    return responders.bulk_action(services(), scheduler(), caller(), body)  # type: ignore[return-value]


def services() -> escalation.Services:

    base = http.base_url(app.current_event.raw_event)
    return escalation.Services(
        store(), executor(), notifier=None, public_url=base, signing_key=container.signing_key, clock=container.clock
    )


# --- signed action links from notifications -------------------------------------------------------------------


def _html(status_and_page: tuple[int, str]) -> Response[str]:
    status, page = status_and_page
    return Response(status, "text/html; charset=utf-8", page, headers={"Cache-Control": "no-store"})


@app.get("/actions/<token>", include_in_schema=False)
def action_link_page(token: str) -> Response[str]:
    return _html(action_links.confirm(store(), token, signing_key(), now()))


@app.post("/actions/<token>", include_in_schema=False)
def action_link_submit(token: str) -> Response[str]:
    return _html(action_links.perform(store(), executor(), token, signing_key(), container.clock))


def signing_key() -> bytes:
    return container.signing_key()


def _normalise(event: dict[str, Any]) -> dict[str, Any]:
    """OnCall clients use trailing slashes (``/api/v1/integrations/``); our routes are declared without."""
    raw_path = event.get("rawPath", "")
    if len(raw_path) > 1 and raw_path.endswith("/"):
        event["rawPath"] = raw_path.rstrip("/")
        http_context = event.get("requestContext", {}).get("http", {})
        if "path" in http_context:
            http_context["path"] = http_context["path"].rstrip("/")
    return event


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(_normalise(event), context)
