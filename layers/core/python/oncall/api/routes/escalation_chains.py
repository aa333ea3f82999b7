"""``/api/v1/escalation_chains``: OnCall's escalation chains API over :mod:`oncall.services.chains`."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import EscalationChain
from oncall.services import chains

PATH = "/api/v1/escalation_chains"
PAGE_SIZE = 50


def chain_out(chain: EscalationChain) -> schemas.ChainOut:
    return schemas.ChainOut(id=chain.id, name=chain.name, team_id=chain.team_id)


def _json(chain: EscalationChain) -> dict[str, Any]:
    return chain_out(chain).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_chains() -> schemas.ChainPage:
        request = current(api)
        found = chains.list_chains(request.ports, request.principal, name=request.first("name"))
        return schemas.ChainPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_chain(body: Annotated[schemas.ChainIn, Body()]) -> Response[schemas.ChainOut]:
        request = current(api)
        return Response(201, "application/json", chain_out(chains.create_chain(request.ports, request.principal, body)))

    @api.get(f"{PATH}/<chain_id>")
    def get_chain(chain_id: str) -> schemas.ChainOut:
        request = current(api)
        return chain_out(chains.get_chain(request.ports, request.principal, chain_id))

    @api.route(f"{PATH}/<chain_id>", method=["PUT", "PATCH"])
    def update_chain(chain_id: str, body: Annotated[schemas.ChainPatch, Body()]) -> schemas.ChainOut:
        request = current(api)
        return chain_out(chains.update_chain(request.ports, request.principal, chain_id, body))

    @api.delete(f"{PATH}/<chain_id>")
    def delete_chain(chain_id: str) -> Response[None]:
        request = current(api)
        chains.delete_chain(request.ports, request.principal, chain_id)
        return Response(204)

    return api
