"""Routes of the management API not yet moved to their resource's router (:mod:`oncall.api.routes`): they check
the caller at the entry point (``oncall.access`` guards) and call the use cases of :mod:`oncall.api`. Each resource's
router and use cases in :mod:`oncall.services` replace their part of this module, until nothing is left of it."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import access, schemas
from oncall.api import directory
from oncall.api.request import ApiRequest, RequestInfo, current
from oncall.services.policy import Principal

PREFIX = "/api/v1"


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    def request() -> ApiRequest:
        return current(api)

    def store() -> Any:
        return request().ports.store

    def request_info() -> RequestInfo:
        return request().info

    def caller() -> Principal:
        return request().principal

    def guard_entity(resource: directory.Resource[Any], entity_id: str) -> None:
        entity = resource.repository(store()).get(entity_id)
        if entity is not None:
            access.check_team(caller(), getattr(entity, "team_id", None))

    def guard_policy(policy_id: str) -> None:
        policy = store().policies.get(policy_id)
        if policy is not None:
            guard_entity(directory.CHAINS, policy.escalation_chain_id)

    def ok(body: Any, status: int = 200) -> Response[Any]:
        return Response(status_code=status, content_type="application/json", body=body)

    # --- escalation chains and policies, outgoing webhooks -----------------------------------------------------------

    @api.get(f"{PREFIX}/escalation_chains")
    def list_chains() -> dict[str, Any]:
        items = store().chains.list()
        return directory.listing(store(), request_info(), directory.CHAINS, items, {"name": lambda c, v: c.name == v})

    @api.post(f"{PREFIX}/escalation_chains")
    def create_chain(body: Annotated[schemas.ChainIn, Body()]) -> Response[schemas.ChainOut]:
        access.check_team(caller(), body.team_id)
        return ok(directory.create_chain(store(), body), 201)

    @api.get(f"{PREFIX}/escalation_chains/<chain_id>")
    def get_chain(chain_id: str) -> schemas.ChainOut:
        return directory.CHAINS.out(directory.load(store(), directory.CHAINS, chain_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/escalation_chains/<chain_id>", method=["PUT", "PATCH"])
    def update_chain(chain_id: str, body: Annotated[schemas.ChainPatch, Body()]) -> schemas.ChainOut:
        guard_entity(directory.CHAINS, chain_id)
        return directory.update_chain(store(), chain_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/escalation_chains/<chain_id>")
    def delete_chain(chain_id: str) -> Response[None]:
        guard_entity(directory.CHAINS, chain_id)
        directory.delete_chain(store(), chain_id)
        return Response(204)

    @api.get(f"{PREFIX}/escalation_policies")
    def list_policies() -> dict[str, Any]:
        return directory.list_policies(store(), request_info())

    @api.post(f"{PREFIX}/escalation_policies")
    def create_policy(body: Annotated[schemas.PolicyIn, Body()]) -> Response[schemas.PolicyOut]:
        guard_entity(directory.CHAINS, body.escalation_chain_id)
        return ok(directory.create_policy(store(), body), 201)

    @api.get(f"{PREFIX}/escalation_policies/<policy_id>")
    def get_policy(policy_id: str) -> schemas.PolicyOut:
        return directory.POLICIES.out(directory.load(store(), directory.POLICIES, policy_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/escalation_policies/<policy_id>", method=["PUT", "PATCH"])
    def update_policy(policy_id: str, body: Annotated[schemas.PolicyPatch, Body()]) -> schemas.PolicyOut:
        guard_policy(policy_id)
        return directory.update_policy(store(), policy_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/escalation_policies/<policy_id>")
    def delete_policy(policy_id: str) -> Response[None]:
        guard_policy(policy_id)
        directory.delete_policy(store(), policy_id)
        return Response(204)

    @api.get(f"{PREFIX}/webhooks")
    def list_webhooks() -> dict[str, Any]:
        items = store().webhooks.list()
        return directory.listing(store(), request_info(), directory.WEBHOOKS, items, {"name": lambda w, v: w.name == v})

    @api.post(f"{PREFIX}/webhooks")
    def create_webhook(body: Annotated[schemas.WebhookIn, Body()]) -> Response[schemas.WebhookOut]:
        access.check_team(caller(), body.team_id)
        return ok(directory.create_webhook(store(), body), 201)

    @api.get(f"{PREFIX}/webhooks/<webhook_id>")
    def get_webhook(webhook_id: str) -> schemas.WebhookOut:
        return directory.WEBHOOKS.out(directory.load(store(), directory.WEBHOOKS, webhook_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/webhooks/<webhook_id>", method=["PUT", "PATCH"])
    def update_webhook(webhook_id: str, body: Annotated[schemas.WebhookPatch, Body()]) -> schemas.WebhookOut:
        guard_entity(directory.WEBHOOKS, webhook_id)
        return directory.update_webhook(store(), webhook_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/webhooks/<webhook_id>")
    def delete_webhook(webhook_id: str) -> Response[None]:
        guard_entity(directory.WEBHOOKS, webhook_id)
        directory.load(store(), directory.WEBHOOKS, webhook_id)
        store().webhooks.delete(webhook_id)
        return Response(204)

    return api
