"""OnCall's look-ups that its clients (the Terraform provider's data sources) call: ``/api/v1/slack_channels`` and
``/api/v1/user_groups`` (Slack's; Tocsin has no Slack, so nothing is found: an empty page, as OnCall answers an
organisation without Slack) and ``/api/v1/actions`` (OnCall's deprecated name of outgoing webhooks)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import OutgoingWebhook
from oncall.services import webhooks

PAGE_SIZE = 50


def _action(hook: OutgoingWebhook) -> dict[str, Any]:
    return schemas.ActionOut(id=hook.id, name=hook.name, team_id=hook.team_id).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get("/api/v1/slack_channels")
    def list_slack_channels() -> schemas.SlackChannelPage:
        request = current(api)
        return schemas.SlackChannelPage.model_validate(paginate_list(request.info, [], PAGE_SIZE, dict))

    @api.get("/api/v1/user_groups")
    def list_user_groups() -> schemas.UserGroupPage:
        request = current(api)
        return schemas.UserGroupPage.model_validate(paginate_list(request.info, [], PAGE_SIZE, dict))

    @api.get("/api/v1/actions")
    def list_actions() -> schemas.ActionPage:
        request = current(api)
        found = webhooks.list_webhooks(request.ports, request.principal, name=request.first("name"))
        return schemas.ActionPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _action))

    return api
