"""Routes of the management API not yet moved to their resource's router (:mod:`oncall.api.routes`): they check
the caller at the entry point (``oncall.access`` guards) and call the use cases of :mod:`oncall.api`. Each resource's
router and use cases in :mod:`oncall.services` replace their part of this module, until nothing is left of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import escalation, http, schemas
from oncall.api import action_links, logic, responders
from oncall.api.request import ApiRequest, RequestInfo, current, ports_of
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

    def request_info() -> RequestInfo:
        return request().info

    def caller() -> Principal:
        return request().principal

    def actor() -> str:
        return caller().user_id

    def now() -> datetime:
        return request().now

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
