"""``/api/v1/integrations``: OnCall's integrations API over :mod:`oncall.services.integrations`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import inbound_email, integration_types, schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import ApiRequest, current, json_body
from oncall.services import integrations
from oncall.services.integrations import IntegrationView

PATH = "/api/v1/integrations"
PAGE_SIZE = 50


def ingest_link(base_url: str, view: IntegrationView) -> str | None:
    kind = integration_types.get(view.integration.type)
    if view.token is None or kind is None or not kind.has_ingest_url:
        return None
    return f"{base_url}/integrations/v1/{view.integration.type.removeprefix('legacy_')}/{view.token}/"


def label_pairs(labels: dict[str, str]) -> list[schemas.LabelPair]:
    """Labels in OnCall's shape, in the order they were given (a label's id is its name: Tocsin has no catalogue)."""
    return [
        schemas.LabelPair(key=schemas.LabelRef(id=key, name=key), value=schemas.LabelRef(id=value, name=value))
        for key, value in labels.items()
    ]


def integration_out(
    view: IntegrationView, *, base_url: str, now: datetime, inbound_domain: str | None
) -> schemas.IntegrationOut:
    """OnCall's shape of an integration (the console shows the same), with this deployment's URLs."""
    integration, default_route, beat = view.integration, view.default_route, view.heartbeat
    kind = integration_types.get(integration.type)
    link = ingest_link(base_url, view)
    t = integration.templates
    return schemas.IntegrationOut(
        id=integration.id,
        name=integration.name,
        description_short=integration.description_short,
        team_id=integration.team_id,
        link=link,
        token_hint=integration.token_hint,
        routing_key=view.token if integration.type == "pagerduty" else None,  # shown once, like ``link``
        inbound_email=inbound_email.address(integration.type, view.token, integration.token_hint, inbound_domain),
        type=integration.type.removeprefix("legacy_"),
        default_route=schemas.DefaultRoute.model_validate(
            {
                **(default_route.messengers if default_route else {}),
                "id": default_route.id if default_route else "",
                "escalation_chain_id": default_route.escalation_chain_id if default_route else None,
            }
        ),
        templates=schemas.TemplatesOut.model_validate(
            {
                **t.channels,
                "grouping_key": t.grouping_id,
                "resolve_signal": t.resolve_condition,
                "acknowledge_signal": t.acknowledge_condition,
                "source_link": t.source_link,
                "web": {"title": t.title, "message": t.message, "image_url": t.image_url},
            }
        ),
        heartbeat=schemas.Heartbeat(
            link=f"{link}heartbeat/" if link else None,
            timeout_seconds=beat.timeout_seconds,
            status=beat.status(now),
            last_heartbeat_time=beat.last_beat_at,
        )
        if kind and kind.has_heartbeat
        else None,
        maintenance_mode=integration.maintenance_mode,
        maintenance_started_at=integration.maintenance_started_at,
        maintenance_end_at=integration.maintenance_end_at,
        labels=label_pairs(integration.static_labels),
        dynamic_labels=label_pairs(integration.label_templates),
        allow_source_based_resolving=integration.allow_source_based_resolving,
        ack_reminder_seconds=integration.ack_reminder_seconds,
        unack_timeout_seconds=integration.unack_timeout_seconds,
        warnings=view.warnings,
    )


def _out(request: ApiRequest, view: IntegrationView) -> schemas.IntegrationOut:
    inbound_domain = request.ports.settings.inbound_email_domain
    return integration_out(view, base_url=request.base_url, now=request.now, inbound_domain=inbound_domain)


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    def out(view: IntegrationView) -> dict[str, Any]:
        return _out(current(api), view).model_dump(mode="json")

    @api.get(PATH)
    def list_integrations() -> schemas.IntegrationPage:
        request = current(api)
        found = integrations.list_integrations(
            request.ports, request.principal, name=request.first("name"), team_id=request.first("team_id")
        )
        return schemas.IntegrationPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, out))

    @api.post(PATH)
    def create_integration(body: Annotated[schemas.IntegrationIn, Body()]) -> Response[schemas.IntegrationOut]:
        request = current(api)
        view = integrations.create_integration(request.ports, request.principal, body)
        return Response(201, "application/json", _out(request, view))

    @api.get(f"{PATH}/<integration_id>")
    def get_integration(integration_id: str) -> schemas.IntegrationOut:
        request = current(api)
        return _out(request, integrations.get_integration(request.ports, request.principal, integration_id))

    @api.route(f"{PATH}/<integration_id>", method=["PUT", "PATCH"])
    def update_integration(
        integration_id: str, body: Annotated[schemas.IntegrationPatch, Body()]
    ) -> schemas.IntegrationOut:
        request = current(api)
        view = integrations.update_integration(request.ports, request.principal, integration_id, body)
        return _out(request, view)

    @api.delete(f"{PATH}/<integration_id>")
    def delete_integration(integration_id: str) -> Response[None]:
        request = current(api)
        integrations.delete_integration(request.ports, request.principal, integration_id)
        return Response(204)

    @api.post(f"{PATH}/<integration_id>/send_demo_alert")
    def send_demo_alert(integration_id: str) -> schemas.DemoAlertOut:
        request = current(api)
        raw = json_body(api.current_event.decoded_body)
        payload = raw.get("demo_alert_payload", raw.get("payload")) if isinstance(raw, dict) else None
        group_ids = integrations.send_demo_alert(request.ports, request.principal, integration_id, payload)
        return schemas.DemoAlertOut(alert_group_ids=group_ids)

    @api.post(f"{PATH}/<integration_id>/regenerate_token")
    def regenerate_token(integration_id: str) -> schemas.IntegrationOut:
        request = current(api)
        return _out(request, integrations.regenerate_token(request.ports, request.principal, integration_id))

    @api.post(f"{PATH}/<integration_id>/maintenance_start")
    def maintenance_start(
        integration_id: str, body: Annotated[schemas.MaintenanceIn, Body()]
    ) -> schemas.IntegrationOut:
        request = current(api)
        view = integrations.start_maintenance(request.ports, request.principal, integration_id, body)
        return _out(request, view)

    @api.post(f"{PATH}/<integration_id>/maintenance_stop")
    def maintenance_stop(integration_id: str) -> schemas.IntegrationOut:
        request = current(api)
        return _out(request, integrations.stop_maintenance(request.ports, request.principal, integration_id))

    @api.post(f"{PATH}/<integration_id>/heartbeat_reset")
    def heartbeat_reset(integration_id: str) -> schemas.IntegrationOut:
        request = current(api)
        return _out(request, integrations.reset_heartbeat(request.ports, request.principal, integration_id))

    return api
