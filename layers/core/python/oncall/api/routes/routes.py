"""``/api/v1/routes``: OnCall's routes API over :mod:`oncall.services.routes`."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.models import Route
from oncall.services import routes
from oncall.services.routes import RouteView

PATH = "/api/v1/routes"
PAGE_SIZE = 25


def route_out(route: Route) -> schemas.RouteOut:
    return schemas.RouteOut(
        id=route.id,
        integration_id=route.integration_id,
        escalation_chain_id=route.escalation_chain_id,
        routing_type=route.routing_type,
        routing_regex=route.routing_regex,
        routing_labels=[schemas.LabelMatchIn(key=m.key, value=m.value) for m in route.routing_labels],
        position=route.position,
        is_the_last_route=route.is_default,
        warnings=route.warnings if isinstance(route, RouteView) else [],
    )


def _json(route: Route) -> dict[str, Any]:
    return route_out(route).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_routes() -> schemas.RoutePage:
        request = current(api)
        found = routes.list_routes(
            request.ports,
            request.principal,
            integration_id=request.first("integration_id"),
            routing_regex=request.first("routing_regex"),
        )
        return schemas.RoutePage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_route(body: Annotated[schemas.RouteIn, Body()]) -> Response[schemas.RouteOut]:
        request = current(api)
        return Response(201, "application/json", _json(routes.create_route(request.ports, request.principal, body)))

    @api.get(f"{PATH}/<route_id>")
    def get_route(route_id: str) -> schemas.RouteOut:
        request = current(api)
        return route_out(routes.get_route(request.ports, request.principal, route_id))

    @api.route(f"{PATH}/<route_id>", method=["PUT", "PATCH"])
    def update_route(route_id: str, body: Annotated[schemas.RoutePatch, Body()]) -> schemas.RouteOut:
        request = current(api)
        return route_out(routes.update_route(request.ports, request.principal, route_id, body))

    @api.delete(f"{PATH}/<route_id>")
    def delete_route(route_id: str) -> Response[None]:
        request = current(api)
        routes.delete_route(request.ports, request.principal, route_id)
        return Response(204)

    return api
