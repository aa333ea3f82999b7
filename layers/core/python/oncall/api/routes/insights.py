"""``/api/v1/insights`` (Tocsin): MTTA, MTTR, alert groups per integration and per day, the noisiest groups and
notifications per person over ``?period=24h|7d|30d`` (default 7d), over :mod:`oncall.services.insights`."""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall.api.request import current
from oncall.services import insights
from oncall.services.insights import Insights

PATH: Final = "/api/v1/insights"


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def get_insights() -> Insights:
        request = current(api)
        return insights.insights(request.ports, request.principal, request.first("period"))

    return api
