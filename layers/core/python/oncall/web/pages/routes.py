"""An integration's routes: the first route whose regex, Jinja2 condition or label matchers match an alert picks
its escalation chain, else the default route (last). Adding, editing, reordering and deleting go through the
route use cases (:mod:`oncall.services.routes`), which decide who may."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from oncall import schemas
from oncall.api.routes.routes import route_out
from oncall.errors import InvalidInput, NotFound
from oncall.models import Route as RoutingRoute
from oncall.services import integrations, routes
from oncall.services.policy import Resource
from oncall.web.base import Request, Response, Route, attempt, may_change, move, page
from oncall.web.pages.chains import chain_names

ROUTING_TYPES = (("regex", "Regular expression"), ("jinja2", "Jinja2 condition"), ("labels", "Label matchers"))


def _matchers(route: RoutingRoute) -> str:
    """What a route matches on, as the form shows and takes it back: the term, or ``key=value`` lines."""
    if route.routing_type == "labels":
        return "\n".join(f"{m.key}={m.value}" for m in route.routing_labels)
    return route.routing_regex or ""


def _labels(text: str) -> list[dict[str, str]]:
    matchers = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InvalidInput.field("routing_labels", f"Write label matchers as key=value, one per line: “{line}”.")
        matchers.append({"key": key.strip(), "value": value.strip()})
    return matchers


def _filter(request: Request) -> dict[str, Any]:
    """The posted routing type and term, as the API's route fields."""
    routing_type = request.form.get("routing_type", "regex")
    term = request.form.get("term", "")
    if routing_type == "labels":
        return {"routing_type": routing_type, "routing_labels": _labels(term)}
    return {"routing_type": routing_type, "routing_regex": term.strip() or None}


def _path(integration_id: str) -> str:
    return f"/integrations/{quote(integration_id)}/routes"


def routes_page(request: Request, integration_id: str) -> Response:
    view = integrations.get_integration(request.ports, request.principal, integration_id)
    integration = view.integration
    found = routes.list_routes(request.ports, request.principal, integration_id=integration_id)
    chains = chain_names(request)
    ordered = sorted((r for r in found if not r.is_default), key=lambda r: r.position)
    default = [r for r in found if r.is_default]
    rows = [
        {
            "route": route_out(route).model_dump(mode="json"),
            "order": n + 1,
            "matchers": _matchers(route),
            "chain": chains.get(route.escalation_chain_id, f"unknown chain {route.escalation_chain_id}")
            if route.escalation_chain_id
            else None,
            "first": n == 0,
            "last": n == len(ordered) - 1,
        }
        for n, route in enumerate([*ordered, *default])
    ]
    return page(
        request,
        "routes.html",
        integration=integration,
        rows=rows,
        chains=sorted(chains.items(), key=lambda c: c[1].lower()),
        routing_types=ROUTING_TYPES,
        editable=may_change(request, Resource.ROUTES, integration.team_id),
        warnings=view.warnings,
    )


def create_route(request: Request, integration_id: str) -> Response:
    chain_id = request.optional("escalation_chain_id")

    def change() -> RoutingRoute:
        fields = {"integration_id": integration_id, "escalation_chain_id": chain_id, **_filter(request)}
        return routes.create_route(request.ports, request.principal, schemas.RouteIn.model_validate(fields))

    return attempt(request, _path(integration_id), "Route added.", change)


def _route(request: Request, integration_id: str, route_id: str) -> RoutingRoute:
    route = routes.get_route(request.ports, request.principal, route_id)
    if route.integration_id != integration_id:
        raise NotFound()
    return route


def update_route(request: Request, integration_id: str, route_id: str) -> Response:
    route = _route(request, integration_id, route_id)
    chain_id = request.optional("escalation_chain_id")

    def change() -> RoutingRoute:
        fields = (
            {"escalation_chain_id": chain_id}
            if route.is_default
            else {"escalation_chain_id": chain_id, **_filter(request)}
        )
        return routes.update_route(
            request.ports, request.principal, route_id, schemas.RoutePatch.model_validate(fields)
        )

    notice = "Default route saved." if route.is_default else "Route saved."
    return attempt(request, _path(integration_id), notice, change)


def route_action(request: Request, integration_id: str, route_id: str, action: str) -> Response:
    route = _route(request, integration_id, route_id)
    path = _path(integration_id)
    ports, caller = request.ports, request.principal

    def to(position: int) -> RoutingRoute:
        return routes.update_route(ports, caller, route_id, schemas.RoutePatch(position=position))

    if action == "delete":
        return attempt(request, path, "Route deleted.", lambda: routes.delete_route(ports, caller, route_id))
    if route.is_default:  # the use case refuses, with its message
        return attempt(request, path, "", lambda: to(0))
    found = routes.list_routes(ports, caller, integration_id=integration_id)
    order = [r.id for r in sorted(found, key=lambda r: r.position) if not r.is_default]
    return move(request, path, "route", order, route_id, action, to)


ROUTES: list[Route] = [
    ("GET", r"/integrations/([\w-]+)/routes", routes_page),
    ("POST", r"/integrations/([\w-]+)/routes", create_route),
    ("POST", r"/integrations/([\w-]+)/routes/([\w-]+)", update_route),
    ("POST", r"/integrations/([\w-]+)/routes/([\w-]+)/(up|down|delete)", route_action),
]
