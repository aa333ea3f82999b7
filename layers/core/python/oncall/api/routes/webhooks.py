"""``/api/v1/webhooks``: OnCall's outgoing webhooks API over :mod:`oncall.services.webhooks`."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import OutgoingWebhook
from oncall.services import webhooks

PATH = "/api/v1/webhooks"
PAGE_SIZE = 50


def webhook_out(hook: OutgoingWebhook) -> schemas.WebhookOut:
    """OnCall's shape of a webhook the use cases returned (its secrets masked there)."""
    last = hook.last_response
    return schemas.WebhookOut.model_validate(
        {
            **hook.model_dump(exclude={"last_response"}),
            "team": hook.team_id,
            "integration_filter": hook.integration_filter or None,  # OnCall: null when there is none
            "last_response_log": last
            and {
                "timestamp": last.at,
                "url": last.url,
                "request_trigger": last.trigger,
                "alert_group_id": last.group_id,
                "status_code": last.status_code,
                "content": last.content,
                "attempts": last.attempts,
            },
        }
    )


def _json(hook: OutgoingWebhook) -> dict[str, Any]:
    return webhook_out(hook).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_webhooks() -> schemas.WebhookPage:
        request = current(api)
        found = webhooks.list_webhooks(request.ports, request.principal, name=request.first("name"))
        return schemas.WebhookPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_webhook(body: Annotated[schemas.WebhookIn, Body()]) -> Response[schemas.WebhookOut]:
        request = current(api)
        hook = webhooks.create_webhook(request.ports, request.principal, body)
        return Response(201, "application/json", webhook_out(hook))

    @api.get(f"{PATH}/<webhook_id>")
    def get_webhook(webhook_id: str) -> schemas.WebhookOut:
        request = current(api)
        return webhook_out(webhooks.get_webhook(request.ports, request.principal, webhook_id))

    @api.route(f"{PATH}/<webhook_id>", method=["PUT", "PATCH"])
    def update_webhook(webhook_id: str, body: Annotated[schemas.WebhookPatch, Body()]) -> schemas.WebhookOut:
        request = current(api)
        return webhook_out(webhooks.update_webhook(request.ports, request.principal, webhook_id, body))

    @api.delete(f"{PATH}/<webhook_id>")
    def delete_webhook(webhook_id: str) -> Response[None]:
        request = current(api)
        webhooks.delete_webhook(request.ports, request.principal, webhook_id)
        return Response(204)

    return api
