"""``/api/v1/alerts``: the alerts of one alert group, a page at a time (OnCall's ``alert_group_id`` filter is
required: alerts are stored per group), optionally those whose payload contains ``search``."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import page_size, paginate_cursor
from oncall.api.request import RequestInfo, current
from oncall.api.routes.alert_groups import alert_out
from oncall.errors import InvalidInput, NotFound
from oncall.models import Alert
from oncall.services import Ports, alert_groups
from oncall.services.policy import Principal

PATH: Final = "/api/v1/alerts"
PAGE_SIZE: Final = 50


def alert_page(ports: Ports, caller: Principal, request: RequestInfo) -> dict[str, Any]:
    """A page of ``GET /api/v1/alerts/`` for ``request``'s query, in OnCall's shape; an unknown alert group has
    no alerts (as a filter that matches nothing)."""
    group_id = request.first("alert_group_id")
    if not group_id:
        raise InvalidInput.field("alert_group_id", "This filter is required (Tocsin lists alerts per alert group).")
    search, alert_id = request.first("search"), request.first("id")

    def fetch(limit: int, cursor: str | None) -> alert_groups.Listing[Alert]:
        return alert_groups.list_alerts(
            ports, caller, group_id, limit=limit, cursor=cursor, search=search, alert_id=alert_id
        )

    def out(alert: Alert) -> dict[str, Any]:
        return alert_out(alert).model_dump(mode="json")

    try:
        return paginate_cursor(request, page_size(request, PAGE_SIZE), fetch, out)
    except NotFound:
        empty = {"count": 0, "next": None, "previous": None, "results": []}
        return {**empty, "current_page_number": 1, "page_size": PAGE_SIZE, "total_pages": 1}


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_alerts() -> schemas.AlertPage:
        request = current(api)
        return schemas.AlertPage.model_validate(alert_page(request.ports, request.principal, request.info))

    return api
