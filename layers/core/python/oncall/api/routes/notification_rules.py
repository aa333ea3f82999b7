"""``/api/v1/personal_notification_rules``: OnCall's personal notification rules over
:mod:`oncall.services.notification_rules`."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import NotificationRule
from oncall.services import notification_rules

PATH = "/api/v1/personal_notification_rules"
PAGE_SIZE = 50


def rule_out(rule: NotificationRule) -> schemas.NotificationRuleOut:
    return schemas.NotificationRuleOut(
        id=rule.id,
        user_id=rule.user_id,
        position=rule.position,
        important=rule.important,
        type=notification_rules.kind(rule),
        duration=rule.duration if rule.type == "wait" else None,
    )


def _json(rule: NotificationRule) -> dict[str, Any]:
    return rule_out(rule).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_rules() -> schemas.NotificationRulePage:
        request = current(api)
        important = request.first("important")
        found = notification_rules.list_rules(
            request.ports,
            request.principal,
            user_id=request.first("user_id"),
            important=None if important is None else important.lower() == "true",
        )
        return schemas.NotificationRulePage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_rule(body: Annotated[schemas.NotificationRuleIn, Body()]) -> Response[schemas.NotificationRuleOut]:
        request = current(api)
        rule = notification_rules.create_rule(request.ports, request.principal, body)
        return Response(201, "application/json", rule_out(rule))

    @api.get(f"{PATH}/<rule_id>")
    def get_rule(rule_id: str) -> schemas.NotificationRuleOut:
        request = current(api)
        return rule_out(notification_rules.get_rule(request.ports, request.principal, rule_id))

    @api.route(f"{PATH}/<rule_id>", method=["PUT", "PATCH"])
    def update_rule(
        rule_id: str, body: Annotated[schemas.NotificationRulePatch, Body()]
    ) -> schemas.NotificationRuleOut:
        request = current(api)
        return rule_out(notification_rules.update_rule(request.ports, request.principal, rule_id, body))

    @api.delete(f"{PATH}/<rule_id>")
    def delete_rule(rule_id: str) -> Response[None]:
        request = current(api)
        notification_rules.delete_rule(request.ports, request.principal, rule_id)
        return Response(204)

    return api
