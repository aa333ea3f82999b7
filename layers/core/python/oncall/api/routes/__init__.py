"""The routers of the management API, one per resource; :func:`oncall.api.app.build` includes each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall.api.routes import (
    actions,
    alert_groups,
    alerts,
    integrations,
    legacy,
    on_call_shifts,
    paging,
    routes,
    schedules,
)

ROUTERS: Final[tuple[Callable[[], APIGatewayHttpRouter], ...]] = (
    integrations.router,
    routes.router,
    schedules.router,
    on_call_shifts.router,
    alert_groups.router,
    alerts.router,
    paging.router,
    actions.router,
    legacy.router,
)
