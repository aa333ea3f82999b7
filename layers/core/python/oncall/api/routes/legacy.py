"""Routes of the management API not yet moved to their resource's router (:mod:`oncall.api.routes`): they check
the caller at the entry point (``oncall.access`` guards) and call the use cases of :mod:`oncall.api`. Each resource's
router and use cases in :mod:`oncall.services` replace their part of this module, until nothing is left of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import access, schemas
from oncall.api import directory
from oncall.api.request import ApiRequest, RequestInfo, current
from oncall.errors import PermissionDenied
from oncall.services.policy import Principal

PREFIX = "/api/v1"


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    def request() -> ApiRequest:
        return current(api)

    def store() -> Any:
        return request().ports.store

    def authenticator() -> access.Authenticator:
        return request().ports.authenticator

    def request_info() -> RequestInfo:
        return request().info

    def caller() -> Principal:
        return request().principal

    def actor() -> str:
        return caller().user_id

    def now() -> datetime:
        return request().now

    def guard_entity(resource: directory.Resource[Any], entity_id: str) -> None:
        entity = resource.repository(store()).get(entity_id)
        if entity is not None:
            access.check_team(caller(), getattr(entity, "team_id", None))

    def guard_policy(policy_id: str) -> None:
        policy = store().policies.get(policy_id)
        if policy is not None:
            guard_entity(directory.CHAINS, policy.escalation_chain_id)

    def guard_rule_owner(user_id: str) -> None:
        if caller().role != "admin" and user_id != caller().user_id:
            raise PermissionDenied("You can only change your own notification rules.")

    def ok(body: Any, status: int = 200) -> Response[Any]:
        return Response(status_code=status, content_type="application/json", body=body)

    # --- teams, users, notification rules, escalation chains and policies, outgoing webhooks ---------------------------

    @api.get(f"{PREFIX}/teams")
    def list_teams() -> dict[str, Any]:
        items = store().teams.list()
        return directory.listing(store(), request_info(), directory.TEAMS, items, {"name": lambda t, v: t.name == v})

    @api.post(f"{PREFIX}/teams")
    def create_team(body: Annotated[schemas.TeamIn, Body()]) -> Response[schemas.TeamOut]:
        return ok(directory.create_team(store(), body), 201)

    @api.get(f"{PREFIX}/teams/<team_id>")
    def get_team(team_id: str) -> schemas.TeamOut:
        return directory.TEAMS.out(directory.load(store(), directory.TEAMS, team_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/teams/<team_id>", method=["PUT", "PATCH"])
    def update_team(team_id: str, body: Annotated[schemas.TeamPatch, Body()]) -> schemas.TeamOut:
        return directory.update_team(store(), team_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/teams/<team_id>")
    def delete_team(team_id: str) -> Response[None]:
        directory.load(store(), directory.TEAMS, team_id)
        store().teams.delete(team_id)
        return Response(204)

    @api.get(f"{PREFIX}/users")
    def list_users() -> dict[str, Any]:
        items = store().users.list()
        return directory.listing(
            store(),
            request_info(),
            directory.USERS,
            items,
            {"email": lambda u, v: u.email == v, "username": lambda u, v: u.username == v},
        )

    @api.post(f"{PREFIX}/users")
    def create_user(body: Annotated[schemas.UserIn, Body()]) -> Response[schemas.UserOut]:
        return ok(directory.create_user(store(), body), 201)

    @api.get(f"{PREFIX}/users/<user_id>")
    def get_user(user_id: str) -> schemas.UserOut:
        user_id = actor() if user_id == "current" else user_id
        return directory.USERS.out(directory.load(store(), directory.USERS, user_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/users/<user_id>", method=["PUT", "PATCH"])
    def update_user(user_id: str, body: Annotated[schemas.UserPatch, Body()]) -> schemas.UserOut:
        return directory.update_user(store(), user_id, body, caller())  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/users/<user_id>")
    def delete_user(user_id: str) -> Response[None]:
        directory.delete_user(store(), user_id)
        return Response(204)

    @api.get(f"{PREFIX}/personal_notification_rules")
    def list_rules() -> dict[str, Any]:
        return directory.list_rules(store(), request_info())

    @api.post(f"{PREFIX}/personal_notification_rules")
    def create_rule(body: Annotated[schemas.NotificationRuleIn, Body()]) -> Response[schemas.NotificationRuleOut]:
        guard_rule_owner(body.user_id)
        return ok(directory.create_rule(store(), body), 201)

    @api.get(f"{PREFIX}/personal_notification_rules/<rule_id>")
    def get_rule(rule_id: str) -> schemas.NotificationRuleOut:
        return directory.RULES.out(directory.load(store(), directory.RULES, rule_id))  # type: ignore[return-value]

    @api.route(f"{PREFIX}/personal_notification_rules/<rule_id>", method=["PUT", "PATCH"])
    def update_rule(
        rule_id: str, body: Annotated[schemas.NotificationRulePatch, Body()]
    ) -> schemas.NotificationRuleOut:
        guard_rule_owner(directory.load(store(), directory.RULES, rule_id).user_id)
        return directory.update_rule(store(), rule_id, body)  # type: ignore[return-value]

    @api.delete(f"{PREFIX}/personal_notification_rules/<rule_id>")
    def delete_rule(rule_id: str) -> Response[None]:
        guard_rule_owner(directory.load(store(), directory.RULES, rule_id).user_id)
        directory.delete_rule(store(), rule_id)
        return Response(204)

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

    @api.get(f"{PREFIX}/api_keys")
    def list_api_keys() -> dict[str, Any]:
        return directory.list_keys(store(), request_info(), caller())

    @api.post(f"{PREFIX}/api_keys")
    def create_api_key(body: Annotated[schemas.ApiKeyIn, Body()]) -> Response[schemas.ApiKeyOut]:
        return ok(directory.create_key(store(), body, caller(), now()), 201)

    @api.delete(f"{PREFIX}/api_keys/<key_id>")
    def revoke_api_key(key_id: str) -> Response[None]:
        directory.revoke_key(store(), key_id, caller())
        authenticator().forget()  # this container stops accepting it at once; others within their 60 s cache
        return Response(204)

    @api.get(f"{PREFIX}/audit_log")
    def audit_log() -> dict[str, Any]:
        return directory.audit_log(store(), request_info(), now().strftime("%Y-%m-%d"))

    return api
