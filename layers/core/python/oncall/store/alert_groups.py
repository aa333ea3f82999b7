"""Alert groups with their alerts, timeline and claimed effects (partition ``GROUP#<id>``), the open-group
pointers of grouping keys, and escalation starts to retry.

Writes that must not race are conditional: a group's open-pointer is created with ``attribute_not_exists``,
alerts join an open group with a transaction conditioned on ``is_open``, and state changes carry an optimistic
``version``. Counters are only ever changed with ``ADD`` so concurrent appends never overwrite each other.
Every stored creation and state change is counted in the insights aggregate (:mod:`oncall.store.insights`).
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta
from typing import Any, Final

from oncall.models import Alert, AlertGroup, TimelineEntry
from oncall.ports import DeferredStart, GroupFilter, GroupKey, Page, Pointer, PointerChange
from oncall.store import keys, schema
from oncall.store.insights import DynamoInsights
from oncall.store.table import Data, Table

# Group attributes that state changes may write; counters (alerts_count, last_alert_*) are never among them.
_STATE_FIELDS: Final = (
    "title",
    "source_link",
    "is_open",
    "acknowledged",
    "acknowledged_at",
    "acknowledged_by",
    "resolved",
    "resolved_at",
    "resolved_by",
    "silenced",
    "silenced_at",
    "silenced_until",
    "label_states",
    "escalation_generation",
    "escalation_finished",
    "ack_confirmed_at",
)
# Groups written before versioning existed have no ``version``: treat it as 0.
FIRST_VERSION: Final = "attribute_exists(PK) AND (attribute_not_exists(version) OR version = :expected)"


def _alert_from(data: Data) -> Alert:
    data["payload"] = json.loads(data.pop("payload_json", "null"))
    return Alert.model_validate(data)


class DynamoAlertGroups:
    def __init__(self, table: Table, retention: timedelta) -> None:
        self.table = table
        self.retention = retention  # raw alerts expire (TTL) this long after they arrived
        self.insights = DynamoInsights(table)  # counted as groups are created and change state

    # --- items ------------------------------------------------------------------------------------------------
    def _group_item(self, group: AlertGroup) -> Data:
        data = group.model_dump(
            mode="json", exclude_none=True, exclude={"label_states"} if not group.label_states else None
        )
        created = keys.stamp(group.created_at)
        data.update(keys.group(group.id))
        data.update(
            GSI1PK=keys.GROUPS,
            GSI1SK=f"{created}#{group.id}",
            GSI2PK=keys.groups_of_integration(group.integration_id),
            GSI2SK=f"{created}#{group.id}",
            GSI3PK=keys.groups_in_state(group.recorded_state.value),
            GSI3SK=f"{created}#{group.id}",
        )
        if group.labels:
            data["label_pairs"] = {f"{k}:{v}" for k, v in group.labels.items()}
        return data

    def _alert_item(self, alert: Alert) -> Data:
        data = alert.model_dump(mode="json", exclude_none=True, exclude={"payload"})
        data["payload_json"] = json.dumps(alert.payload, separators=(",", ":"), ensure_ascii=False)
        data[schema.TTL_ATTRIBUTE] = int((alert.created_at + self.retention).timestamp())
        return {**data, **keys.alert(alert.group_id, alert.id)}

    def _timeline_puts(self, entries: list[TimelineEntry]) -> list[dict[str, Any]]:
        return [
            # Entries of one instant keep the order they were written in (the write time breaks ties).
            self.table.put(
                {
                    **e.model_dump(mode="json", exclude_none=True),
                    **keys.timeline(e.group_id, e.at, f"{time.time_ns()}{i:02d}{secrets.token_hex(2)}"),
                }
            )
            for i, e in enumerate(entries)
        ]

    # --- grouping and state -------------------------------------------------------------------------------------
    def pointer(self, key: GroupKey) -> Pointer | None:
        data = self.table.get(keys.pointer(key))
        return Pointer(key, data["group_id"], bool(data["open"])) if data else None

    def create(self, group: AlertGroup, alert: Alert, timeline: list[TimelineEntry], replaces: Pointer | None) -> bool:
        key = GroupKey(group.integration_id, group.route_id, group.distinction)
        pointer_item = {**keys.pointer(key), "group_id": group.id, "open": group.is_open}
        if replaces is None:
            pointer = self.table.put(pointer_item, "attribute_not_exists(PK)")
        else:
            pointer = self.table.put(
                pointer_item,
                "group_id = :old AND #open = :false",
                ExpressionAttributeNames={"#open": "open"},
                ExpressionAttributeValues={":old": {"S": replaces.group_id}, ":false": {"BOOL": False}},
            )
        writes = [
            pointer,
            self.table.put(self._group_item(group), "attribute_not_exists(PK)"),
            self.table.put(self._alert_item(alert)),
        ]
        with self.table.lost_race() as lost:
            self.table.transact(writes + self._timeline_puts(timeline))
        if not lost[0]:
            self.insights.group_changed(group, timeline, created=True)
        return not lost[0]

    def append_alert(self, key: GroupKey, group_id: str, alert: Alert) -> bool:
        update = self.table.update(
            keys.group(group_id),
            "ADD alerts_count :one SET last_alert_at = :at, last_alert_id = :id",
            ConditionExpression="is_open = :true",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":true": {"BOOL": True},
                ":at": {"S": alert.model_dump(mode="json")["created_at"]},
                ":id": {"S": alert.id},
            },
        )
        with self.table.lost_race() as lost:
            self.table.transact([update, self.table.put(self._alert_item(alert))])
        return not lost[0]

    def save(
        self,
        group: AlertGroup,
        expected_version: int,
        *,
        alert: Alert | None = None,
        timeline: list[TimelineEntry] | None = None,
        pointer: PointerChange | None = None,
    ) -> bool:
        data = group.model_dump(mode="json", include=set(_STATE_FIELDS))
        sets = [f"#{name} = :{name}" for name in _STATE_FIELDS if data[name] is not None]
        removes = [f"#{name}" for name in _STATE_FIELDS if data[name] is None]
        names = {f"#{name}": name for name in _STATE_FIELDS}
        values: dict[str, Any] = {
            f":{name}": self.table.value(data[name]) for name in _STATE_FIELDS if data[name] is not None
        }
        sets.append("GSI3PK = :state")
        values[":state"] = {"S": keys.groups_in_state(group.recorded_state.value)}
        adds = ["version :one"]
        values[":one"] = {"N": "1"}
        values[":expected"] = {"N": str(expected_version)}
        if alert is not None:
            adds.append("alerts_count :one")
            sets += ["last_alert_at = :last_at", "last_alert_id = :last_id"]
            values[":last_at"] = {"S": alert.model_dump(mode="json")["created_at"]}
            values[":last_id"] = {"S": alert.id}
        expression = "SET " + ", ".join(sets) + " ADD " + ", ".join(adds)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        writes: list[dict[str, Any]] = [
            self.table.update(
                keys.group(group.id),
                expression,
                ConditionExpression=FIRST_VERSION if expected_version == 0 else "version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        ]
        if alert is not None:
            writes.append(self.table.put(self._alert_item(alert)))
        if pointer is not None:
            key = GroupKey(group.integration_id, group.route_id, group.distinction)
            writes.append(self._pointer_change(key, group.id, pointer))
        writes += self._timeline_puts(timeline or [])
        with self.table.lost_race() as lost:
            self.table.transact(writes)
        if lost[0] and pointer == "reopen":
            # The key has a newer group: reopening this one for grouping is not possible; save the rest.
            return self.save(
                group.model_copy(update={"is_open": False}), expected_version, alert=alert, timeline=timeline
            )
        if not lost[0] and timeline:
            self.insights.group_changed(group, timeline, created=False)
        return not lost[0]

    def _pointer_change(self, key: GroupKey, group_id: str, change: PointerChange) -> dict[str, Any]:
        return self.table.update(
            keys.pointer(key),
            "SET #open = :open",
            ConditionExpression="group_id = :gid",
            ExpressionAttributeNames={"#open": "open"},
            ExpressionAttributeValues={":open": {"BOOL": change == "reopen"}, ":gid": {"S": group_id}},
        )

    def append_timeline(self, entries: list[TimelineEntry]) -> None:
        puts = self._timeline_puts(entries)
        if len(puts) == 1:
            self.table.call("put_item", Item=puts[0]["Put"]["Item"])
        elif puts:
            self.table.transact(puts)

    def claim(self, group_id: str, effect: str) -> bool:
        with self.table.lost_race() as lost:
            self.table.put_item(keys.claim(group_id, effect), "attribute_not_exists(PK)")
        return not lost[0]

    # --- reading ------------------------------------------------------------------------------------------------
    def get(self, group_id: str) -> AlertGroup | None:
        data = self.table.get(keys.group(group_id))
        return AlertGroup.model_validate(data) if data else None

    def _query(self, filters: GroupFilter) -> tuple[dict[str, Any], tuple[str, str]]:
        """The query of a listing (newest first) and the key attributes of its index."""
        if filters.state:
            index, pk = "GSI3", keys.groups_in_state(filters.state)
        elif filters.integration_id:
            index, pk = "GSI2", keys.groups_of_integration(filters.integration_id)
        else:
            index, pk = "GSI1", keys.GROUPS
        pk_name, sk_name = f"{index}PK", f"{index}SK"
        values: dict[str, Any] = {":pk": {"S": pk}}
        condition = f"{pk_name} = :pk"
        if filters.started_after or filters.started_before:
            low = keys.stamp(filters.started_after) if filters.started_after else "0"
            high = keys.stamp(filters.started_before) + "~" if filters.started_before else "~"
            condition += f" AND {sk_name} BETWEEN :low AND :high"
            values.update({":low": {"S": low}, ":high": {"S": high}})
        clauses: list[str] = []
        for name, value in (
            ("integration_id", filters.integration_id if index != "GSI2" else None),
            ("route_id", filters.route_id),
            ("team_id", filters.team_id),
            ("root_alert_group_id", filters.root_alert_group_id),
        ):
            if value:
                clauses.append(f"{name} = :{name}")
                values[f":{name}"] = {"S": value}
        for i, (label_key, label_value) in enumerate(filters.labels):
            clauses.append(f"contains(label_pairs, :label{i})")
            values[f":label{i}"] = {"S": f"{label_key}:{label_value}"}
        if filters.ids:
            placeholders = [f":gid{i}" for i in range(len(filters.ids))]
            clauses.append(f"id IN ({', '.join(placeholders)})")
            values.update({p: {"S": gid} for p, gid in zip(placeholders, filters.ids, strict=True)})
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if clauses:
            query["FilterExpression"] = " AND ".join(clauses)
        return query, (pk_name, sk_name)

    def list(self, filters: GroupFilter, limit: int, cursor: str | None) -> Page[AlertGroup]:
        query, index_keys = self._query(filters)
        return self.table.page(query, limit, cursor, AlertGroup.model_validate, ("PK", "SK", *index_keys))

    def count(self, filters: GroupFilter) -> int:
        return self.table.count(**self._query(filters)[0])

    def alerts(self, group_id: str, limit: int, cursor: str | None) -> Page[Alert]:
        query = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :alert)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.group_partition(group_id)},
                ":alert": {"S": keys.ALERT_PREFIX},
            },
            "ScanIndexForward": False,
        }
        return self.table.page(query, limit, cursor, _alert_from, ("PK", "SK"))

    def alerts_by_id(self, pairs: list[tuple[str, str]]) -> dict[str, Alert]:
        unique = list(dict.fromkeys(pairs))
        found = (_alert_from(data) for data in self.table.batch_get([keys.alert(g, a) for g, a in unique]))
        return {alert.id: alert for alert in found}

    def timeline(self, group_id: str) -> list[TimelineEntry]:
        return [
            TimelineEntry.model_validate(data)
            for data in self.table.partition(keys.group_partition(group_id), keys.TIMELINE_PREFIX)
        ]

    def count_alerts_since(self, group_id: str, since: datetime) -> int:
        return self.table.count(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": keys.group_partition(group_id)},
                ":low": {"S": keys.alerts_since(since)},
                ":high": {"S": f"{keys.ALERT_PREFIX}A~"},
            },
        )

    # --- deleting -----------------------------------------------------------------------------------------------
    def _item_keys(self, group_id: str, prefix: str = "") -> list[keys.Key]:
        partition = self.table.partition(keys.group_partition(group_id), prefix, ProjectionExpression="PK, SK")
        return [{"PK": data["PK"], "SK": data["SK"]} for data in partition]

    def delete(self, group_id: str) -> None:
        group = self.get(group_id)
        if group is None:
            return
        key = GroupKey(group.integration_id, group.route_id, group.distinction)
        with self.table.lost_race():
            self.table.call(
                "delete_item",
                Key=self.table.item(keys.pointer(key)),
                ConditionExpression="group_id = :gid",
                ExpressionAttributeValues={":gid": {"S": group_id}},
            )
        self.table.batch_delete(self._item_keys(group_id))

    def wipe_alerts(self, group_id: str, note: str) -> None:
        for key in self._item_keys(group_id, keys.ALERT_PREFIX):
            self.table.call(
                "update_item",
                Key=self.table.item(key),
                UpdateExpression="SET payload_json = :empty, title = :note REMOVE message, image_url",
                ExpressionAttributeValues={":empty": {"S": "{}"}, ":note": {"S": note}},
            )


class DynamoEscalationStarts:
    """A record per (group, generation) whose StartExecution failed, in the sparse GSI3 ``ESCALATION_START_DUE``
    until the minute sweep has started it; then it only keeps a ``ttl`` (ingest roles have no DeleteItem)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def defer(self, group_id: str, generation: int, now: datetime) -> None:
        item = {
            **keys.deferred_start(group_id, generation),
            "group_id": group_id,
            "generation": generation,
            "deferred_at": now.isoformat(),
            "GSI3PK": keys.ESCALATION_START_DUE,
            "GSI3SK": f"{keys.stamp(now)}#{group_id}#{generation}",
        }
        self.table.put_item(item)

    def due(self, now: datetime) -> list[DeferredStart]:
        return [
            DeferredStart(
                data["group_id"], int(data["generation"]), data["GSI3SK"], datetime.fromisoformat(data["deferred_at"])
            )
            for data in self.table.due(keys.ESCALATION_START_DUE, now)
        ]

    def clear(self, group_id: str, generation: int, due_key: str, now: datetime) -> None:
        """Leave the index (first writer wins; a newer deferral of the same generation stays due)."""
        with self.table.lost_race():
            self.table.call(
                "update_item",
                Key=self.table.item(keys.deferred_start(group_id, generation)),
                UpdateExpression="SET #ttl = :ttl REMOVE GSI3PK, GSI3SK",
                ConditionExpression="GSI3SK = :due",
                ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":due": {"S": due_key},
                    ":ttl": {"N": str(int((now + timedelta(days=7)).timestamp()))},
                },
            )
