"""Integrations: the list with heartbeat and maintenance state, creating one, demo alerts, maintenance, and the
template editor with its live preview against the integration's latest payload."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from oncall import integration_types, schemas
from oncall.api.routes.integrations import integration_out
from oncall.errors import InvalidInput, NotFound
from oncall.ingest import IngestError, demo_payload, parse_body
from oncall.ports import GroupFilter
from oncall.services import integrations as integrations_service
from oncall.services.policy import Action, Resource, allows
from oncall.web import views
from oncall.web.base import Request, Response, Route, back, error_text, may_change, page


def shape(request: Request, view: integrations_service.IntegrationView) -> dict[str, Any]:
    """The integration as the API shows it (the console's pages read the same shape)."""
    out = integration_out(
        view,
        base_url=request.base_url,
        now=request.now,
        inbound_domain=request.container.settings.inbound_email_domain,
    )
    return out.model_dump(mode="json")


def duration_text(seconds: int) -> str:
    """``10 min``, ``1 h``, ``90 s``."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def heartbeat_text(beat: dict[str, Any] | None, moment: datetime) -> str:
    """The heartbeat's state in words: ``alive, last beat 12:03:04 UTC, timeout 10 min``, ``expired, …``,
    ``waiting for the first beat, timeout 10 min``; ``—`` for types without a heartbeat."""
    if beat is None:
        return "—"
    timeout = duration_text(int(beat.get("timeout_seconds") or 0))
    last = beat.get("last_heartbeat_time")
    if beat.get("status") == "inactive" or not last:
        return f"waiting for the first beat, timeout {timeout}"
    at = datetime.fromisoformat(str(last).replace("Z", "+00:00")).astimezone(UTC)
    when = f"{at:%H:%M:%S} UTC" if at.date() == moment.astimezone(UTC).date() else f"{at:%Y-%m-%d %H:%M:%S} UTC"
    return f"{beat.get('status')}, last beat {when}, timeout {timeout}"


def secret_name(integration_type: str) -> str | None:
    """What an integration's token is to its senders (what "New …" regenerates); None when it has no sender."""
    kind = integration_types.get(integration_type)
    if kind is None or not kind.creatable:
        return None
    if kind.has_ingest_url:
        return "URL"
    return {"inbound_email": "e-mail address", "pagerduty": "routing key"}.get(integration_type)


def secret_hint(integration: dict[str, Any]) -> str | None:
    """How the list tells the integration's URL apart without showing it (tokens are stored hashed): the URL's
    end with the token's first characters (``…/webhook/Ab3x…/``), the masked e-mail address, the routing key's
    start."""
    hint = integration.get("token_hint")
    if not hint:
        return None
    name = secret_name(integration["type"])
    if name == "URL":
        return f"…/{integration['type']}/{hint}…/"
    if name == "e-mail address":
        return integration.get("inbound_email") or f"{hint}…@"
    if name == "routing key":
        return f"{hint}…"
    return None


def shown_secrets(shown: dict[str, Any]) -> list[dict[str, str]]:
    """The fields of a created (or new-token) integration that are shown once, each with a copy button."""
    beat_link = (shown.get("heartbeat") or {}).get("link")
    fields = [
        ("created-link", "URL", "URL", shown.get("link"), "POST alerts to it."),
        ("created-heartbeat-link", "Heartbeat URL", "heartbeat URL", beat_link, "GET or POST it regularly."),
        ("created-routing-key", "Routing key", "routing key", shown.get("routing_key"), None),
        ("created-email", "E-mail address", "e-mail address", shown.get("inbound_email"), None),
    ]
    return [
        {"id": id_, "label": label, "name": name, "value": value, "help": help_ or ""}
        for id_, label, name, value, help_ in fields
        if value
    ]


def _replaced(shown: dict[str, Any]) -> dict[str, str]:
    names = [field["name"] for field in shown_secrets(shown)] or ["token"]
    verb = "stop" if len(names) > 1 else "stops"
    return {
        "name": secret_name(shown["type"]) or "token",
        "warning": f"The old {' and '.join(names)} {verb} working",
    }


def integrations(
    request: Request, created: dict[str, Any] | None = None, status: int = 200, regenerated: bool = False
) -> Response:
    """The list; after creating an integration or a new token, its URL, heartbeat URL, e-mail address or routing
    key (shown only then: tokens are stored hashed)."""
    listing = [
        shape(request, view) for view in integrations_service.list_integrations(request.ports, request.principal)
    ]
    creatable = sorted(name for name, kind in integration_types.TYPES.items() if kind.creatable)
    chains = request.store.chains.list()
    moment = request.now
    rows = [
        {
            **i,
            "heartbeat_text": heartbeat_text(i["heartbeat"], moment),
            "secret_name": secret_name(i["type"]),
            "secret_hint": secret_hint(i),
            "may_change": may_change(request, Resource.INTEGRATIONS, i["team_id"]),
        }
        for i in listing
    ]
    return page(
        request,
        "integrations.html",
        status,
        integrations=rows,
        types=creatable,
        created=created,
        secrets=shown_secrets(created) if created else [],
        replaced=_replaced(created) if created and regenerated else None,
        chains={c.id: c.name for c in chains},
        may_create=allows(request.principal, Resource.INTEGRATIONS, Action.CREATE),
    )


def create_integration(request: Request) -> Response:
    body = schemas.IntegrationIn(
        name=request.form.get("name", "").strip(),
        type=request.form.get("type", "webhook"),
        default_chain_notifies_me=request.form.get("default_chain_notifies_me") == "on",
    )
    created = integrations_service.create_integration(request.ports, request.principal, body)
    return integrations(request, created=shape(request, created), status=201)


def regenerate_token(request: Request, integration_id: str) -> Response:
    """A new token: the new URL (and heartbeat URL, e-mail address, routing key) is shown once; the old one stops
    working (within a second in every ingest container: the store bumps the auth epoch)."""
    changed = integrations_service.regenerate_token(request.ports, request.principal, integration_id)
    return integrations(request, created=shape(request, changed), regenerated=True)


def integration_action(request: Request, integration_id: str, action: str) -> Response:
    ports, caller = request.ports, request.principal
    if action == "send_demo_alert":
        ids = integrations_service.send_demo_alert(ports, caller, integration_id, None)
        return back(request, "/integrations", notice=f"Demo alert sent (alert group {', '.join(ids)}).")
    if action == "maintenance_start":
        body = schemas.MaintenanceIn.model_validate(
            {"mode": request.form.get("mode", "maintenance"), "duration": request.form.get("duration") or 3600}
        )
        integrations_service.start_maintenance(ports, caller, integration_id, body)
        return back(request, "/integrations", notice="Maintenance started.")
    if action == "maintenance_stop":
        integrations_service.stop_maintenance(ports, caller, integration_id)
        return back(request, "/integrations", notice="Maintenance stopped.")
    raise NotFound()


# --- template editor --------------------------------------------------------------------------------------------


def _latest_payload(request: Request, integration_id: str, integration_type: str) -> Any:
    latest = request.store.groups.list(GroupFilter(integration_id=integration_id), 1, None).items
    if latest and latest[0].last_alert_id:
        alerts = request.store.groups.alerts_by_id([(latest[0].id, latest[0].last_alert_id)])
        if alert := alerts.get(latest[0].last_alert_id):
            return alert.payload
    return demo_payload(integration_type, None)


def template_editor(request: Request, integration_id: str, status: int = 200, **extra: Any) -> Response:
    """The editor; its preview only for those who may change the integration (a preview renders what they wrote)."""
    view = integrations_service.get_integration(request.ports, request.principal, integration_id)
    integration = view.integration
    texts = extra.pop("texts", None) or {name: integration.template(name) or "" for name, _ in views.TEMPLATE_FIELDS}  # type: ignore[arg-type]
    payload = extra.pop("payload", None)
    if payload is None:
        payload = _latest_payload(request, integration_id, integration.type)
    editable = may_change(request, Resource.INTEGRATIONS, integration.team_id)
    preview = (
        integrations_service.preview_templates(request.ports, request.principal, integration_id, texts, payload)
        if editable
        else None
    )
    return page(
        request,
        "templates.html",
        status,
        integration=integration,
        fields=views.TEMPLATE_FIELDS,
        texts=texts,
        payload_text=extra.pop("payload_text", None) or json.dumps(payload, indent=2, ensure_ascii=False),
        preview=preview,
        editable=editable,
        may_change_some=may_change(request, Resource.INTEGRATIONS, None),
        **extra,
    )


def _posted_templates(request: Request) -> tuple[dict[str, str], Any, str | None]:
    texts = {name: request.form.get(name, "") for name, _ in views.TEMPLATE_FIELDS}
    posted = request.form.get("payload") or ""
    if not posted.strip():
        return texts, None, None
    try:  # read as ingest reads a body, so that what it would refuse (nested too deeply, ...) is a message here
        return texts, parse_body(posted.encode("utf-8", "surrogatepass"), "application/json"), None
    except IngestError as error:
        return texts, None, str(error)


def template_preview(request: Request, integration_id: str) -> Response:
    texts, payload, problem = _posted_templates(request)
    if problem is not None:  # a payload ingest would refuse: a 400 with its message, for those who may preview
        integrations_service.load_for_change(request.ports, request.principal, integration_id)
        if request.htmx:
            return page(request, "preview.html", 400, preview=None, payload_problem=problem)
        posted = request.form.get("payload", "")
        return template_editor(request, integration_id, 400, texts=texts, payload_problem=problem, payload_text=posted)
    if not request.htmx:  # the no-JavaScript preview button: the whole editor page
        return template_editor(request, integration_id, texts=texts, payload=payload)
    result = integrations_service.preview_templates(request.ports, request.principal, integration_id, texts, payload)
    return page(request, "preview.html", preview=result)


def template_save(request: Request, integration_id: str) -> Response:
    texts, payload, _ = _posted_templates(request)
    integration = integrations_service.get_integration(request.ports, request.principal, integration_id).integration
    defaults = replace(integration, templates=type(integration.templates)())

    def value(name: str) -> str | None:
        """None (the type's default) for an empty text or one equal to the default."""
        text = texts[name].replace("\r\n", "\n")
        default = (defaults.template(name) or "").replace("\r\n", "\n")  # type: ignore[arg-type]
        return None if not text.strip() or text == default else text

    body = schemas.IntegrationPatch(
        templates=schemas.TemplatesIn(
            grouping_key=value("grouping_id"),
            resolve_signal=value("resolve_condition"),
            acknowledge_signal=value("acknowledge_condition"),
            source_link=value("source_link"),
            web=schemas.AppearanceTemplates(title=value("title"), message=value("message")),
        )
    )
    try:
        integrations_service.update_integration(request.ports, request.principal, integration_id, body)
    except InvalidInput as error:
        return template_editor(request, integration_id, 400, texts=texts, payload=payload, save_error=error_text(error))
    return back(request, f"/integrations/{quote(integration_id)}/templates", notice="Templates saved.")


ROUTES: list[Route] = [
    ("GET", r"/integrations", integrations),
    ("POST", r"/integrations", create_integration),
    ("POST", r"/integrations/([\w-]+)/regenerate_token", regenerate_token),
    ("POST", r"/integrations/([\w-]+)/(send_demo_alert|maintenance_start|maintenance_stop)", integration_action),
    ("GET", r"/integrations/([\w-]+)/templates", template_editor),
    ("POST", r"/integrations/([\w-]+)/templates", template_save),
    ("POST", r"/integrations/([\w-]+)/preview", template_preview),
]
