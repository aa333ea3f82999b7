"""``/api/v1/alerts``: the alerts of one alert group, a page at a time (OnCall's ``alert_group_id`` filter is
required: alerts are stored per group), optionally those whose payload contains ``search``
(:func:`oncall.api.alert_groups.alert_page`)."""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.alert_groups import alert_page
from oncall.api.request import current

PATH: Final = "/api/v1/alerts"


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_alerts() -> schemas.AlertPage:
        request = current(api)
        return schemas.AlertPage.model_validate(alert_page(request.ports, request.principal, request.info))

    return api
