"""``/api/v1/teams``: OnCall's teams API over :mod:`oncall.services.people` (Tocsin also creates, changes and
deletes teams: OnCall took them from Grafana)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import Team
from oncall.services import people

PATH = "/api/v1/teams"
PAGE_SIZE = 50


def team_out(team: Team) -> schemas.TeamOut:
    return schemas.TeamOut(
        id=team.id, name=team.name, email=team.email, avatar_url=team.avatar_url, contactable=team.contactable
    )


def _json(team: Team) -> dict[str, Any]:
    return team_out(team).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_teams() -> schemas.TeamPage:
        request = current(api)
        found = people.list_teams(request.ports, request.principal, name=request.first("name"))
        return schemas.TeamPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_team(body: Annotated[schemas.TeamIn, Body()]) -> Response[schemas.TeamOut]:
        request = current(api)
        return Response(201, "application/json", team_out(people.create_team(request.ports, request.principal, body)))

    @api.get(f"{PATH}/<team_id>")
    def get_team(team_id: str) -> schemas.TeamOut:
        request = current(api)
        return team_out(people.get_team(request.ports, request.principal, team_id))

    @api.route(f"{PATH}/<team_id>", method=["PUT", "PATCH"])
    def update_team(team_id: str, body: Annotated[schemas.TeamPatch, Body()]) -> schemas.TeamOut:
        request = current(api)
        return team_out(people.update_team(request.ports, request.principal, team_id, body))

    @api.delete(f"{PATH}/<team_id>")
    def delete_team(team_id: str) -> Response[None]:
        request = current(api)
        people.delete_team(request.ports, request.principal, team_id)
        return Response(204)

    return api
