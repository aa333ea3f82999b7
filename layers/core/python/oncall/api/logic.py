"""Use cases of the management API. Each takes the store port and plain values, and returns API shapes.

Errors: :class:`ApiError` carries the HTTP status and a DRF-style body (``{"detail": ...}`` or
``{"field": ["message"]}``) so OnCall clients read them as they always have.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from oncall import (
    actions,
    escalation,
    heartbeat,
    ids,
    inbound_email,
    integration_types,
    maintenance,
    routing,
    schemas,
    templating,
)
from oncall.clock import Clock
from oncall.executor import Executor
from oncall.ingest import IngestError, demo_payload, ingest
from oncall.models import (
    Alert,
    AlertGroup,
    Heartbeat,
    Integration,
    IntegrationConfig,
    LabelMatch,
    Route,
    Templates,
    TimelineEntry,
)
from oncall.ports import GroupFilter, Store
from oncall.scheduler import NoScheduler, Scheduler

T = TypeVar("T")
PAGE_SIZE = 50
ROUTES_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_ACTION_ATTEMPTS = 5

# API template key -> internal template name
TEMPLATE_KEYS = {
    "grouping_key": "grouping_id",
    "resolve_signal": "resolve_condition",
    "acknowledge_signal": "acknowledge_condition",
    "source_link": "source_link",
}
STATE_FILTERS = {
    "new": "firing",
    "firing": "firing",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "silenced": "silenced",
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body

    @classmethod
    def detail(cls, message: str, status: int = 400) -> ApiError:
        return cls(status, {"detail": message})

    @classmethod
    def field(cls, name: str, message: str) -> ApiError:
        return cls(400, {name: [message]})


def field_errors(problems: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """pydantic's validation problems as DRF-style field errors (``{"name": ["message"]}``), as OnCall answers."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        fields.setdefault(".".join(location) or "non_field_errors", []).append(message)
    return fields


def not_found() -> ApiError:
    return ApiError.detail("Not found.", 404)


@dataclass(frozen=True)
class RequestInfo:
    """What use cases need of the HTTP request: where the deployment is reachable, and the query."""

    base_url: str  # e.g. https://abc.execute-api.eu-west-1.amazonaws.com
    path: str
    query: dict[str, list[str]]
    now: datetime  # when the request is served, from the handler's clock
    inbound_domain: str | None = None  # the deployment's domain of inbound e-mail integrations

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


# --- pagination -----------------------------------------------------------------------------------------------


def _page_size(request: RequestInfo, default: int) -> int:
    raw = request.first("perpage") or request.first("page_size")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError as error:
        raise ApiError.field("perpage", "A valid integer is required.") from error
    return max(1, min(size, MAX_PAGE_SIZE))


def _decode_api_cursor(raw: str | None) -> list[str | None]:
    if not raw:
        return []
    try:
        trail = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError as error:
        raise ApiError.field("cursor", "Invalid cursor.") from error
    if not isinstance(trail, list) or not all(step is None or isinstance(step, str) for step in trail):
        raise ApiError.field("cursor", "Invalid cursor.")
    return trail


def _encode_api_cursor(trail: list[str | None]) -> str:
    return base64.urlsafe_b64encode(json.dumps(trail).encode()).decode().rstrip("=")


def _page_url(request: RequestInfo, trail: list[str | None]) -> str:
    query = {k: v for k, v in request.query.items() if k not in ("cursor", "page")}
    pairs = [(k, value) for k, values in query.items() for value in values]
    if trail:
        pairs.append(("cursor", _encode_api_cursor(trail)))
    encoded = urlencode(pairs)
    return f"{request.base_url}{request.path}" + (f"?{encoded}" if encoded else "")


def paginate_cursor(request: RequestInfo, count: int, size: int, fetch: Any, convert: Any) -> dict[str, Any]:
    """Cursor pagination dressed as OnCall's page-number pagination (``next``/``previous`` are URLs).

    The cursor carries the trail of store cursors of the pages before, so ``previous`` works too.
    """
    trail = _decode_api_cursor(request.first("cursor"))
    try:
        page = fetch(size, trail[-1] if trail else None)
    except ValueError as error:
        raise ApiError.field("cursor", "Invalid cursor.") from error
    number = len(trail) + 1
    next_url = _page_url(request, [*trail, page.cursor]) if page.cursor else None
    previous_url = _page_url(request, trail[:-1]) if trail else None
    return {
        "count": count,
        "next": next_url,
        "previous": previous_url,
        "results": [convert(i) for i in page.items],
        "current_page_number": number,
        "page_size": size,
        "total_pages": max(1, math.ceil(count / size)),
    }


def paginate_list(request: RequestInfo, items: list[T], default_size: int, convert: Any) -> dict[str, Any]:
    """Page-number pagination over a list already in memory (integrations, routes: small sets)."""
    size = _page_size(request, default_size)
    raw_page = request.first("page") or "1"
    try:
        number = max(1, int(raw_page))
    except ValueError as error:
        raise ApiError.field("page", "A valid integer is required.") from error
    total_pages = max(1, math.ceil(len(items) / size))
    if number > total_pages:
        raise ApiError.detail("Invalid page.", 404)

    def url(n: int) -> str:
        query = {k: v for k, v in request.query.items() if k != "page"}
        pairs = [(k, value) for k, values in query.items() for value in values] + [("page", str(n))]
        return f"{request.base_url}{request.path}?{urlencode(pairs)}"

    chunk = items[(number - 1) * size : number * size]
    return {
        "count": len(items),
        "next": url(number + 1) if number < total_pages else None,
        "previous": url(number - 1) if number > 1 else None,
        "results": [convert(i) for i in chunk],
        "current_page_number": number,
        "page_size": size,
        "total_pages": total_pages,
    }


# --- integrations ---------------------------------------------------------------------------------------------


def ingest_link(request: RequestInfo, integration: Integration, token: str | None) -> str | None:
    kind = integration_types.get(integration.type)
    if token is None or kind is None or not kind.has_ingest_url:
        return None
    return f"{request.base_url}/integrations/v1/{integration.type.removeprefix('legacy_')}/{token}/"


def integration_out(
    request: RequestInfo,
    integration: Integration,
    default_route: Route | None,
    token: str | None = None,
    beat: Heartbeat | None = None,
) -> dict[str, Any]:
    kind = integration_types.get(integration.type)
    beat = beat or Heartbeat()
    link = ingest_link(request, integration, token)
    t = integration.templates
    routing_key = token if integration.type == "pagerduty" else None  # shown once, like ``link``
    return schemas.IntegrationOut(
        id=integration.id,
        name=integration.name,
        description_short=integration.description_short,
        team_id=integration.team_id,
        link=link,
        token_hint=integration.token_hint,
        routing_key=routing_key,
        inbound_email=inbound_email.address(integration.type, token, integration.token_hint, request.inbound_domain),
        type=integration.type.removeprefix("legacy_"),
        default_route=schemas.DefaultRoute(
            id=default_route.id if default_route else "",
            escalation_chain_id=default_route.escalation_chain_id if default_route else None,
        ),
        templates=schemas.TemplatesOut(
            grouping_key=t.grouping_id,
            resolve_signal=t.resolve_condition,
            acknowledge_signal=t.acknowledge_condition,
            source_link=t.source_link,
            web=schemas.AppearanceTemplates(title=t.title, message=t.message, image_url=t.image_url),
        ),
        heartbeat=schemas.Heartbeat(
            link=f"{link}heartbeat/" if link else None,
            timeout_seconds=beat.timeout_seconds,
            status=beat.status(request.now),
            last_heartbeat_time=beat.last_beat_at,
        )
        if kind and kind.has_heartbeat
        else None,
        maintenance_mode=integration.maintenance_mode,
        maintenance_started_at=integration.maintenance_started_at,
        maintenance_end_at=integration.maintenance_end_at,
        labels=integration.static_labels,
        dynamic_labels=integration.label_templates,
        allow_source_based_resolving=integration.allow_source_based_resolving,
        ack_reminder_seconds=integration.ack_reminder_seconds,
        unack_timeout_seconds=integration.unack_timeout_seconds,
    ).model_dump(mode="json")


def _templates_from(payload: schemas.TemplatesIn, current: Templates) -> Templates:
    """Apply API template keys; an explicit null resets a template to its default."""
    updates: dict[str, str | None] = {}
    given = payload.model_fields_set
    for api_key, name in TEMPLATE_KEYS.items():
        if api_key in given:
            updates[name] = getattr(payload, api_key)
    if "web" in given:
        web = payload.web
        for name in ("title", "message", "image_url"):
            if web is None or name in web.model_fields_set:
                updates[name] = getattr(web, name) if web else None
    errors: dict[str, str] = {}
    for name, template in updates.items():
        if template:
            try:
                templating.validate(template)
            except templating.TemplateProblem as problem:
                api_key = next((k for k, v in TEMPLATE_KEYS.items() if v == name), f"web.{name}")
                errors[api_key] = problem.fallback
    if errors:
        raise ApiError(400, {"templates": errors})
    return current.model_copy(update=updates)


def _validate_label_templates(labels: dict[str, str]) -> None:
    for key, template in labels.items():
        try:
            templating.validate(template)
        except templating.TemplateProblem as problem:
            raise ApiError(400, {"dynamic_labels": {key: problem.fallback}}) from problem


def _unique_name(store: Store, name: str, team_id: str | None, exclude: str | None = None) -> None:
    for other in store.integrations.list():
        if other.id != exclude and other.name == name and other.team_id == team_id:
            raise ApiError.field("name", "An integration with this name already exists in this team.")


def list_integrations(store: Store, request: RequestInfo) -> dict[str, Any]:
    items = store.integrations.list()
    if name := request.first("name"):
        items = [i for i in items if i.name == name]
    if team_id := request.first("team_id"):
        items = [i for i in items if i.team_id == team_id]
    routes = {r.integration_id: r for r in store.integrations.routes() if r.is_default}
    beats = store.heartbeats.all()
    return paginate_list(
        request, items, PAGE_SIZE, lambda i: integration_out(request, i, routes.get(i.id), beat=beats.get(i.id))
    )


def _load_integration(store: Store, integration_id: str) -> tuple[Integration, Route]:
    config = _load_config(store, integration_id)
    return config.integration, config.default_route


def _load_config(store: Store, integration_id: str) -> IntegrationConfig:
    config = store.integrations.config(integration_id)
    if config is None:
        raise not_found()
    return config


def get_integration(store: Store, request: RequestInfo, integration_id: str) -> dict[str, Any]:
    config = _load_config(store, integration_id)
    return integration_out(request, config.integration, config.default_route, beat=config.heartbeat)


def create_integration(
    store: Store, request: RequestInfo, body: schemas.IntegrationIn, now: datetime
) -> dict[str, Any]:
    kind = integration_types.get(body.type)
    if kind is None:
        raise ApiError.field(
            "type", f"Invalid integration type. Valid types: {', '.join(sorted(integration_types.TYPES))}"
        )
    if not kind.creatable:
        raise ApiError.field("type", f"Integrations of type {body.type} cannot be created.")
    _unique_name(store, body.name, body.team_id)
    if body.dynamic_labels:
        _validate_label_templates(body.dynamic_labels)
    token = ids.new_token(kind.token_length)
    integration = Integration(
        id=ids.new_id(ids.INTEGRATION),
        name=body.name,
        type=body.type,
        token_hash=ids.secret_hash(token),
        token_hint=token[:4],
        team_id=body.team_id,
        description_short=body.description_short,
        created_at=now,
        templates=_templates_from(body.templates, Templates()) if body.templates else Templates(),
        static_labels=body.labels or {},
        label_templates=body.dynamic_labels if body.dynamic_labels is not None else dict(kind.default_labels or {}),
        allow_source_based_resolving=True
        if body.allow_source_based_resolving is None
        else body.allow_source_based_resolving,
        ack_reminder_seconds=body.ack_reminder_seconds,
        unack_timeout_seconds=body.unack_timeout_seconds,
    )
    _check_chain(store, (body.default_route or {}).get("escalation_chain_id"))
    default_route = Route(
        id=ids.new_id(ids.ROUTE),
        integration_id=integration.id,
        is_default=True,
        escalation_chain_id=(body.default_route or {}).get("escalation_chain_id"),
    )
    store.integrations.create(integration, default_route)
    return integration_out(request, integration, default_route, token)


def update_integration(
    store: Store, request: RequestInfo, integration_id: str, body: schemas.IntegrationPatch
) -> dict[str, Any]:
    integration, default_route = _load_integration(store, integration_id)
    given = body.model_fields_set
    updates: dict[str, Any] = {}
    if "name" in given and body.name is not None and body.name != integration.name:
        _unique_name(store, body.name, integration.team_id, exclude=integration.id)
        updates["name"] = body.name
    for field in ("team_id", "description_short"):
        if field in given:
            updates[field] = getattr(body, field)
    if "templates" in given and body.templates is not None:
        updates["templates"] = _templates_from(body.templates, integration.templates)
    if "labels" in given:
        updates["static_labels"] = body.labels or {}
    if "dynamic_labels" in given:
        _validate_label_templates(body.dynamic_labels or {})
        updates["label_templates"] = body.dynamic_labels or {}
    for field in ("allow_source_based_resolving", "ack_reminder_seconds", "unack_timeout_seconds"):
        if field in given and getattr(body, field) is not None:
            updates[field] = getattr(body, field)
    integration = integration.model_copy(update=updates)
    store.integrations.update(integration)
    config = _load_config(store, integration.id)
    if body.heartbeat is not None:
        if not heartbeat.has_heartbeat(integration.type):
            raise ApiError.field("heartbeat", f"Integrations of type {integration.type} have no heartbeat.")
        store.heartbeats.set(
            integration.id, config.heartbeat.model_copy(update={"timeout_seconds": body.heartbeat.timeout_seconds})
        )
    if body.default_route and "escalation_chain_id" in body.default_route:
        _check_chain(store, body.default_route["escalation_chain_id"])
        default_route = default_route.model_copy(
            update={"escalation_chain_id": body.default_route["escalation_chain_id"]}
        )
        store.integrations.save_routes(integration.id, [default_route])
    return get_integration(store, request, integration.id)


def delete_integration(store: Store, integration_id: str) -> None:
    integration, _ = _load_integration(store, integration_id)
    if integration.type == "direct_paging":
        raise ApiError.detail("Direct paging integrations cannot be deleted.")
    store.integrations.delete(integration_id)


def regenerate_token(store: Store, request: RequestInfo, integration_id: str) -> dict[str, Any]:
    integration, default_route = _load_integration(store, integration_id)
    kind = integration_types.get(integration.type)
    token = ids.new_token(kind.token_length if kind else 25)
    changed = integration.model_copy(update={"token_hash": ids.secret_hash(token), "token_hint": token[:4]})
    store.integrations.replace_token(integration, changed)
    return integration_out(request, changed, default_route, token)


def send_demo_alert(
    store: Store, executor: Executor, integration_id: str, payload: Any, now: datetime
) -> dict[str, Any]:
    config = store.integrations.config(integration_id)
    if config is None:
        raise not_found()
    try:
        body = demo_payload(config.integration.type, payload)
    except IngestError as error:
        raise ApiError.detail(str(error)) from error
    stored = ingest(store, config, body, now=now, is_demo=True, executor=executor)
    return {"alert_group_ids": sorted({s.group_id for s in stored})}


# --- routes ---------------------------------------------------------------------------------------------------


def route_out(route: Route) -> dict[str, Any]:
    return schemas.RouteOut(
        id=route.id,
        integration_id=route.integration_id,
        escalation_chain_id=route.escalation_chain_id,
        routing_type=route.routing_type,
        routing_regex=route.routing_regex,
        routing_labels=[schemas.LabelMatchIn(key=m.key, value=m.value) for m in route.routing_labels],
        position=route.position,
        is_the_last_route=route.is_default,
    ).model_dump(mode="json")


def _check_routing(routing_type: str, term: str | None, labels: list[schemas.LabelMatchIn] | None) -> None:
    if routing_type == "labels":
        if not labels:
            raise ApiError.field("routing_labels", "At least one label is required for routing by labels.")
        return
    problem = routing.validate_routing_term(routing_type, term)
    if problem:
        raise ApiError.field("routing_regex", problem)


def _renumber(routes: list[Route], moved: Route | None, position: int | None) -> list[Route]:
    """Positions 0..n-1 of the non-default routes, with ``moved`` placed at ``position``."""
    ordered = [r for r in routes if not r.is_default and (moved is None or r.id != moved.id)]
    ordered.sort(key=lambda r: r.position)
    if moved is not None:
        ordered.insert(len(ordered) if position is None else min(position, len(ordered)), moved)
    return [r.model_copy(update={"position": i}) for i, r in enumerate(ordered)]


def list_routes(store: Store, request: RequestInfo) -> dict[str, Any]:
    routes = store.integrations.routes(request.first("integration_id"))
    if regex := request.first("routing_regex"):
        routes = [r for r in routes if r.routing_regex == regex]
    return paginate_list(request, routes, ROUTES_PAGE_SIZE, route_out)


def get_route(store: Store, route_id: str) -> dict[str, Any]:
    route = store.integrations.route(route_id)
    if route is None:
        raise not_found()
    return route_out(route)


def _check_chain(store: Store, chain_id: str | None) -> None:
    if chain_id and store.chains.get(chain_id) is None:
        raise ApiError.field("escalation_chain_id", "Escalation chain not found.")


def create_route(store: Store, body: schemas.RouteIn) -> dict[str, Any]:
    config = store.integrations.config(body.integration_id)
    if config is None:
        raise ApiError.field("integration_id", "Integration not found.")
    _check_chain(store, body.escalation_chain_id)
    _check_routing(body.routing_type, body.routing_regex, body.routing_labels)
    route = Route(
        id=ids.new_id(ids.ROUTE),
        integration_id=body.integration_id,
        routing_type=body.routing_type,
        routing_regex=body.routing_regex if body.routing_type != "labels" else None,
        routing_labels=[LabelMatch(key=m.key, value=m.value) for m in body.routing_labels or []],
        escalation_chain_id=body.escalation_chain_id,
    )
    renumbered = _renumber(config.routes, route, body.position)
    store.integrations.save_routes(body.integration_id, renumbered)
    return route_out(next(r for r in renumbered if r.id == route.id))


def update_route(store: Store, route_id: str, body: schemas.RoutePatch) -> dict[str, Any]:
    route = store.integrations.route(route_id)
    if route is None:
        raise not_found()
    given = body.model_fields_set
    if "escalation_chain_id" in given:
        _check_chain(store, body.escalation_chain_id)
    routing_type = body.routing_type or route.routing_type
    term = body.routing_regex if "routing_regex" in given else route.routing_regex
    labels = (
        body.routing_labels
        if "routing_labels" in given
        else [schemas.LabelMatchIn(key=m.key, value=m.value) for m in route.routing_labels]
    )
    if route.is_default and ({"routing_regex", "routing_type", "routing_labels", "position"} & given):
        raise ApiError.detail("The default route matches everything; its filter and position cannot change.")
    if not route.is_default:
        _check_routing(routing_type, term, labels)
    updated = route.model_copy(
        update={
            "routing_type": routing_type,
            "routing_regex": term if routing_type != "labels" else None,
            "routing_labels": [LabelMatch(key=m.key, value=m.value) for m in labels or []]
            if routing_type == "labels"
            else [],
            "escalation_chain_id": body.escalation_chain_id
            if "escalation_chain_id" in given
            else route.escalation_chain_id,
        }
    )
    if route.is_default:
        store.integrations.save_routes(route.integration_id, [updated])
        return route_out(updated)
    config = store.integrations.config(route.integration_id)
    assert config is not None
    position = body.position if "position" in given else route.position
    renumbered = _renumber(config.routes, updated, position)
    store.integrations.save_routes(route.integration_id, renumbered)
    return route_out(next(r for r in renumbered if r.id == route.id))


def delete_route(store: Store, route_id: str) -> None:
    route = store.integrations.route(route_id)
    if route is None:
        raise not_found()
    if route.is_default:
        raise ApiError.detail("The default route cannot be deleted.")
    config = store.integrations.config(route.integration_id)
    assert config is not None
    remaining = [r for r in config.routes if r.id != route_id]
    store.integrations.save_routes(route.integration_id, _renumber(remaining, None, None), deleted=[route_id])


# --- alert groups and alerts ----------------------------------------------------------------------------------


def alert_out(alert: Alert) -> dict[str, Any]:
    return _alert_model(alert).model_dump(mode="json")


def _alert_model(alert: Alert) -> schemas.AlertOut:
    return schemas.AlertOut(
        id=alert.id,
        alert_group_id=alert.group_id,
        created_at=alert.created_at,
        payload=alert.payload,
        title=alert.title,
        message=alert.message,
        image_url=alert.image_url,
        source_link=alert.source_link,
    )


def group_out(request: RequestInfo, group: AlertGroup, last_alert: Alert | None = None) -> dict[str, Any]:
    return schemas.AlertGroupOut(
        id=group.id,
        integration_id=group.integration_id,
        route_id=group.route_id,
        team_id=group.team_id,
        alerts_count=group.alerts_count,
        state=group.state_at(request.now).value,
        created_at=group.created_at,
        resolved_at=group.resolved_at,
        resolved_by=group.resolved_by,
        acknowledged_at=group.acknowledged_at,
        acknowledged_by=group.acknowledged_by,
        silenced_at=group.silenced_at if group.silenced else None,
        silenced_until=group.silenced_until,
        title=group.title,
        source_link=group.source_link,
        labels=[
            schemas.LabelPair(key=schemas.LabelRef(id=k, name=k), value=schemas.LabelRef(id=v, name=v))
            for k, v in group.labels.items()
        ],
        permalinks=schemas.Permalinks(web=f"{request.base_url}/api/v1/alert_groups/{group.id}/"),
        last_alert=_alert_model(last_alert) if last_alert else None,
    ).model_dump(mode="json")


def _parse_started_at(raw: str) -> tuple[datetime, datetime]:
    start, sep, end = raw.partition("_")
    try:
        if not sep:
            raise ValueError
        return (datetime.fromisoformat(start).replace(tzinfo=UTC), datetime.fromisoformat(end).replace(tzinfo=UTC))
    except ValueError as error:
        raise ApiError.field("started_at", "Use the format %Y-%m-%dT%H:%M:%S_%Y-%m-%dT%H:%M:%S.") from error


def group_filters(request: RequestInfo) -> GroupFilter:
    state = request.first("state")
    if state is not None and state.lower() not in STATE_FILTERS:
        raise ApiError.field("state", f"Invalid state. Valid states: {', '.join(STATE_FILTERS)}")
    after = before = None
    if raw := request.first("started_at"):
        after, before = _parse_started_at(raw)
    labels: list[tuple[str, str]] = []
    for raw_label in request.query.get("label", []):
        key, sep, value = raw_label.partition(":")
        if not sep or not key:
            raise ApiError.field("label", "Use label=key:value.")
        labels.append((key, value))
    group_id = request.first("id")
    return GroupFilter(
        integration_id=request.first("integration_id"),
        route_id=request.first("route_id"),
        state=STATE_FILTERS[state.lower()] if state else None,
        team_id=request.first("team_id"),
        started_after=after,
        started_before=before,
        labels=tuple(labels),
        ids=(group_id,) if group_id else (),
    )


def list_groups(store: Store, request: RequestInfo) -> dict[str, Any]:
    filters = group_filters(request)
    size = _page_size(request, PAGE_SIZE)
    count = store.groups.count(filters)
    page_alerts: dict[str, Alert] = {}

    def fetch(limit: int, cursor: str | None) -> Any:
        page = store.groups.list(filters, limit, cursor)
        page_alerts.update(store.groups.alerts_by_id([(g.id, g.last_alert_id) for g in page.items if g.last_alert_id]))
        return page

    return paginate_cursor(
        request, count, size, fetch, lambda g: group_out(request, g, page_alerts.get(g.last_alert_id or ""))
    )


def _load_group(store: Store, group_id: str) -> AlertGroup:
    group = store.groups.get(group_id)
    if group is None:
        raise not_found()
    return group


def get_group(store: Store, request: RequestInfo, group_id: str) -> dict[str, Any]:
    group = _load_group(store, group_id)
    alerts = store.groups.alerts_by_id([(group.id, group.last_alert_id)]) if group.last_alert_id else {}
    return group_out(request, group, alerts.get(group.last_alert_id or ""))


def group_timeline(store: Store, group_id: str) -> list[dict[str, Any]]:
    group = _load_group(store, group_id)
    # Registration and routing are facts of the group item itself (kept out of the ingest write path).
    opening = [
        TimelineEntry(group_id=group.id, at=group.created_at, type="registered", text="Alert group registered"),
        TimelineEntry(
            group_id=group.id,
            at=group.created_at,
            type="route_assigned",
            text=f"Routed to {group.route_description or 'route ' + group.route_id}",
        ),
    ]
    return [
        schemas.TimelineOut(**e.model_dump(include={"at", "type", "text", "author"})).model_dump(mode="json")
        for e in opening + store.groups.timeline(group_id)
    ]


RESTARTING_ACTIONS = frozenset({"unacknowledge", "unresolve", "unsilence"})


def apply_action(
    store: Store,
    executor: Executor,
    group_id: str,
    action: str,
    by: str,
    clock: Clock,
    body: Any = None,
    scheduler: Scheduler | None = None,
) -> AlertGroup:
    """Apply a state change with optimistic concurrency (re-read and re-check on a lost race), then start or
    stop the group's escalation to match. Returns the stored group."""
    for _ in range(MAX_ACTION_ATTEMPTS):
        group = _load_group(store, group_id)
        # Read, then timestamp: a change that won a race before this read gets an earlier time in the timeline.
        now = clock.now()
        if action == "resolve" and group.root_alert_group_id is not None:
            raise ApiError.detail("Can't resolve an attached alert group")
        if action == "resolve" and group.is_maintenance and not group.resolved:
            # Resolving the maintenance group ends the maintenance, which resolves it and everything attached.
            maintenance.stop(store, scheduler or NoScheduler(), executor, group.integration_id, now, by=by)
            return _load_group(store, group_id)
        try:
            if action == "silence":
                delay = actions.parse_silence_delay(body.get("delay") if isinstance(body, dict) else None)
                transition = actions.silence(group, by, now, delay)
                if delay > 0:  # escalation resumes from step 0 when the silence ends
                    transition.group = escalation.restarted(transition.group)
            else:
                transition = actions.ACTIONS[action](group, by, now)
                if action in RESTARTING_ACTIONS:
                    transition.group = escalation.restarted(transition.group)
        except actions.ActionError as error:
            raise ApiError.detail(str(error)) from error
        if store.groups.save(transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer):
            escalation.reconcile(store, executor, group, transition.group, now)
            if action == "acknowledge":
                escalation.start_reminder(store, executor, transition.group)
            return transition.group.model_copy(update={"version": group.version + 1})
    raise ApiError.detail("The alert group is changing too fast; try again.", 409)


def act_on_group(
    store: Store,
    executor: Executor,
    scheduler: Scheduler,
    request: RequestInfo,
    group_id: str,
    action: str,
    by: str,
    clock: Clock,
    body: Any = None,
) -> dict[str, Any]:
    return group_out(request, apply_action(store, executor, group_id, action, by, clock, body, scheduler))


def delete_group(store: Store, group_id: str, mode: str, by: str, now: datetime) -> None:
    group = _load_group(store, group_id)
    if mode == "delete":
        store.groups.delete(group_id)
        return
    transition = actions.wipe(group, by, now)
    if not store.groups.save(transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer):
        raise ApiError.detail("The alert group changed while wiping it; try again.", 409)
    store.groups.wipe_alerts(group_id, f"Wiped by {by} at {now.strftime('%Y-%m-%d %H:%M:%S UTC')}")


def list_alerts(store: Store, request: RequestInfo) -> dict[str, Any]:
    group_id = request.first("alert_group_id")
    if not group_id:
        raise ApiError.field("alert_group_id", "This filter is required (Tocsin lists alerts per alert group).")
    group = store.groups.get(group_id)
    if group is None:
        return {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
            "current_page_number": 1,
            "page_size": PAGE_SIZE,
            "total_pages": 1,
        }
    size = _page_size(request, PAGE_SIZE)
    search = request.first("search")
    alert_id = request.first("id")

    def fetch(limit: int, cursor: str | None) -> Any:
        page = store.groups.alerts(group_id, limit, cursor)
        if search or alert_id:
            page.items = [
                a
                for a in page.items
                if (not alert_id or a.id == alert_id) and (not search or search in json.dumps(a.payload))
            ]
        return page

    return paginate_cursor(request, group.alerts_count, size, fetch, alert_out)


# --- heartbeat and maintenance ------------------------------------------------------------------------------------


def reset_heartbeat(store: Store, request: RequestInfo, integration_id: str) -> dict[str, Any]:
    """Disarm: the heartbeat is inactive again until the next beat."""
    config = _load_config(store, integration_id)
    if not heartbeat.has_heartbeat(config.integration.type):
        raise ApiError.detail(f"Integrations of type {config.integration.type} have no heartbeat.")
    store.heartbeats.set(integration_id, Heartbeat(timeout_seconds=config.heartbeat.timeout_seconds))
    return get_integration(store, request, integration_id)


def start_maintenance(
    store: Store,
    scheduler: Scheduler,
    request: RequestInfo,
    integration_id: str,
    body: schemas.MaintenanceIn,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    _load_config(store, integration_id)
    try:
        maintenance.start(store, scheduler, integration_id, body.mode.lower(), body.duration, by, now)
    except maintenance.MaintenanceError as error:
        raise ApiError.detail(str(error)) from error
    return get_integration(store, request, integration_id)


def stop_maintenance(
    store: Store,
    scheduler: Scheduler,
    executor: Executor,
    request: RequestInfo,
    integration_id: str,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    _load_config(store, integration_id)
    if not maintenance.stop(store, scheduler, executor, integration_id, now, by=by):
        raise ApiError.detail("No maintenance is active for this integration.")
    return get_integration(store, request, integration_id)
