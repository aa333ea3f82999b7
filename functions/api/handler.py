"""Management API Lambda: ``/api/v1/...`` (OnCall-compatible), authenticated by API key."""


import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from oncall import http
from oncall.access import AccessDenied, Authenticator, authorize
from oncall.api import logic, schemas
from oncall.ports import StoreError
from oncall.store.dynamodb import DynamoStore

PREFIX = "/api/v1"
logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)
_store: DynamoStore | None = None
_authenticator: Authenticator | None = None


def store() -> DynamoStore:
    global _store
    if _store is None:
        _store = DynamoStore()
    return _store


def authenticator() -> Authenticator:
    global _authenticator
    if _authenticator is None:
        _authenticator = Authenticator(store())
    return _authenticator


def request_info() -> logic.RequestInfo:
    event = app.current_event
    return logic.RequestInfo(
        base_url=http.base_url(event.raw_event), path=event.path,
        query=parse_qs(event.raw_event.get("rawQueryString") or "", keep_blank_values=True),
    )  # fmt: skip


def actor() -> str:
    return str(app.context["api_key"].user_id)


def now() -> datetime:
    return datetime.now(UTC)


def authenticate(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    key = authenticator().authenticate(resolver.current_event.headers.get("authorization"))
    authorize(key, resolver.current_event.http_method)
    resolver.append_context(api_key=key)
    return next_middleware(resolver)


def ok(body: Any, status: int = 200) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


# --- errors -----------------------------------------------------------------------------------------------------


@app.exception_handler(logic.ApiError)
def api_error(error: logic.ApiError) -> Response:
    return ok(error.body, error.status)


@app.exception_handler(AccessDenied)
def access_denied(error: AccessDenied) -> Response:
    return ok({"detail": str(error)}, error.status)


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    """DRF-style field errors: ``{"name": ["message"]}``."""
    fields: dict[str, list[str]] = {}
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
        fields.setdefault(".".join(location) or "non_field_errors", []).append(str(problem.get("msg", "invalid")))
    return ok(fields, 400)


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
    """The OpenAPI 3 document, generated from the pydantic models of :mod:`oncall.api.schemas`."""
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title="Tocsin API", version="1.0.0"))
    return document


@app.get(f"{PREFIX}/integrations", middlewares=[authenticate])
def list_integrations() -> schemas.IntegrationPage:
    return logic.list_integrations(store(), request_info())  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations", middlewares=[authenticate])
def create_integration(body: Annotated[schemas.IntegrationIn, Body()]) -> Response[schemas.IntegrationOut]:
    return ok(logic.create_integration(store(), request_info(), body, now()), 201)


@app.get(f"{PREFIX}/integrations/<integration_id>", middlewares=[authenticate])
def get_integration(integration_id: str) -> schemas.IntegrationOut:
    return logic.get_integration(store(), request_info(), integration_id)  # type: ignore[return-value]


@app.route(f"{PREFIX}/integrations/<integration_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_integration(integration_id: str, body: Annotated[schemas.IntegrationPatch, Body()]) -> schemas.IntegrationOut:
    return logic.update_integration(store(), request_info(), integration_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/integrations/<integration_id>", middlewares=[authenticate])
def delete_integration(integration_id: str) -> Response[None]:
    logic.delete_integration(store(), integration_id)
    return Response(204)


@app.post(f"{PREFIX}/integrations/<integration_id>/send_demo_alert", middlewares=[authenticate])
def send_demo_alert(integration_id: str) -> schemas.DemoAlertOut:
    raw = app.current_event.json_body if app.current_event.body else None
    payload = None
    if isinstance(raw, dict):
        payload = raw.get("demo_alert_payload", raw.get("payload"))
    return logic.send_demo_alert(store(), integration_id, payload, now())  # type: ignore[return-value]


@app.post(f"{PREFIX}/integrations/<integration_id>/regenerate_token", middlewares=[authenticate])
def regenerate_token(integration_id: str) -> schemas.IntegrationOut:
    return logic.regenerate_token(store(), request_info(), integration_id)  # type: ignore[return-value]


@app.get(f"{PREFIX}/routes", middlewares=[authenticate])
def list_routes() -> schemas.RoutePage:
    return logic.list_routes(store(), request_info())  # type: ignore[return-value]


@app.post(f"{PREFIX}/routes", middlewares=[authenticate])
def create_route(body: Annotated[schemas.RouteIn, Body()]) -> Response[schemas.RouteOut]:
    return ok(logic.create_route(store(), body), 201)


@app.get(f"{PREFIX}/routes/<route_id>", middlewares=[authenticate])
def get_route(route_id: str) -> schemas.RouteOut:
    return logic.get_route(store(), route_id)  # type: ignore[return-value]


@app.route(f"{PREFIX}/routes/<route_id>", method=["PUT", "PATCH"], middlewares=[authenticate])
def update_route(route_id: str, body: Annotated[schemas.RoutePatch, Body()]) -> schemas.RouteOut:
    return logic.update_route(store(), route_id, body)  # type: ignore[return-value]


@app.delete(f"{PREFIX}/routes/<route_id>", middlewares=[authenticate])
def delete_route(route_id: str) -> Response[None]:
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
    return logic.act_on_group(store(), request_info(), group_id, action, actor(), now(), body)  # type: ignore[return-value]


@app.get(f"{PREFIX}/alerts", middlewares=[authenticate])
def list_alerts() -> schemas.AlertPage:
    return logic.list_alerts(store(), request_info())  # type: ignore[return-value]


def _normalise(event: dict[str, Any]) -> dict[str, Any]:
    """OnCall clients use trailing slashes (``/api/v1/integrations/``); our routes are declared without."""
    raw_path = event.get("rawPath", "")
    if len(raw_path) > 1 and raw_path.endswith("/"):
        event["rawPath"] = raw_path.rstrip("/")
        http_context = event.get("requestContext", {}).get("http", {})
        if "path" in http_context:
            http_context["path"] = http_context["path"].rstrip("/")
    return event


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(_normalise(event), context)
