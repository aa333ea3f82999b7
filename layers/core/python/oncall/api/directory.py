"""Generic CRUD helpers of the API kept for the aggregates not yet moved to services (teams and users are named
here only for the ids that other records refer to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from oncall import ids, schemas
from oncall.api.logic import ApiError, not_found
from oncall.api.pagination import paginate_list
from oncall.api.request import RequestInfo
from oncall.errors import field_errors
from oncall.models import Team, User
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
