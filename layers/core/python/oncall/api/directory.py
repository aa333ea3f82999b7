"""Use cases of the API for the configuration around escalation: escalation chains and their policies, outgoing
webhooks (OnCall-compatible shapes). Teams and users are :mod:`oncall.services.people`'s; they are named here only
for the ids that chains and their steps refer to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from oncall import ids, schemas
from oncall.api.logic import ApiError, field_errors, not_found
from oncall.api.pagination import paginate_list
from oncall.api.request import RequestInfo
from oncall.models import EscalationChain, EscalationPolicy, OutgoingWebhook, Team, User
from oncall.ports import Keyed, Store

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Resource(Generic[M]):
    repository: Callable[[Store], Keyed[M]]
    prefix: str  # public id prefix
    model: type[M]
    out: Callable[[M], dict[str, Any]]
    page_size: int = 50


def _plain_out(schema: type[BaseModel]) -> Callable[[Any], dict[str, Any]]:
    return lambda entity: schema.model_validate(entity.model_dump()).model_dump(mode="json")


TEAMS = Resource(lambda s: s.teams, ids.TEAM, Team, _plain_out(schemas.TeamOut))
USERS = Resource(lambda s: s.users, ids.USER, User, _plain_out(schemas.UserOut), page_size=100)
CHAINS = Resource(lambda s: s.chains, "F", EscalationChain, _plain_out(schemas.ChainOut))
WEBHOOKS = Resource(lambda s: s.webhooks, "WH", OutgoingWebhook, _plain_out(schemas.WebhookOut))

# Which policy fields each step type uses (the rest are not returned, as in OnCall).
POLICY_FIELDS: dict[str, tuple[str, ...]] = {
    "wait": ("duration",),
    "notify_persons": ("persons_to_notify", "important"),
    "notify_person_next_each_time": ("persons_to_notify_next_each_time", "important"),
    "notify_on_call_from_schedule": ("notify_on_call_from_schedule", "important"),
    "notify_team_members": ("team_to_notify", "important"),
    "trigger_webhook": ("action_to_trigger",),
    "resolve": (),
    "notify_if_time_from_to": ("notify_if_time_from", "notify_if_time_to"),
    "notify_if_num_alerts_in_window": ("num_alerts_in_window", "num_minutes_in_window"),
    "repeat_escalation": (),
}


def policy_out(policy: EscalationPolicy) -> dict[str, Any]:
    data = policy.model_dump(mode="json")
    shown = {"id", "escalation_chain_id", "position", "type", *POLICY_FIELDS[policy.type]}
    return {k: v for k, v in data.items() if k in shown}


POLICIES = Resource(lambda s: s.policies, "E", EscalationPolicy, policy_out)


# --- generic CRUD -------------------------------------------------------------------------------------------------


def load(store: Store, resource: Resource[M], entity_id: str) -> M:
    entity = resource.repository(store).get(entity_id)
    if entity is None:
        raise not_found()
    return entity


def save(store: Store, resource: Resource[M], entity: M, *, new: bool = False) -> dict[str, Any]:
    resource.repository(store).put(entity, new=new)
    return resource.out(entity)


def listing(
    store: Store,
    request: RequestInfo,
    resource: Resource[M],
    items: list[M],
    filters: dict[str, Callable[[M, str], bool]],
) -> dict[str, Any]:
    for name, keep in filters.items():
        if (value := request.first(name)) is not None:
            items = [i for i in items if keep(i, value)]
    return paginate_list(request, items, resource.page_size, resource.out)


def create(store: Store, resource: Resource[M], fields: dict[str, Any]) -> dict[str, Any]:
    entity = resource.model.model_validate({**fields, "id": ids.new_id(resource.prefix)})
    return save(store, resource, entity, new=True)


def update(store: Store, resource: Resource[M], entity_id: str, body: BaseModel) -> M:
    """The entity with the fields ``body`` sets, validated again (a null for a required field is a 400)."""
    entity = load(store, resource, entity_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set if k not in ("manual_order", "position")}
    try:
        return resource.model.model_validate({**entity.model_dump(), **changes})
    except ValidationError as error:
        raise ApiError(400, field_errors(error.errors())) from error


def _unique(items: list[Any], name: str, value: str, exclude: str | None = None, field: str = "name") -> None:
    if any(getattr(i, field) == value and i.id != exclude for i in items):
        raise ApiError.field(field, f"An object with this {field} already exists.")


def _known(store: Store, resource: Resource[Any], field: str, entity_ids: list[str]) -> None:
    unknown = [i for i in entity_ids if resource.repository(store).get(i) is None]
    if unknown:
        raise ApiError.field(field, f"Unknown ids: {', '.join(unknown)}")


def _renumber(items: list[Any], moved: Any | None, position: int | None) -> list[Any]:
    """Positions 0..n-1 with ``moved`` placed at ``position`` (appended when None)."""
    ordered = sorted((i for i in items if moved is None or i.id != moved.id), key=lambda i: i.position)
    if moved is not None:
        ordered.insert(len(ordered) if position is None else min(position, len(ordered)), moved)
    return [i.model_copy(update={"position": n}) for n, i in enumerate(ordered)]


def _save_ordered(store: Store, resource: Resource[Any], before: list[Any], after: list[Any]) -> None:
    old = {i.id: i.position for i in before}
    for item in after:
        if old.get(item.id) != item.position or item.id not in old:
            save(store, resource, item)


# --- escalation chains and policies -------------------------------------------------------------------------------


def create_chain(store: Store, body: schemas.ChainIn) -> dict[str, Any]:
    _unique(store.chains.list(), "name", body.name)
    if body.team_id:
        _known(store, TEAMS, "team_id", [body.team_id])
    return create(store, CHAINS, body.model_dump())


def update_chain(store: Store, chain_id: str, body: schemas.ChainPatch) -> dict[str, Any]:
    chain = update(store, CHAINS, chain_id, body)
    _unique(store.chains.list(), "name", chain.name, exclude=chain.id)
    return save(store, CHAINS, chain)


def delete_chain(store: Store, chain_id: str) -> None:
    """Delete a chain and its steps; routes that used it are left without a chain, as in OnCall."""
    load(store, CHAINS, chain_id)
    for route in store.integrations.routes():
        if route.escalation_chain_id == chain_id:
            store.integrations.save_routes(
                route.integration_id, [route.model_copy(update={"escalation_chain_id": None})]
            )
    for policy in store.policies.of_chain(chain_id):
        store.policies.delete(policy.id)
    store.chains.delete(chain_id)


def _check_policy(store: Store, policy: EscalationPolicy) -> None:
    required = {
        "notify_persons": "persons_to_notify",
        "notify_person_next_each_time": "persons_to_notify_next_each_time",
        "notify_team_members": "team_to_notify",
        "trigger_webhook": "action_to_trigger",
        "notify_if_num_alerts_in_window": "num_alerts_in_window",
        "notify_on_call_from_schedule": "notify_on_call_from_schedule",
    }
    if (field := required.get(policy.type)) and not getattr(policy, field):
        raise ApiError.field(field, f"This field is required for step type {policy.type}.")
    if policy.type == "notify_if_time_from_to" and not (policy.notify_if_time_from and policy.notify_if_time_to):
        raise ApiError.field("notify_if_time_from", "notify_if_time_from and notify_if_time_to are required.")
    _known(store, USERS, "persons_to_notify", policy.persons_to_notify)
    _known(store, USERS, "persons_to_notify_next_each_time", policy.persons_to_notify_next_each_time)
    if policy.team_to_notify:
        _known(store, TEAMS, "team_to_notify", [policy.team_to_notify])
    if policy.action_to_trigger:
        _known(store, WEBHOOKS, "action_to_trigger", [policy.action_to_trigger])
    if policy.notify_on_call_from_schedule and store.schedules.get(policy.notify_on_call_from_schedule) is None:
        raise ApiError.field("notify_on_call_from_schedule", f"Unknown ids: {policy.notify_on_call_from_schedule}")


def create_policy(store: Store, body: schemas.PolicyIn) -> dict[str, Any]:
    load(store, CHAINS, body.escalation_chain_id)
    fields = body.model_dump(exclude={"position", "manual_order"}, exclude_none=True)
    policy = EscalationPolicy(id=ids.new_id("E"), **fields)
    if policy.type == "wait" and policy.duration is None:
        policy = policy.model_copy(update={"duration": 300})
    _check_policy(store, policy)
    siblings = store.policies.of_chain(policy.escalation_chain_id)
    ordered = _renumber(siblings, policy, body.position)
    _save_ordered(store, POLICIES, siblings, ordered)
    return policy_out(next(p for p in ordered if p.id == policy.id))


def update_policy(store: Store, policy_id: str, body: schemas.PolicyPatch) -> dict[str, Any]:
    policy = update(store, POLICIES, policy_id, body)
    _check_policy(store, policy)
    siblings = store.policies.of_chain(policy.escalation_chain_id)
    ordered = _renumber(siblings, policy, body.position if body.position is not None else policy.position)
    _save_ordered(store, POLICIES, [s for s in siblings if s.id != policy.id], ordered)
    return policy_out(next(p for p in ordered if p.id == policy.id))


def delete_policy(store: Store, policy_id: str) -> None:
    policy = load(store, POLICIES, policy_id)
    store.policies.delete(policy_id)
    siblings = store.policies.of_chain(policy.escalation_chain_id)
    _save_ordered(store, POLICIES, siblings, _renumber(siblings, None, None))


def list_policies(store: Store, request: RequestInfo) -> dict[str, Any]:
    chain_id = request.first("escalation_chain_id")
    chains = [chain_id] if chain_id else [c.id for c in store.chains.list()]
    policies = [p for cid in chains for p in store.policies.of_chain(cid)]
    return paginate_list(request, policies, 50, policy_out)


# --- outgoing webhooks --------------------------------------------------------------------------------------------


def create_webhook(store: Store, body: schemas.WebhookIn) -> dict[str, Any]:
    _unique(store.webhooks.list(), "name", body.name)
    return create(store, WEBHOOKS, body.model_dump())


def update_webhook(store: Store, webhook_id: str, body: schemas.WebhookPatch) -> dict[str, Any]:
    hook = update(store, WEBHOOKS, webhook_id, body)
    _unique(store.webhooks.list(), "name", hook.name, exclude=hook.id)
    return save(store, WEBHOOKS, hook)
