"""Use cases of routes: the ordered filters of an integration that pick an alert's escalation chain.

A route belongs to its integration's team: changing one is changing the integration (:mod:`oncall.services.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from oncall import ids, routing
from oncall.codec import fields_of
from oncall.errors import InvalidInput, NotFound
from oncall.models import LabelMatch, Route
from oncall.schemas import LabelMatchIn, RouteIn, RoutePatch
from oncall.services import Ports, ordering
from oncall.services.integrations import check_chain, load_for_change
from oncall.services.policy import Action, Principal, Resource, authorize, existing
from oncall.services.warnings import Checker

_DEFAULT_FIXED = "The default route matches everything; its filter and position cannot change."


@dataclass(slots=True, kw_only=True)
class RouteView(Route):
    """A route with ``warnings``: why the alerts it matches would notify nobody."""

    warnings: list[str] = field(default_factory=list)


def _checked(checker: Checker, route: Route) -> RouteView:
    return RouteView(**fields_of(route), warnings=checker.route(route))


def list_routes(
    ports: Ports, caller: Principal, *, integration_id: str | None = None, routing_regex: str | None = None
) -> list[RouteView]:
    authorize(caller, Resource.ROUTES, Action.READ)
    routes = ports.store.integrations.routes(integration_id)
    checker = Checker(ports.store)
    return [_checked(checker, r) for r in routes if routing_regex is None or r.routing_regex == routing_regex]


def _route(ports: Ports, route_id: str, caller: Principal | None = None, action: Action = Action.READ) -> Route:
    """The route; ``caller``: who will ``action`` it (unknown: 404 only to who may do that at all)."""
    return existing(ports.store.integrations.route(route_id), caller, Resource.ROUTES, action)


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


def _place(ports: Ports, routes: list[Route], route: Route, position: int | None, *, swap: bool = False) -> RouteView:
    """Store ``route`` at ``position`` among the integration's non-default ``routes`` (last when None; ``swap``:
    OnCall's ``manual_order``, see :func:`ordering.renumber`), writing it and the routes whose position changed."""
    current = [r for r in routes if not r.is_default]
    others = [r for r in current if r.id != route.id]
    ordered = ordering.renumber(current, route, position, swap=swap)
    placed = next(r for r in ordered if r.id == route.id)
    moved = [r for r in ordering.changed(others, ordered) if r.id != route.id]
    ports.store.integrations.save_routes(route.integration_id, [placed, *moved])
    return _checked(Checker(ports.store), placed)


def _changes_filter_or_position(route: Route, body: RoutePatch) -> bool:
    """Whether ``body`` changes what only other routes may change: their filter and place (a read-modify-write
    client sends the default route's own values back, which is no change)."""
    given = body.model_fields_set
    current = {"routing_regex": route.routing_regex, "routing_type": route.routing_type, "position": route.position}
    labels_changed = "routing_labels" in given and bool(body.routing_labels)
    return labels_changed or any(name in given and getattr(body, name) != value for name, value in current.items())


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
        messengers=body.messengers({}),
    )
    return _place(ports, config.routes, route, body.position, swap=bool(body.manual_order))


def update_route(ports: Ports, caller: Principal, route_id: str, body: RoutePatch) -> RouteView:
    route = _route(ports, route_id, caller, Action.UPDATE)
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
    if route.is_default and _changes_filter_or_position(route, body):
        raise InvalidInput(_DEFAULT_FIXED)
    if not route.is_default:
        _check_routing(routing_type, term, labels)
    updated = replace(
        route,
        routing_type=routing_type,
        routing_regex=term if routing_type != "labels" else None,
        routing_labels=[LabelMatch(key=m.key, value=m.value) for m in labels or []] if routing_type == "labels" else [],
        escalation_chain_id=body.escalation_chain_id if "escalation_chain_id" in given else route.escalation_chain_id,
        messengers=body.messengers(route.messengers),
    )
    if route.is_default:
        ports.store.integrations.save_routes(route.integration_id, [updated])
        return _checked(Checker(ports.store), updated)
    position = body.position if "position" in given else route.position
    return _place(ports, config.routes, updated, position, swap=bool(body.manual_order) and "position" in given)


def move_route(
    ports: Ports, caller: Principal, route_id: str, offset: int, *, integration_id: str | None = None
) -> RouteView | None:
    """Move a route ``offset`` places (-1: up one); None when that would take it past the first or the last
    non-default route (it stays). ``integration_id``: only a route of that integration (a form's address)."""
    route = _route(ports, route_id, caller, Action.UPDATE)
    if integration_id is not None and route.integration_id != integration_id:
        raise NotFound()
    config = load_for_change(ports, caller, route.integration_id)
    if route.is_default:
        raise InvalidInput(_DEFAULT_FIXED)
    others = [r for r in config.routes if not r.is_default and r.id != route.id]
    position = sum(1 for r in others if r.position < route.position) + offset
    if not 0 <= position <= len(others):
        return None
    return _place(ports, config.routes, route, position)


def delete_route(ports: Ports, caller: Principal, route_id: str) -> None:
    route = _route(ports, route_id, caller, Action.DELETE)
    config = load_for_change(ports, caller, route.integration_id)
    if route.is_default:
        raise InvalidInput("The default route cannot be deleted.")
    remaining = [r for r in config.routes if r.id != route_id and not r.is_default]
    moved = ordering.changed(remaining, ordering.renumber(remaining))
    ports.store.integrations.save_routes(route.integration_id, moved, deleted=[route_id])
