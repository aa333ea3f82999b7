"""An integration's routes: the first route whose regex, Jinja2 condition or label matchers match an alert picks
its escalation chain, else the default route (last). Adding, editing, reordering and deleting go through the
API's route use cases (:func:`oncall.api.logic.create_route` and the others), with the API's team check."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from oncall import schemas
from oncall.api import logic
from oncall.models import Route as RoutingRoute
from oncall.web.base import Request, Response, Route, attempt, may_change, move, page
from oncall.web.pages.chains import chain_names
from oncall.web.pages.integrations import guard_integration

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
            raise logic.ApiError.field("routing_labels", f"Write label matchers as key=value, one per line: “{line}”.")
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
    config = request.store.integrations.config(integration_id)
    if config is None:
        raise logic.not_found()
    chains = chain_names(request)
    routes = [r for r in config.routes if not r.is_default]
    rows = [
        {
            "route": logic.route_out(route),
            "order": n + 1,
            "matchers": _matchers(route),
            "chain": chains.get(route.escalation_chain_id, f"unknown chain {route.escalation_chain_id}")
            if route.escalation_chain_id
            else None,
            "first": n == 0,
            "last": n == len(routes) - 1,
        }
        for n, route in enumerate([*routes, config.default_route])
    ]
    return page(
        request,
        "routes.html",
        integration=config.integration,
        rows=rows,
        chains=sorted(chains.items(), key=lambda c: c[1].lower()),
        routing_types=ROUTING_TYPES,
        editable=may_change(request.actor, config.integration.team_id),
    )


def create_route(request: Request, integration_id: str) -> Response:
    guard_integration(request, integration_id)
    chain_id = request.optional("escalation_chain_id")

    def change() -> dict[str, Any]:
        fields = {"integration_id": integration_id, "escalation_chain_id": chain_id, **_filter(request)}
        return logic.create_route(request.store, schemas.RouteIn.model_validate(fields))

    return attempt(request, _path(integration_id), "Route added.", change)


def _route(request: Request, integration_id: str, route_id: str) -> RoutingRoute:
    guard_integration(request, integration_id)
    route = request.store.integrations.route(route_id)
    if route is None or route.integration_id != integration_id:
        raise logic.not_found()
    return route


def update_route(request: Request, integration_id: str, route_id: str) -> Response:
    route = _route(request, integration_id, route_id)
    chain_id = request.optional("escalation_chain_id")

    def change() -> dict[str, Any]:
        fields = (
            {"escalation_chain_id": chain_id}
            if route.is_default
            else {"escalation_chain_id": chain_id, **_filter(request)}
        )
        return logic.update_route(request.store, route_id, schemas.RoutePatch.model_validate(fields))

    notice = "Default route saved." if route.is_default else "Route saved."
    return attempt(request, _path(integration_id), notice, change)


def route_action(request: Request, integration_id: str, route_id: str, action: str) -> Response:
    route = _route(request, integration_id, route_id)
    path = _path(integration_id)
    if action == "delete":
        return attempt(request, path, "Route deleted.", lambda: logic.delete_route(request.store, route_id))
    if route.is_default:  # the use case refuses, with its message
        return attempt(
            request, path, "", lambda: logic.update_route(request.store, route_id, schemas.RoutePatch(position=0))
        )
    config = request.store.integrations.config(integration_id)
    assert config is not None
    order = [r.id for r in config.routes if not r.is_default]
    return move(
        request,
        path,
        "route",
        order,
        route_id,
        action,
        lambda position: logic.update_route(request.store, route_id, schemas.RoutePatch(position=position)),
    )


ROUTES: list[Route] = [
    ("GET", r"/integrations/([\w-]+)/routes", routes_page),
    ("POST", r"/integrations/([\w-]+)/routes", create_route),
    ("POST", r"/integrations/([\w-]+)/routes/([\w-]+)", update_route),
    ("POST", r"/integrations/([\w-]+)/routes/([\w-]+)/(up|down|delete)", route_action),
]
