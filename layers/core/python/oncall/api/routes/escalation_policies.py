"""``/api/v1/escalation_policies``: OnCall's escalation policies API (the steps of escalation chains) over
:mod:`oncall.services.chains`."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import EscalationPolicy
from oncall.services import chains

PATH = "/api/v1/escalation_policies"
PAGE_SIZE = 50


def policy_out(policy: EscalationPolicy) -> schemas.PolicyOut:
    """Only the fields of the step's type, as OnCall returns them."""
    shown = {"id", "escalation_chain_id", "position", "type", *chains.STEP_FIELDS[policy.type]}
    return schemas.PolicyOut.model_validate(policy.model_dump(mode="json", include=shown))


def _json(policy: EscalationPolicy) -> dict[str, Any]:
    return policy_out(policy).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_policies() -> schemas.PolicyPage:
        request = current(api)
        found = chains.list_policies(request.ports, request.principal, chain_id=request.first("escalation_chain_id"))
        return schemas.PolicyPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_policy(body: Annotated[schemas.PolicyIn, Body()]) -> Response[schemas.PolicyOut]:
        request = current(api)
        return Response(
            201, "application/json", policy_out(chains.create_policy(request.ports, request.principal, body))
        )

    @api.get(f"{PATH}/<policy_id>")
    def get_policy(policy_id: str) -> schemas.PolicyOut:
        request = current(api)
        return policy_out(chains.get_policy(request.ports, request.principal, policy_id))

    @api.route(f"{PATH}/<policy_id>", method=["PUT", "PATCH"])
    def update_policy(policy_id: str, body: Annotated[schemas.PolicyPatch, Body()]) -> schemas.PolicyOut:
        request = current(api)
        return policy_out(chains.update_policy(request.ports, request.principal, policy_id, body))

    @api.delete(f"{PATH}/<policy_id>")
    def delete_policy(policy_id: str) -> Response[None]:
        request = current(api)
        chains.delete_policy(request.ports, request.principal, policy_id)
        return Response(204)

    return api
