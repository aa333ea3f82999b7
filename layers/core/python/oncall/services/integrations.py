"""Use cases of integrations: create, read, change and delete them, their templates, labels, heartbeat and
maintenance windows, new ingest tokens, demo alerts and template previews.

Everyone reads every integration; editors change those of their teams or of no team (admins: all), and moving an
integration to another team needs the right in both (:mod:`oncall.services.policy`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import Field

from oncall import heartbeat, ids, integration_types, maintenance, templating
from oncall.codec import from_json
from oncall.errors import InvalidInput
from oncall.ingest import IngestError, demo_payload, ingest
from oncall.lazy_model import LazyModel
from oncall.models import Heartbeat, Integration, IntegrationConfig, Route, Templates
from oncall.ports import NameTaken
from oncall.schemas import (
    CHANNEL_TEMPLATES,
    ChainIn,
    IntegrationIn,
    IntegrationPatch,
    MaintenanceIn,
    PolicyIn,
    TemplatesIn,
)
from oncall.services import Ports, chains
from oncall.services.policy import Action, Principal, Resource, authorize, existing
from oncall.services.references import require_known
from oncall.services.warnings import Checker

# The templates an editor shows and previews, in order (Templates' fields but the image URL).
TEMPLATE_NAMES = ("grouping_id", "resolve_condition", "acknowledge_condition", "source_link", "title", "message")
# API template key -> internal template name
TEMPLATE_KEYS = {
    "grouping_key": "grouping_id",
    "resolve_signal": "resolve_condition",
    "acknowledge_signal": "acknowledge_condition",
    "source_link": "source_link",
}


class IntegrationView(LazyModel):
    """An integration as its readers see it; ``token`` only right after it was made (it is stored hashed);
    ``warnings``: why its alerts would notify nobody (:mod:`oncall.services.warnings`)."""

    integration: Integration
    default_route: Route | None
    heartbeat: Heartbeat
    token: str | None = None
    warnings: list[str] = Field(default_factory=list)


def _config(
    ports: Ports, integration_id: str, caller: Principal | None = None, action: Action = Action.READ
) -> IntegrationConfig:
    """The configuration; ``caller``: who will ``action`` it (unknown: 404 only to who may do that at all)."""
    return existing(ports.store.integrations.config(integration_id), caller, Resource.INTEGRATIONS, action)


def _view(ports: Ports, config: IntegrationConfig, token: str | None = None) -> IntegrationView:
    return IntegrationView(
        integration=config.integration,
        default_route=config.default_route,
        heartbeat=config.heartbeat,
        token=token,
        warnings=Checker(ports.store).routes(config.routes),
    )


def load_for_change(ports: Ports, caller: Principal, integration_id: str) -> IntegrationConfig:
    """The integration's configuration, once the caller may change it (routes are changed under the same rule)."""
    config = _config(ports, integration_id, caller, Action.UPDATE)
    authorize(caller, Resource.INTEGRATIONS, Action.UPDATE, teams=[config.integration.team_id])
    return config


# --- reading ----------------------------------------------------------------------------------------------------


def list_integrations(
    ports: Ports, caller: Principal, *, name: str | None = None, team_id: str | None = None
) -> list[IntegrationView]:
    authorize(caller, Resource.INTEGRATIONS, Action.READ)
    items = [
        i
        for i in ports.store.integrations.list()
        if (name is None or i.name == name) and (team_id is None or i.team_id == team_id)
    ]
    routes: dict[str, list[Route]] = {}
    for route in ports.store.integrations.routes():
        routes.setdefault(route.integration_id, []).append(route)
    beats = ports.store.heartbeats.all()
    checker = Checker(ports.store)
    return [
        IntegrationView(
            integration=i,
            default_route=next((r for r in routes.get(i.id, []) if r.is_default), None),
            heartbeat=beats.get(i.id) or Heartbeat(),
            warnings=checker.routes(routes.get(i.id, [])),
        )
        for i in items
    ]


def get_integration(ports: Ports, caller: Principal, integration_id: str) -> IntegrationView:
    authorize(caller, Resource.INTEGRATIONS, Action.READ)
    return _view(ports, _config(ports, integration_id))


# --- changing ---------------------------------------------------------------------------------------------------


def _templates_from(payload: TemplatesIn, current: Templates) -> Templates:
    """Apply API template keys; an explicit null resets a template to its default."""
    updates = _template_updates(payload)
    channels = _channel_templates(payload, current.channels)
    named = {next((k for k, v in TEMPLATE_KEYS.items() if v == name), f"web.{name}"): t for name, t in updates.items()}
    in_channels = {f"{channel}.{name}": t for channel, ts in channels.items() for name, t in ts.items()}
    if errors := _template_errors({**named, **in_channels}):
        raise InvalidInput.of_fields({"templates": errors})
    return replace(current, **updates, channels=channels)


def _template_updates(payload: TemplatesIn) -> dict[str, str | None]:
    """The templates ``payload`` sets (None: back to the default), by internal name."""
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
    return updates


def _template_errors(templates: dict[str, str | None]) -> dict[str, Any]:
    """What is wrong with each template that does not compile, by its API key."""
    errors: dict[str, Any] = {}
    for api_key, template in templates.items():
        if template:
            try:
                templating.validate(template)
            except templating.TemplateProblem as problem:
                errors[api_key] = problem.fallback
    return errors


def _channel_templates(payload: TemplatesIn, current: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The other channels' templates after ``payload``: the ones it names are set, a null or empty one removed."""
    channels = {channel: dict(templates) for channel, templates in current.items()}
    for channel in CHANNEL_TEMPLATES & payload.model_fields_set:
        given = getattr(payload, channel)
        templates = channels.setdefault(channel, {})
        if given is None:
            templates.clear()
        for name in given.model_fields_set if given else ():
            value = getattr(given, name)
            if value:
                templates[name] = value
            else:
                templates.pop(name, None)
    return {channel: templates for channel, templates in channels.items() if templates}


def _validate_label_templates(labels: dict[str, str]) -> None:
    for key, template in labels.items():
        try:
            templating.validate(template)
        except templating.TemplateProblem as problem:
            raise InvalidInput.of_fields({"dynamic_labels": {key: problem.fallback}}) from problem


def _name_taken() -> InvalidInput:
    return InvalidInput.field("name", "An integration with this name already exists in this team.")


def _unique_name(ports: Ports, name: str, team_id: str | None, exclude: str | None = None) -> None:
    """Refuse early a name the team's claim shows taken (exact match, as OnCall); the store's claim, written with
    the integration, decides races."""
    holder = ports.store.integrations.named(team_id, name)
    if holder is not None and holder != exclude:
        raise _name_taken()


def check_chain(ports: Ports, chain_id: str | None) -> None:
    if chain_id and ports.store.chains.get(chain_id) is None:
        raise InvalidInput.field("escalation_chain_id", "Escalation chain not found.")


def create_integration(ports: Ports, caller: Principal, body: IntegrationIn) -> IntegrationView:
    authorize(caller, Resource.INTEGRATIONS, Action.CREATE, teams=[body.team_id])
    kind = integration_types.get(body.type)
    if kind is None:
        raise InvalidInput.field(
            "type", f"Invalid integration type. Valid types: {', '.join(sorted(integration_types.TYPES))}"
        )
    if not kind.creatable:
        raise InvalidInput.field("type", f"Integrations of type {body.type} cannot be created.")
    require_known("team_id", [body.team_id], ports.store.teams.get)
    _unique_name(ports, body.name, body.team_id)
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
        created_at=ports.clock.now(),
        templates=_templates_from(body.templates, Templates()) if body.templates else Templates(),
        static_labels=body.labels or {},
        label_templates=body.dynamic_labels if body.dynamic_labels is not None else dict(kind.default_labels or {}),
        allow_source_based_resolving=True
        if body.allow_source_based_resolving is None
        else body.allow_source_based_resolving,
        ack_reminder_seconds=body.ack_reminder_seconds,
        unack_timeout_seconds=body.unack_timeout_seconds,
    )
    given = body.default_route
    chain_id = given.escalation_chain_id if given else None
    check_chain(ports, chain_id)
    if body.default_chain_notifies_me:
        if chain_id:
            raise InvalidInput.field(
                "default_chain_notifies_me", "default_chain_notifies_me and an escalation_chain_id are exclusive."
            )
        chain_id = _chain_notifying(ports, caller, body.name, body.team_id)
    default_route = Route(
        id=ids.new_id(ids.ROUTE),
        integration_id=integration.id,
        is_default=True,
        escalation_chain_id=chain_id,
        messengers=given.messengers({}) if given else {},
    )
    try:
        ports.store.integrations.create(integration, default_route)
    except NameTaken as taken:
        raise _name_taken() from taken
    return IntegrationView(
        integration=integration,
        default_route=default_route,
        heartbeat=Heartbeat(),
        token=token,
        warnings=Checker(ports.store).routes([default_route]),
    )


def _chain_notifying(ports: Ports, caller: Principal, integration_name: str, team_id: str | None) -> str:
    """A new escalation chain (of the integration's team) whose one step notifies the caller: the default chain
    offered when an integration is created, so its first alert reaches someone. The chain's own use cases
    authorize the caller to make it."""
    base = f"{integration_name}: notify {caller.username}"
    candidates = (n[:100] for n in (base, *(f"{base} ({i})" for i in range(2, 1000))))
    name = next(n for n in candidates if ports.store.chains.holder(n) is None)
    chain = chains.create_chain(ports, caller, ChainIn(name=name, team_id=team_id))
    step = PolicyIn(escalation_chain_id=chain.id, type="notify_persons", persons_to_notify=[caller.user_id])
    chains.create_policy(ports, caller, step)
    return chain.id


def _changes(ports: Ports, integration: Integration, body: IntegrationPatch) -> dict[str, Any]:
    given = body.model_fields_set
    updates: dict[str, Any] = {}
    if "name" in given and body.name is not None and body.name != integration.name:
        updates["name"] = body.name
    for field in ("team_id", "description_short"):
        if field in given:
            updates[field] = getattr(body, field)
    if updates.get("team_id") not in (None, integration.team_id):
        require_known("team_id", [updates["team_id"]], ports.store.teams.get)
    name, team_id = updates.get("name", integration.name), updates.get("team_id", integration.team_id)
    if (name, team_id) != (integration.name, integration.team_id):  # unique in the team it ends up in, as OnCall
        _unique_name(ports, name, team_id, exclude=integration.id)
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
    return updates


def update_integration(ports: Ports, caller: Principal, integration_id: str, body: IntegrationPatch) -> IntegrationView:
    config = load_for_change(ports, caller, integration_id)
    if "team_id" in body.model_fields_set:  # moving it: the caller needs the right in the new team too
        authorize(caller, Resource.INTEGRATIONS, Action.UPDATE, teams=[body.team_id])
    integration = replace(config.integration, **_changes(ports, config.integration, body))
    try:
        ports.store.integrations.update(integration, previous=config.integration)
    except NameTaken as taken:
        raise _name_taken() from taken
    if body.heartbeat is not None and body.heartbeat.timeout_seconds is not None:
        if not heartbeat.has_heartbeat(integration.type):
            raise InvalidInput.field("heartbeat", f"Integrations of type {integration.type} have no heartbeat.")
        timeout = body.heartbeat.timeout_seconds
        ports.store.heartbeats.set(integration.id, replace(config.heartbeat, timeout_seconds=timeout))
    if body.default_route is not None:
        given, route = body.default_route, config.default_route
        changes: dict[str, Any] = {"messengers": given.messengers(route.messengers)}
        if "escalation_chain_id" in given.model_fields_set:
            check_chain(ports, given.escalation_chain_id)
            changes["escalation_chain_id"] = given.escalation_chain_id
        ports.store.integrations.save_routes(integration.id, [replace(route, **changes)])
    return _view(ports, _config(ports, integration_id))


def delete_integration(ports: Ports, caller: Principal, integration_id: str) -> None:
    config = _config(ports, integration_id, caller, Action.DELETE)
    authorize(caller, Resource.INTEGRATIONS, Action.DELETE, teams=[config.integration.team_id])
    if config.integration.type == "direct_paging":
        raise InvalidInput("Direct paging integrations cannot be deleted.")
    ports.store.integrations.delete(integration_id)


def regenerate_token(ports: Ports, caller: Principal, integration_id: str) -> IntegrationView:
    config = load_for_change(ports, caller, integration_id)
    integration = config.integration
    kind = integration_types.get(integration.type)
    token = ids.new_token(kind.token_length if kind else 25)
    changed = replace(integration, token_hash=ids.secret_hash(token), token_hint=token[:4])
    ports.store.integrations.replace_token(integration, changed)
    return _view(ports, replace(config, integration=changed), token)


def send_demo_alert(ports: Ports, caller: Principal, integration_id: str, payload: Any) -> list[str]:
    """The alert groups the demo alert went to."""
    config = load_for_change(ports, caller, integration_id)
    try:
        body = demo_payload(config.integration.type, payload)
    except IngestError as error:
        raise InvalidInput(str(error)) from error
    stored = ingest(ports.store, config, body, now=ports.clock.now(), is_demo=True)
    return sorted({s.group_id for s in stored})


class TemplatePreview(LazyModel):
    """What an integration's templates make of a payload, as ingest would store it; and each template's problem."""

    grouping_id: str | None
    resolve_condition: bool
    acknowledge_condition: bool
    source_link: str | None
    title: str | None
    message: str | None
    labels: dict[str, str]
    problems: dict[str, str]


def _problem(template: str) -> str | None:
    if not template:
        return None
    try:
        templating.validate(template)
    except templating.TemplateProblem as problem:
        return problem.fallback
    return None


def preview_templates(
    ports: Ports, caller: Principal, integration_id: str, texts: dict[str, str], payload: Any
) -> TemplatePreview:
    """Render ``texts`` (template name -> text; empty: the type's default) on ``payload`` as ingest would, storing
    nothing. Only for those who may change the integration: it renders templates someone just wrote."""
    from oncall import grouping
    from oncall.ingest import render_appearance

    config = load_for_change(ports, caller, integration_id)
    templates = from_json(Templates, {name: texts.get(name) or None for name in TEMPLATE_NAMES})
    integration = replace(config.integration, templates=templates)
    labels = grouping.alert_labels(integration, payload)
    context = {"payload": payload, "labels": labels}
    appearance = render_appearance(replace(config, integration=integration), payload, labels)
    return TemplatePreview(
        grouping_id=grouping.render_optional(integration.template("grouping_id"), **context),
        resolve_condition=templating.render_condition(integration.template("resolve_condition"), **context),
        acknowledge_condition=templating.render_condition(integration.template("acknowledge_condition"), **context),
        source_link=appearance["source_link"],
        title=appearance["title"],
        message=appearance["message"],
        labels=labels,
        problems={name: p for name in TEMPLATE_NAMES if (p := _problem(texts.get(name) or ""))},
    )


# --- heartbeat and maintenance ------------------------------------------------------------------------------------


def reset_heartbeat(ports: Ports, caller: Principal, integration_id: str) -> IntegrationView:
    """Disarm: the heartbeat is inactive again until the next beat."""
    config = load_for_change(ports, caller, integration_id)
    if not heartbeat.has_heartbeat(config.integration.type):
        raise InvalidInput(f"Integrations of type {config.integration.type} have no heartbeat.")
    ports.store.heartbeats.set(integration_id, Heartbeat(timeout_seconds=config.heartbeat.timeout_seconds))
    return _view(ports, _config(ports, integration_id))


def start_maintenance(ports: Ports, caller: Principal, integration_id: str, body: MaintenanceIn) -> IntegrationView:
    load_for_change(ports, caller, integration_id)
    maintenance.start(
        ports.store,
        ports.scheduler,
        integration_id,
        body.mode.lower(),
        body.duration,
        caller.user_id,
        ports.clock.now(),
    )
    return _view(ports, _config(ports, integration_id))


def stop_maintenance(ports: Ports, caller: Principal, integration_id: str) -> IntegrationView:
    load_for_change(ports, caller, integration_id)
    if not maintenance.stop(ports.store, ports.scheduler, integration_id, ports.clock.now(), by=caller.user_id):
        raise InvalidInput("No maintenance is active for this integration.")
    return _view(ports, _config(ports, integration_id))
