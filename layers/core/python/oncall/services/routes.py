"""Use cases of routes: the ordered filters of an integration that pick an alert's escalation chain.

A route belongs to its integration's team: changing one is changing the integration (:mod:`oncall.services.policy`).
"""

from __future__ import annotations

from pydantic import Field

from oncall import ids, routing
from oncall.errors import InvalidInput, NotFound
from oncall.models import LabelMatch, Route
from oncall.schemas import LabelMatchIn, RouteIn, RoutePatch
from oncall.services import Ports
from oncall.services.integrations import check_chain, load_for_change
from oncall.services.policy import Action, Principal, Resource, authorize
from oncall.services.warnings import Checker


class RouteView(Route):
    """A route with ``warnings``: why the alerts it matches would notify nobody."""

    warnings: list[str] = Field(default_factory=list)


def _checked(checker: Checker, route: Route) -> RouteView:
    return RouteView(**dict(route), warnings=checker.route(route))


def list_routes(
    ports: Ports, caller: Principal, *, integration_id: str | None = None, routing_regex: str | None = None
) -> list[RouteView]:
    authorize(caller, Resource.ROUTES, Action.READ)
    routes = ports.store.integrations.routes(integration_id)
    checker = Checker(ports.store)
    return [_checked(checker, r) for r in routes if routing_regex is None or r.routing_regex == routing_regex]


def _route(ports: Ports, route_id: str) -> Route:
    route = ports.store.integrations.route(route_id)
    if route is None:
        raise NotFound()
    return route


def get_route(ports: Ports, caller: Principal, route_id: str) -> RouteView:
    authorize(caller, Resource.ROUTES, Action.READ)
    return _checked(Checker(ports.store), _route(ports, route_id))


def _check_routing(routing_type: str, term: str | None, labels: list[LabelMatchIn] | None) -> None:
    if routing_type == "labels":
        if not labels:
            raise InvalidInput.field("routing_labels", "At least one label is required for routing by labels.")
        return
    problem = routing.validate_routing_term(routing_type, term)
    if problem:
        raise InvalidInput.field("routing_regex", problem)


def _renumber(routes: list[Route], moved: Route | None, position: int | None) -> list[Route]:
    """Positions 0..n-1 of the non-default routes, with ``moved`` placed at ``position``."""
    ordered = [r for r in routes if not r.is_default and (moved is None or r.id != moved.id)]
    ordered.sort(key=lambda r: r.position)
    if moved is not None:
        ordered.insert(len(ordered) if position is None else min(position, len(ordered)), moved)
    return [r.model_copy(update={"position": i}) for i, r in enumerate(ordered)]


def create_route(ports: Ports, caller: Principal, body: RouteIn) -> RouteView:
    if ports.store.integrations.config(body.integration_id) is None:
        authorize(caller, Resource.ROUTES, Action.CREATE)
        raise InvalidInput.field("integration_id", "Integration not found.")
    config = load_for_change(ports, caller, body.integration_id)
    check_chain(ports, body.escalation_chain_id)
    _check_routing(body.routing_type, body.routing_regex, body.routing_labels)
    route = Route(
        id=ids.new_id(ids.ROUTE),
        integration_id=body.integration_id,
        routing_type=body.routing_type,
        routing_regex=body.routing_regex if body.routing_type != "labels" else None,
        routing_labels=[LabelMatch(key=m.key, value=m.value) for m in body.routing_labels or []],
        escalation_chain_id=body.escalation_chain_id,
    )
    renumbered = _renumber(config.routes, route, body.position)
    ports.store.integrations.save_routes(body.integration_id, renumbered)
    return _checked(Checker(ports.store), next(r for r in renumbered if r.id == route.id))


def update_route(ports: Ports, caller: Principal, route_id: str, body: RoutePatch) -> RouteView:
    route = _route(ports, route_id)
    config = load_for_change(ports, caller, route.integration_id)
    given = body.model_fields_set
    if "escalation_chain_id" in given:
        check_chain(ports, body.escalation_chain_id)
    routing_type = body.routing_type or route.routing_type
    term = body.routing_regex if "routing_regex" in given else route.routing_regex
    labels = (
        body.routing_labels
        if "routing_labels" in given
        else [LabelMatchIn(key=m.key, value=m.value) for m in route.routing_labels]
    )
    if route.is_default and ({"routing_regex", "routing_type", "routing_labels", "position"} & given):
        raise InvalidInput("The default route matches everything; its filter and position cannot change.")
    if not route.is_default:
        _check_routing(routing_type, term, labels)
    updated = route.model_copy(
        update={
            "routing_type": routing_type,
            "routing_regex": term if routing_type != "labels" else None,
            "routing_labels": [LabelMatch(key=m.key, value=m.value) for m in labels or []]
            if routing_type == "labels"
            else [],
            "escalation_chain_id": body.escalation_chain_id
            if "escalation_chain_id" in given
            else route.escalation_chain_id,
        }
    )
    if route.is_default:
        ports.store.integrations.save_routes(route.integration_id, [updated])
        return _checked(Checker(ports.store), updated)
    position = body.position if "position" in given else route.position
    renumbered = _renumber(config.routes, updated, position)
    ports.store.integrations.save_routes(route.integration_id, renumbered)
    return _checked(Checker(ports.store), next(r for r in renumbered if r.id == route.id))


def delete_route(ports: Ports, caller: Principal, route_id: str) -> None:
    route = _route(ports, route_id)
    config = load_for_change(ports, caller, route.integration_id)
    if route.is_default:
        raise InvalidInput("The default route cannot be deleted.")
    remaining = [r for r in config.routes if r.id != route_id]
    ports.store.integrations.save_routes(route.integration_id, _renumber(remaining, None, None), deleted=[route_id])
