"""Plain entities of one kind in the table: ``<kind>#<id>`` / ``META``, listed in a GSI1 collection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import BaseModel

from oncall.errors import Conflict
from oncall.store import keys
from oncall.store.table import Table

M = TypeVar("M", bound=BaseModel)


class EntityStore(Generic[M]):
    """Entities of ``kind`` as ``model``; each listed in the collection ``collection(entity)`` by ``sort(entity)``."""

    def __init__(
        self,
        table: Table,
        kind: str,
        model: type[M],
        collection: Callable[[M], str],
        sort: Callable[[M], str],
    ) -> None:
        self.table, self.kind, self.model = table, kind, model
        self._collection, self._sort = collection, sort

    def get(self, entity_id: str) -> M | None:
        data = self.table.get(keys.entity(self.kind, entity_id))
        return self.model.model_validate(data) if data else None

    def listed(self, collection: str) -> list[M]:
        return [self.model.model_validate(data) for data in self.table.collection(collection)]

    def put(self, entity: M, *, new: bool = False) -> None:
        data = entity.model_dump(mode="json", exclude_none=True)
        item = {
            **data,
            **keys.entity(self.kind, data["id"]),
            "GSI1PK": self._collection(entity),
            "GSI1SK": self._sort(entity),
        }
        with self.table.lost_race() as lost:
            self.table.put_item(item, "attribute_not_exists(PK)" if new else None)
        if lost[0]:
            raise Conflict(f"{self.kind.lower()} {data['id']} exists already")

    def delete(self, entity_id: str) -> None:
        self.table.delete_item(keys.entity(self.kind, entity_id))


class Collection(EntityStore[M]):
    """Entities that all live in one collection (users, teams, webhooks): also listable as a whole."""

    def __init__(self, table: Table, kind: str, model: type[M], collection: str, sort: Callable[[M], str]) -> None:
        super().__init__(table, kind, model, lambda _: collection, sort)
        self.name = collection

    def list(self) -> list[M]:
        return self.listed(self.name)
