"""Use cases of the API for the people escalation reaches: teams, users and their notification rules, API keys.
OnCall-compatible shapes; Tocsin lets admins create users and teams through the API (OnCall took them from Grafana).

API keys: every user lists, creates and revokes their own keys; admins also those of every user
(:func:`check_key_owner`, used by the API and the web console alike).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from oncall import access, ids, schemas
from oncall.access import Actor, create_api_key
from oncall.api.logic import ApiError, not_found
from oncall.api.pagination import paginate_list
from oncall.api.request import RequestInfo
from oncall.errors import PermissionDenied, field_errors
from oncall.models import ApiKey, NotificationRule, Team, User
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
RULE_TYPES = {"notify_by_email": "email", "notify_by_sms": "sms", "notify_by_webhook": "webhook"}


def rule_out(rule: NotificationRule) -> dict[str, Any]:
    kind = "wait" if rule.type == "wait" else f"notify_by_{rule.channel}"
    return schemas.NotificationRuleOut(
        id=rule.id,
        user_id=rule.user_id,
        position=rule.position,
        important=rule.important,
        type=kind,
        duration=rule.duration if rule.type == "wait" else None,
    ).model_dump(mode="json")


RULES = Resource(lambda s: s.rules, "N", NotificationRule, rule_out)


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


# --- teams ----------------------------------------------------------------------------------------------------------


def create_team(store: Store, body: schemas.TeamIn) -> dict[str, Any]:
    _unique(store.teams.list(), "name", body.name)
    return create(store, TEAMS, body.model_dump())


def update_team(store: Store, team_id: str, body: schemas.TeamPatch) -> dict[str, Any]:
    team = update(store, TEAMS, team_id, body)
    _unique(store.teams.list(), "name", team.name, exclude=team.id)
    return save(store, TEAMS, team)


# --- users and their notification rules ---------------------------------------------------------------------------


def create_user(store: Store, body: schemas.UserIn) -> dict[str, Any]:
    _unique(store.users.list(), "username", body.username, field="username")
    _known(store, TEAMS, "teams", body.teams)
    return create(store, USERS, body.model_dump())


def _keep_an_admin(store: Store, leaving: str) -> None:
    if not any(u.role == "admin" and u.id != leaving for u in store.users.list()):
        raise ApiError.detail("Tocsin needs at least one admin: make someone else admin first.")


CONTACT_FIELDS: Final = frozenset({"email", "phone_number", "webhook_url", "webhook_format", "timezone"})


def check_profile_change(caller: Actor, user_id: str, fields: Iterable[str]) -> None:
    """Admins change any user; everyone else their own contact points and time zone (not role, teams, name)."""
    if not access.has(caller, "admin") and (user_id != caller.user_id or not set(fields) <= CONTACT_FIELDS):
        raise PermissionDenied("You can only change your own contact points and time zone.")


def update_user(store: Store, user_id: str, body: schemas.UserPatch, caller: Actor) -> dict[str, Any]:
    check_profile_change(caller, user_id, body.model_fields_set)
    user = update(store, USERS, user_id, body)
    if user.role != "admin":
        _keep_an_admin(store, user.id)
    _unique(store.users.list(), "username", user.username, exclude=user.id, field="username")
    _known(store, TEAMS, "teams", user.teams)
    return save(store, USERS, user)


def delete_user(store: Store, user_id: str) -> None:
    if load(store, USERS, user_id).role == "admin":
        _keep_an_admin(store, user_id)
    for rule in store.rules.of_user(user_id):
        store.rules.delete(rule.id)
    store.users.delete(user_id)


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


def _rule_fields(kind: str, duration: int | None) -> dict[str, Any]:
    if kind == "wait":
        return {"type": "wait", "channel": None, "duration": duration or 300}
    return {"type": "notify", "channel": RULE_TYPES[kind], "duration": None}


def create_rule(store: Store, body: schemas.NotificationRuleIn) -> dict[str, Any]:
    load(store, USERS, body.user_id)
    rule = NotificationRule(
        id=ids.new_id("N"), user_id=body.user_id, important=body.important, **_rule_fields(body.type, body.duration)
    )
    siblings = [r for r in store.rules.of_user(body.user_id) if r.important == body.important]
    ordered = _renumber(siblings, rule, body.position)
    _save_ordered(store, RULES, siblings, ordered)
    return rule_out(next(r for r in ordered if r.id == rule.id))


def update_rule(store: Store, rule_id: str, body: schemas.NotificationRulePatch) -> dict[str, Any]:
    rule = load(store, RULES, rule_id)
    if body.type is not None or body.duration is not None:
        kind = body.type or ("wait" if rule.type == "wait" else f"notify_by_{rule.channel}")
        rule = rule.model_copy(update=_rule_fields(kind, body.duration if body.duration is not None else rule.duration))
    siblings = [r for r in store.rules.of_user(rule.user_id) if r.important == rule.important]
    ordered = _renumber(siblings, rule, body.position if body.position is not None else rule.position)
    _save_ordered(store, RULES, [s for s in siblings if s.id != rule.id], ordered)
    return rule_out(next(r for r in ordered if r.id == rule.id))


def delete_rule(store: Store, rule_id: str) -> None:
    rule = load(store, RULES, rule_id)
    store.rules.delete(rule_id)
    siblings = [r for r in store.rules.of_user(rule.user_id) if r.important == rule.important]
    _save_ordered(store, RULES, siblings, _renumber(siblings, None, None))


def list_rules(store: Store, request: RequestInfo) -> dict[str, Any]:
    user_id = request.first("user_id")
    users = [user_id] if user_id else [u.id for u in store.users.list()]
    rules = [r for uid in users for r in store.rules.of_user(uid)]
    important = request.first("important")
    if important is not None:
        rules = [r for r in rules if r.important == (important.lower() == "true")]
    return paginate_list(request, rules, 50, rule_out)


# --- API keys and the audit log -----------------------------------------------------------------------------------


def api_key_out(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    return schemas.ApiKeyOut(
        id=key.id, name=key.name, user_id=key.user_id, prefix=key.prefix, created_at=key.created_at, key=secret
    ).model_dump(mode="json")


def check_key_owner(caller: Actor, user_id: str) -> None:
    """Every user manages their own API keys; admins manage anyone's (the API and the web console alike)."""
    if not access.has(caller, "admin") and user_id != caller.user_id:
        raise PermissionDenied("You can only manage your own API keys.")


def create_key(store: Store, body: schemas.ApiKeyIn, caller: Actor, now: datetime) -> dict[str, Any]:
    user_id = body.user_id or caller.user_id
    check_key_owner(caller, user_id)
    load(store, USERS, user_id)
    key, secret = create_api_key(store, user_id=user_id, name=body.name, now=now)
    return api_key_out(key, secret)


def visible_keys(store: Store, caller: Actor) -> list[ApiKey]:
    """All keys for admins, one's own for everyone else; oldest first."""
    keys = store.api_keys.list()
    if not access.has(caller, "admin"):
        keys = [k for k in keys if k.user_id == caller.user_id]
    return sorted(keys, key=lambda k: (k.created_at, k.id))


def list_keys(store: Store, request: RequestInfo, caller: Actor) -> dict[str, Any]:
    keys = visible_keys(store, caller)
    if user_id := request.first("user_id"):
        keys = [k for k in keys if k.user_id == user_id]
    return paginate_list(request, keys, 50, api_key_out)


def revoke_key(store: Store, key_id: str, caller: Actor) -> ApiKey:
    key = next((k for k in store.api_keys.list() if k.id == key_id), None)
    if key is None:
        raise not_found()
    check_key_owner(caller, key.user_id)
    store.api_keys.delete(key)
    return key


def audit_log(store: Store, request: RequestInfo, today: str) -> dict[str, Any]:
    day = request.first("date") or today
    entries = store.audit.day(day, 500)
    return paginate_list(request, entries, 100, lambda e: e.model_dump(mode="json"))
