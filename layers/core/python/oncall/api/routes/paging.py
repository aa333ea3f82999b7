"""``/api/v1/escalation``: OnCall's direct paging over :mod:`oncall.services.paging`."""

from __future__ import annotations

from typing import Annotated, Final

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.alert_groups import group_out
from oncall.api.request import current
from oncall.services import alert_groups, paging

PATH: Final = "/api/v1/escalation"


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.post(PATH)
    def direct_paging(body: Annotated[schemas.EscalationIn, Body()]) -> schemas.AlertGroupOut:
        request = current(api)
        paged = paging.page(request.ports, request.principal, body)
        view = alert_groups.view_of(request.ports, paged.group)
        warnings = list(dict.fromkeys([*paged.warnings, *view.warnings]))
        return group_out(
            view.group, base_url=request.base_url, now=request.now, last_alert=view.last_alert, warnings=warnings
        )

    return api
