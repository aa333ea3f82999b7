"""``/api/v1/alert_groups``: OnCall's alert groups API over :mod:`oncall.services.alert_groups`, answering with the
query filters and OnCall shapes of :mod:`oncall.api.alert_groups`."""

from __future__ import annotations

from typing import Annotated, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.alert_groups import group_out, group_page, timeline_out, view_out
from oncall.api.request import current, json_body
from oncall.models import AlertGroup
from oncall.services import alert_groups

PATH: Final = "/api/v1/alert_groups"


# --- the router ---------------------------------------------------------------------------------------------------


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    def out(group: AlertGroup) -> schemas.AlertGroupOut:
        request = current(api)
        return group_out(group, base_url=request.base_url, now=request.now)

    @api.get(PATH)
    def list_alert_groups() -> schemas.AlertGroupPage:
        request = current(api)
        return schemas.AlertGroupPage.model_validate(group_page(request.ports, request.principal, request.info))

    @api.post(f"{PATH}/bulk_action")
    def bulk_action(body: Annotated[schemas.BulkActionIn, Body()]) -> schemas.BulkActionOut:
        request = current(api)
        return schemas.BulkActionOut(results=alert_groups.bulk_action(request.ports, request.principal, body))

    @api.get(f"{PATH}/<group_id>")
    def get_alert_group(group_id: str) -> schemas.AlertGroupOut:
        request = current(api)
        view = alert_groups.get_alert_group(request.ports, request.principal, group_id)
        return view_out(view, base_url=request.base_url, now=request.now)

    @api.get(f"{PATH}/<group_id>/timeline")
    def alert_group_timeline(group_id: str) -> list[schemas.TimelineOut]:
        request = current(api)
        return [timeline_out(e) for e in alert_groups.timeline(request.ports, request.principal, group_id)]

    @api.delete(f"{PATH}/<group_id>")
    def delete_alert_group(
        group_id: str, body: Annotated[schemas.DeleteGroupIn | None, Body()] = None
    ) -> Response[None]:
        request = current(api)
        mode = (body or schemas.DeleteGroupIn()).mode
        alert_groups.delete_alert_group(request.ports, request.principal, group_id, mode)
        return Response(204)

    @api.post(f"{PATH}/<group_id>/<action>")
    def alert_group_action(group_id: str, action: str) -> schemas.AlertGroupOut:
        """acknowledge, unacknowledge, resolve, unresolve, silence (``{"delay": seconds}``), unsilence, confirm."""
        request = current(api)
        raw = json_body(api.current_event.decoded_body) if action == "silence" else None
        delay = raw.get("delay") if isinstance(raw, dict) else None
        return out(alert_groups.act(request.ports, request.principal, group_id, action, delay=delay))

    return api
