"""The routers of the management API, one module per resource, each with the path prefixes it serves.

:class:`oncall.api.app.Resolver` imports a module and includes its router on the first request under one of its
prefixes, so a cold start pays for the resource its first request uses, not for all of them. A path's candidate
routes are all in the modules whose prefixes cover it (``tests/unit/test_api_routes.py`` checks that every route
lies under its module's prefixes), so which routers an environment has included never changes a request's answer.
The order is the order of inclusion of the complete API (the OpenAPI document's).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

ROUTERS: Final[dict[str, tuple[str, ...]]] = {  # module of this package -> the path prefixes of its routes
    "integrations": ("/api/v1/integrations",),
    "routes": ("/api/v1/routes",),
    "escalation_chains": ("/api/v1/escalation_chains",),
    "escalation_policies": ("/api/v1/escalation_policies",),
    "webhooks": ("/api/v1/webhooks",),
    "schedules": ("/api/v1/schedules", "/api/v1/users"),  # and a user's calendar feed
    "on_call_shifts": ("/api/v1/on_call_shifts",),
    "teams": ("/api/v1/teams",),
    "users": ("/api/v1/users",),
    "notification_rules": ("/api/v1/personal_notification_rules",),
    "api_keys": ("/api/v1/api_keys",),
    "audit_log": ("/api/v1/audit_log",),
    "insights": ("/api/v1/insights",),
    "alert_groups": ("/api/v1/alert_groups",),
    "alerts": ("/api/v1/alerts",),
    "resolution_notes": ("/api/v1/resolution_notes",),
    "paging": ("/api/v1/escalation",),
    "actions": ("/actions",),
    "lookups": ("/api/v1/slack_channels", "/api/v1/user_groups", "/api/v1/actions"),
}


def under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it (``/api/v1/alerts`` is not below ``/api/v1/alert_groups``)."""
    return path == prefix or path.startswith(f"{prefix}/")


def serving(path: str) -> list[str]:
    """The modules whose routes may serve ``path``, in :data:`ROUTERS` order."""
    return [name for name, prefixes in ROUTERS.items() if any(under(path, prefix) for prefix in prefixes)]


def router(name: str) -> APIGatewayHttpRouter:
    """A new router of the module ``name`` (a router belongs to the app that included it last)."""
    made: APIGatewayHttpRouter = importlib.import_module(f"{__name__}.{name}").router()
    return made
