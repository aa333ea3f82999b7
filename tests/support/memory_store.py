"""In-memory fakes of the store's entity repositories (:mod:`oncall.ports`), for unit tests of use cases.

Entities are kept as JSON, as DynamoDB keeps them, so a test sees what a round trip through the real store gives.
Integration tests use the real repositories on DynamoDB Local instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from oncall.directory import Team, User
from oncall.errors import Conflict
from oncall.schedules.models import OnCallShift, Schedule
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class MemoryEntities(Generic[M]):
    def __init__(self, model: type[M], order: Callable[[M], str] = lambda e: "") -> None:
        self.model, self.order = model, order
        self.items: dict[str, str] = {}

    def get(self, entity_id: str) -> M | None:
        data = self.items.get(entity_id)
        return self.model.model_validate_json(data) if data else None

    def many(self, entity_ids: Iterable[str]) -> dict[str, M]:
        return {i: entity for i in entity_ids if (entity := self.get(i)) is not None}

    def put(self, entity: M, *, new: bool = False) -> None:
        entity_id = str(getattr(entity, "id"))  # noqa: B009  every entity has an id
        if new and entity_id in self.items:
            raise Conflict(f"{entity_id} exists already")
        self.items[entity_id] = entity.model_dump_json(exclude_none=True)

    def delete(self, entity_id: str) -> None:
        self.items.pop(entity_id, None)

    def list(self) -> list[M]:
        entities = [self.model.model_validate_json(data) for data in self.items.values()]
        return sorted(entities, key=self.order)


class MemoryShifts(MemoryEntities[OnCallShift]):
    def of_schedule(self, schedule_id: str | None) -> list[OnCallShift]:
        return [s for s in self.list() if s.schedule_id == schedule_id]


class MemoryStore:
    """The repositories of people and schedules; the others are not faked (use DynamoDB Local)."""

    def __init__(self) -> None:
        self.users = MemoryEntities(User, lambda u: u.username.lower())
        self.teams = MemoryEntities(Team, lambda t: t.name.lower())
        self.schedules = MemoryEntities(Schedule, lambda s: s.name.lower())
        self.shifts = MemoryShifts(OnCallShift, lambda s: f"{s.level + 1_000_000:08d}#{s.start.isoformat()}#{s.id}")
