"""The routers of the management API, one per resource; :func:`oncall.api.app.build` includes each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall.api.routes import (
    actions,
    alert_groups,
    alerts,
    api_keys,
    audit_log,
    escalation_chains,
    escalation_policies,
    insights,
    integrations,
    notification_rules,
    on_call_shifts,
    paging,
    routes,
    schedules,
    teams,
    users,
    webhooks,
)

ROUTERS: Final[tuple[Callable[[], APIGatewayHttpRouter], ...]] = (
    integrations.router,
    routes.router,
    escalation_chains.router,
    escalation_policies.router,
    webhooks.router,
    schedules.router,
    on_call_shifts.router,
    teams.router,
    users.router,
    notification_rules.router,
    api_keys.router,
    audit_log.router,
    insights.router,
    alert_groups.router,
    alerts.router,
    paging.router,
    actions.router,
)
