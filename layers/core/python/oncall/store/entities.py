"""Plain entities of one kind in the table: ``<kind>#<id>`` / ``META``, listed in a GSI1 collection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel

from oncall.errors import Conflict
from oncall.ports import NameTaken
from oncall.store import keys
from oncall.store.table import Data, Table

M = TypeVar("M", bound=BaseModel)
_DELETE_ATTEMPTS: Final = 3  # a delete re-reads an entity renamed meanwhile; more renames than this: a Conflict


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

    def many(self, entity_ids: Iterable[str]) -> dict[str, M]:
        found = self.table.batch_get([keys.entity(self.kind, i) for i in dict.fromkeys(entity_ids)])
        return {data["id"]: self.model.model_validate(data) for data in found}

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


class NamedCollection(Collection[M]):
    """A collection whose entities' names are unique (exact match): each name is claimed by an item
    ``NAME#<kind>`` / ``<name>`` written in the entity's transaction on condition nobody holds it, so the second of
    two writers of one name loses (:class:`~oncall.ports.NameTaken`) and checking a name is one read. A write over a
    stored entity, and a delete, hold on condition that its name is still the one read, so a concurrent rename is
    never undone and no claim is left behind (chains, teams, users by username, outgoing webhooks).

    Tables written before the claims get them once, from the listing, by the first writer that needs them (the
    table is then marked ``LAYOUT`` / ``<kind>_NAMES``)."""

    def __init__(self, table: Table, kind: str, model: type[M], collection: str, name_field: str = "name") -> None:
        super().__init__(table, kind, model, collection, lambda e: self._name(e).lower())
        self.name_field = name_field
        self._claimed = False  # the table's mark was seen (it is never removed)

    def _name(self, entity: M) -> str:
        return str(getattr(entity, self.name_field))

    def _id(self, entity: M) -> str:
        return str(entity.model_dump(include={"id"})["id"])

    def _claim(self, entity: M) -> Data:
        return {**keys.entity_name(self.kind, self._name(entity)), "entity_id": self._id(entity)}

    def holder(self, name: str) -> str | None:
        """The id of the entity that holds ``name``, if one does."""
        self._ensure_claimed()
        claim = self.table.get(keys.entity_name(self.kind, name))
        return str(claim["entity_id"]) if claim else None

    def put(self, entity: M, *, new: bool = False) -> None:
        self._ensure_claimed()
        data = entity.model_dump(mode="json", exclude_none=True)
        old = None if new else self.get(data["id"])
        item = {**data, **keys.entity(self.kind, data["id"]), "GSI1PK": self.name, "GSI1SK": self._sort(entity)}
        # over the name it had when read: a concurrent rename or delete wins, and no claim is left without holder
        write = self.table.put(item, **self._as_read(old))
        if old is not None and self._name(old) == self._name(entity):  # its name stays: one conditional write
            with self.table.lost_race() as lost:
                self.table.call("put_item", **write["Put"])
            if lost[0]:
                raise self._changed(data["id"])
            return
        release = self._release(old) if old is not None else []
        refused = self.table.transact_or_refused(
            [write, *release, self.table.put(self._claim(entity), "attribute_not_exists(PK)")]
        )
        if refused and refused[0]:  # created with an id that exists, or changed since read: the other writer won
            raise self._changed(data["id"])
        if refused:  # the name's claim, or the release of the old name's (held since by another writer)
            raise NameTaken(self._name(entity)) if refused[-1] else self._changed(data["id"])

    def _changed(self, entity_id: str) -> Conflict:
        return Conflict(f"{self.kind.lower()} {entity_id} changed concurrently")

    def _as_read(self, entity: M | None) -> dict[str, Any]:
        """The condition that the stored entity is ``entity`` as read (its name unchanged), or absent if None."""
        if entity is None:
            return {"ConditionExpression": "attribute_not_exists(PK)"}
        return {
            "ConditionExpression": "#name = :read",
            "ExpressionAttributeNames": {"#name": self.name_field},
            "ExpressionAttributeValues": {":read": {"S": self._name(entity)}},
        }

    def delete(self, entity_id: str) -> None:
        """Delete the entity and release its name (read again if it was renamed meanwhile)."""
        for _ in range(_DELETE_ATTEMPTS):
            entity = self.get(entity_id)
            if entity is None:
                return
            delete = self.table.delete(keys.entity(self.kind, entity_id))
            delete["Delete"].update(self._as_read(entity))
            if self.table.transact_or_refused([delete, *self._release(entity)]) is None:
                return
        raise self._changed(entity_id)

    def _release(self, entity: M) -> list[dict[str, Any]]:
        """The Delete of the entity's name claim on condition that it still holds it, or, if it held none when read
        (a duplicate name from before claims), a check that it still holds none: a name can be released and
        claimed again by the entity between that read and the transaction, and must not then stay behind."""
        key = keys.entity_name(self.kind, self._name(entity))
        entity_id = self._id(entity)
        held = self.table.get(key)
        values = {":id": {"S": entity_id}}
        if held and held.get("entity_id") == entity_id:
            delete = self.table.delete(key)
            delete["Delete"].update(ConditionExpression="entity_id = :id", ExpressionAttributeValues=values)
            return [delete]
        check = {"TableName": self.table.name, "Key": self.table.item(key), "ExpressionAttributeValues": values}
        check["ConditionExpression"] = "attribute_not_exists(PK) OR entity_id <> :id"
        return [{"ConditionCheck": check}]

    def _ensure_claimed(self) -> None:
        if self._claimed:
            return
        mark = keys.layout_step(f"{self.kind}_NAMES")
        if self.table.get(mark) is None:
            for entity in self.list():
                with self.table.lost_race():
                    self.table.put_item(self._claim(entity), "attribute_not_exists(PK)")
            self.table.put_item(mark)
        self._claimed = True
