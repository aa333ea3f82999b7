"""The DynamoDB adapter of :class:`oncall.ports.Store` (single table, see :mod:`oncall.store.schema`).

Writes that must not race are conditional: a group's open-pointer is created with ``attribute_not_exists``,
alerts join an open group with a transaction conditioned on ``is_open``, and state changes carry an optimistic
``version``. Counters are only ever changed with ``ADD`` so concurrent appends never overwrite each other.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from oncall.models import (
    Alert,
    AlertGroup,
    ApiKey,
    AuditEntry,
    Heartbeat,
    Integration,
    IntegrationConfig,
    Route,
    TimelineEntry,
)
from oncall.ports import (
    DeferredStart,
    GroupFilter,
    GroupKey,
    NotFound,
    Page,
    Pointer,
    PointerChange,
    RateCount,
    StoreError,
    TokenRef,
)
from oncall.store import keys, schema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from pydantic import BaseModel

T = TypeVar("T")
Item = dict[str, Any]

# Group attributes that state changes may write; counters (alerts_count, last_alert_*) are never among them.
DEFERRED_STARTS = "ESCALATION_START_DUE"
_TABLE_OPERATIONS = frozenset({"get_item", "put_item", "update_item", "delete_item", "query"})
_STATE_FIELDS = (
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
M = TypeVar("M", bound="BaseModel")
# Groups written before versioning existed have no ``version``: treat it as 0.
FIRST_VERSION = "attribute_exists(PK) AND (attribute_not_exists(version) OR version = :expected)"


def _client() -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    # Short timeouts and few retries: a sender (Alertmanager, Grafana) retries a 5xx far better than a Lambda
    # that hangs until API Gateway's 30 s limit.
    config = Config(
        connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32
    )
    return boto3.client("dynamodb", config=config)


class DynamoStore:
    def __init__(self, table_name: str | None = None, client: DynamoDBClient | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table_name or os.environ.get(schema.TABLE_NAME_ENV, schema.DEFAULT_TABLE_NAME)
        self.client = client or _client()
        self.retention = timedelta(days=int(os.environ.get(schema.RETENTION_DAYS_ENV, schema.DEFAULT_RETENTION_DAYS)))
        self._ser = TypeSerializer().serialize
        self._de = TypeDeserializer().deserialize
        self.requests = 0  # DynamoDB round trips made, for benchmarks

    # --- marshalling ------------------------------------------------------------------------------------------
    def _item(self, data: dict[str, Any]) -> Item:
        return {k: self._ser(v) for k, v in data.items() if v is not None}

    def _plain(self, item: Item) -> dict[str, Any]:
        return {k: self._de(v) for k, v in item.items()}

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        if operation in _TABLE_OPERATIONS:
            kwargs["TableName"] = self.table
        self.requests += 1
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
            raise StoreError(f"DynamoDB {operation} failed: {code}", code) from error
        except BotoCoreError as error:
            raise StoreError(f"DynamoDB {operation} failed: {error}") from error

    @contextmanager
    def _lost_race(self) -> Iterator[list[bool]]:
        """Turns a failed condition into ``lost[0] = True`` instead of an exception."""
        from botocore.exceptions import ClientError

        lost = [False]
        try:
            yield lost
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "TransactionCanceledException":
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons and all(
                    r in (None, "None", "ConditionalCheckFailed") for r in reasons
                ):
                    lost[0] = True
                    return
                raise StoreError(f"DynamoDB transaction cancelled: {reasons}") from error
            if code == "ConditionalCheckFailedException":
                lost[0] = True
                return
            raise

    def _get(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        response = self._call("get_item", Key=self._item(key), ConsistentRead=consistent)
        item = response.get("Item")
        return self._plain(item) if item else None

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._call("query", **kwargs)
            for item in response.get("Items", []):
                yield self._plain(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _put(self, data: dict[str, Any], condition: str | None = None, **extra: Any) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": self._item(data)}
        if condition:
            put["ConditionExpression"] = condition
        put.update(extra)
        return {"Put": put}

    def _transact(self, items: list[dict[str, Any]]) -> None:
        self._call("transact_write_items", TransactItems=items)

    # --- integration configuration --------------------------------------------------------------------------
    def get_token(self, token_hash: str) -> TokenRef | None:
        item = self._get(keys.token(token_hash), consistent=False)
        return TokenRef(item["integration_id"], item["type"]) if item else None

    def load_config(self, integration_id: str) -> IntegrationConfig | None:
        integration: Integration | None = None
        routes: list[Route] = []
        version = 0
        heartbeat = Heartbeat()
        for item in self._query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"INT#{integration_id}"}},
            ConsistentRead=True,
        ):
            sk = item["SK"]
            if sk == "META":
                integration = Integration.model_validate(item)
            elif sk == "STAMP":
                version = int(item.get("config_version", 0))
            elif sk == "HEARTBEAT":
                heartbeat = Heartbeat.model_validate(item)
            elif sk.startswith("ROUTE#"):
                routes.append(Route.model_validate(item))
        if integration is None:
            return None
        routes.sort(key=lambda r: (r.is_default, r.position))
        return IntegrationConfig(integration=integration, routes=routes, version=version, heartbeat=heartbeat)

    def count_request(self, integration_id: str, window: int, requests: int = 1) -> RateCount:
        from botocore.exceptions import ClientError

        try:
            response = self._call(
                "update_item",
                Key=self._item(keys.config_stamp(integration_id)),
                UpdateExpression="SET #cur = if_not_exists(#cur, :zero) + :one REMOVE #old",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#cur": f"rate_{window}", "#old": f"rate_{window - 2}"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": str(requests)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            raise NotFound(integration_id) from error
        attributes = self._plain(response["Attributes"])
        stale = [k for k in attributes if k.startswith("rate_") and k not in (f"rate_{window}", f"rate_{window - 1}")]
        if stale:  # left behind by idle gaps longer than a window: tidy up, rarely
            self._call(
                "update_item",
                Key=self._item(keys.config_stamp(integration_id)),
                UpdateExpression="REMOVE " + ", ".join(f"#s{i}" for i in range(len(stale))),
                ExpressionAttributeNames={f"#s{i}": name for i, name in enumerate(stale)},
            )
        return RateCount(
            current=int(attributes.get(f"rate_{window}", 1)),
            previous=int(attributes.get(f"rate_{window - 1}", 0)),
            config_version=int(attributes.get("config_version", 0)),
        )

    def _integration_item(self, integration: Integration) -> dict[str, Any]:
        data = integration.model_dump(mode="json", exclude_none=True)
        return {
            **data,
            **keys.integration(integration.id),
            "GSI1PK": "INTEGRATIONS",
            "GSI1SK": f"{integration.name.lower()}#{integration.id}",
        }

    def _route_item(self, route: Route) -> dict[str, Any]:
        data = route.model_dump(mode="json", exclude_none=True)
        order = f"{int(route.is_default)}#{route.position:06d}#{route.id}"
        return {
            **data,
            **keys.route(route.integration_id, route.id),
            "GSI1PK": "ROUTES",
            "GSI1SK": f"{route.integration_id}#{order}",
        }

    def _bump_version(self, integration_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._item(keys.config_stamp(integration_id)),
                "UpdateExpression": "ADD config_version :one",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }

    def create_integration(self, integration: Integration, default_route: Route) -> None:
        self._transact(
            [
                self._put(self._integration_item(integration), "attribute_not_exists(PK)"),
                self._put(
                    {**keys.token(integration.token_hash), "integration_id": integration.id, "type": integration.type},
                    "attribute_not_exists(PK)",
                ),
                self._put({**keys.config_stamp(integration.id), "config_version": 1}),
                self._put(self._route_item(default_route)),
                self._put({**keys.route_ref(default_route.id), "integration_id": integration.id}),
            ]
        )

    def update_integration(
        self, integration: Integration, *, expected_maintenance_id: str | object | None = ...
    ) -> bool:
        """Replace the integration; with ``expected_maintenance_id`` only if its maintenance window is that one
        (None: none active). False when that condition failed."""
        condition, values = "attribute_exists(PK)", {}
        if expected_maintenance_id is None:
            condition += " AND attribute_not_exists(maintenance_id)"
        elif isinstance(expected_maintenance_id, str):
            condition += " AND maintenance_id = :window"
            values = {"ExpressionAttributeValues": {":window": {"S": expected_maintenance_id}}}
        with self._lost_race() as lost:
            self._transact(
                [
                    self._put(self._integration_item(integration), condition, **values),
                    self._bump_version(integration.id),
                ]
            )
        return not lost[0]

    def replace_token(self, old: Integration, new: Integration) -> None:
        self._transact(
            [
                {"Delete": {"TableName": self.table, "Key": self._item(keys.token(old.token_hash))}},
                self._put(
                    {**keys.token(new.token_hash), "integration_id": new.id, "type": new.type},
                    "attribute_not_exists(PK)",
                ),
                self._put(self._integration_item(new), "attribute_exists(PK)"),
                self._bump_version(new.id),
            ]
        )

    def delete_integration(self, integration_id: str) -> None:
        items = list(
            self._query_all(
                KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": f"INT#{integration_id}"}}
            )
        )
        deletes: list[dict[str, str]] = []
        for item in items:
            deletes.append({"PK": item["PK"], "SK": item["SK"]})
            if item["SK"] == "META":
                deletes.append(keys.token(item["token_hash"]))
            elif item["SK"].startswith("ROUTE#"):
                deletes.append(keys.route_ref(item["id"]))
        for start in range(0, len(deletes), 25):
            self._call_batch_delete(deletes[start : start + 25])

    def _call_batch_delete(self, batch: list[dict[str, str]]) -> None:
        request = {self.table: [{"DeleteRequest": {"Key": self._item(key)}} for key in batch]}
        while request:
            response = self._call("batch_write_item", RequestItems=request)
            request = response.get("UnprocessedItems") or {}

    def list_integrations(self) -> list[Integration]:
        return self.list_entities("INTEGRATIONS", Integration)

    def get_route(self, route_id: str) -> Route | None:
        ref = self._get(keys.route_ref(route_id))
        if not ref:
            return None
        item = self._get(keys.route(ref["integration_id"], route_id))
        return Route.model_validate(item) if item else None

    def save_routes(self, integration_id: str, routes: list[Route], deleted: list[str] | None = None) -> None:
        writes: list[dict[str, Any]] = []
        for route in routes:
            writes.append(self._put(self._route_item(route)))
            writes.append(self._put({**keys.route_ref(route.id), "integration_id": integration_id}))
        for route_id in deleted or []:
            for key in (keys.route(integration_id, route_id), keys.route_ref(route_id)):
                writes.append({"Delete": {"TableName": self.table, "Key": self._item(key)}})
        writes.append(self._bump_version(integration_id))
        self._transact(writes)

    def list_routes(self, integration_id: str | None = None) -> list[Route]:
        values: dict[str, Any] = {":pk": {"S": "ROUTES"}}
        condition = "GSI1PK = :pk"
        if integration_id:
            condition += " AND begins_with(GSI1SK, :int)"
            values[":int"] = {"S": f"{integration_id}#"}
        return [
            Route.model_validate(item)
            for item in self._query_all(
                IndexName="GSI1", KeyConditionExpression=condition, ExpressionAttributeValues=values
            )
        ]

    # --- alert groups ---------------------------------------------------------------------------------------
    def get_pointer(self, key: GroupKey) -> Pointer | None:
        item = self._get(keys.pointer(key))
        return Pointer(key, item["group_id"], bool(item["open"])) if item else None

    def _group_item(self, group: AlertGroup) -> dict[str, Any]:
        data = group.model_dump(
            mode="json", exclude_none=True, exclude={"label_states"} if not group.label_states else None
        )
        created = keys.stamp(group.created_at)
        data.update(keys.group(group.id))
        data.update(
            GSI1PK="GROUPS",
            GSI1SK=f"{created}#{group.id}",
            GSI2PK=f"INTGROUPS#{group.integration_id}",
            GSI2SK=f"{created}#{group.id}",
            GSI3PK=f"STATE#{group.state.value}",
            GSI3SK=f"{created}#{group.id}",
        )
        if group.labels:
            data["label_pairs"] = {f"{k}:{v}" for k, v in group.labels.items()}
        return data

    def _alert_item(self, alert: Alert) -> dict[str, Any]:
        data = alert.model_dump(mode="json", exclude_none=True, exclude={"payload"})
        data["payload_json"] = json.dumps(alert.payload, separators=(",", ":"), ensure_ascii=False)
        data["ttl"] = int((alert.created_at + self.retention).timestamp())
        return {**data, **keys.alert(alert.group_id, alert.id)}

    def _timeline_puts(self, entries: list[TimelineEntry]) -> list[dict[str, Any]]:
        return [
            # Entries of one instant keep the order they were written in (the write time breaks ties).
            self._put(
                {
                    **e.model_dump(mode="json", exclude_none=True),
                    **keys.timeline(e.group_id, e.at, f"{time.time_ns()}{i:02d}{secrets.token_hex(2)}"),
                }
            )
            for i, e in enumerate(entries)
        ]

    def create_group(
        self, group: AlertGroup, alert: Alert, timeline: list[TimelineEntry], replaces: Pointer | None
    ) -> bool:
        key = GroupKey(group.integration_id, group.route_id, group.distinction)
        pointer_item = {**keys.pointer(key), "group_id": group.id, "open": group.is_open}
        if replaces is None:
            pointer = self._put(pointer_item, "attribute_not_exists(PK)")
        else:
            pointer = self._put(
                pointer_item,
                "group_id = :old AND #open = :false",
                ExpressionAttributeNames={"#open": "open"},
                ExpressionAttributeValues={":old": {"S": replaces.group_id}, ":false": {"BOOL": False}},
            )
        writes = [
            pointer,
            self._put(self._group_item(group), "attribute_not_exists(PK)"),
            self._put(self._alert_item(alert)),
        ]
        with self._lost_race() as lost:
            self._transact(writes + self._timeline_puts(timeline))
        return not lost[0]

    def append_alert(self, group: GroupKey, group_id: str, alert: Alert) -> bool:
        update = {
            "Update": {
                "TableName": self.table,
                "Key": self._item(keys.group(group_id)),
                "UpdateExpression": "ADD alerts_count :one SET last_alert_at = :at, last_alert_id = :id",
                "ConditionExpression": "is_open = :true",
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":true": {"BOOL": True},
                    ":at": {"S": alert.model_dump(mode="json")["created_at"]},
                    ":id": {"S": alert.id},
                },
            }
        }
        with self._lost_race() as lost:
            self._transact([update, self._put(self._alert_item(alert))])
        return not lost[0]

    def save_group(
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
        values: dict[str, Any] = {f":{name}": self._ser(data[name]) for name in _STATE_FIELDS if data[name] is not None}
        sets.append("GSI3PK = :state")
        values[":state"] = {"S": f"STATE#{group.state.value}"}
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
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._item(keys.group(group.id)),
                    "UpdateExpression": expression,
                    "ConditionExpression": FIRST_VERSION if expected_version == 0 else "version = :expected",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if alert is not None:
            writes.append(self._put(self._alert_item(alert)))
        if pointer is not None:
            key = GroupKey(group.integration_id, group.route_id, group.distinction)
            writes.append(self._pointer_change(key, group.id, pointer))
        writes += self._timeline_puts(timeline or [])
        with self._lost_race() as lost:
            self._transact(writes)
        if lost[0] and pointer == "reopen":
            # The key has a newer group: reopening this one for grouping is not possible; save the rest.
            return self.save_group(
                group.model_copy(update={"is_open": False}), expected_version, alert=alert, timeline=timeline
            )
        return not lost[0]

    def _pointer_change(self, key: GroupKey, group_id: str, change: PointerChange) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._item(keys.pointer(key)),
                "UpdateExpression": "SET #open = :open",
                "ConditionExpression": "group_id = :gid",
                "ExpressionAttributeNames": {"#open": "open"},
                "ExpressionAttributeValues": {":open": {"BOOL": change == "reopen"}, ":gid": {"S": group_id}},
            }
        }

    def append_timeline(self, entries: list[TimelineEntry]) -> None:
        puts = self._timeline_puts(entries)
        if len(puts) == 1:
            self._call("put_item", Item=puts[0]["Put"]["Item"])
        elif puts:
            self._transact(puts)

    def get_group(self, group_id: str) -> AlertGroup | None:
        item = self._get(keys.group(group_id))
        return AlertGroup.model_validate(item) if item else None

    def _group_query(self, filters: GroupFilter) -> dict[str, Any]:
        if filters.state:
            index, pk_name, sk_name, pk = "GSI3", "GSI3PK", "GSI3SK", f"STATE#{filters.state}"
        elif filters.integration_id:
            index, pk_name, sk_name, pk = "GSI2", "GSI2PK", "GSI2SK", f"INTGROUPS#{filters.integration_id}"
        else:
            index, pk_name, sk_name, pk = "GSI1", "GSI1PK", "GSI1SK", "GROUPS"
        values: dict[str, Any] = {":pk": {"S": pk}}
        condition = f"{pk_name} = :pk"
        if filters.started_after or filters.started_before:
            low = keys.stamp(filters.started_after) if filters.started_after else "0"
            high = keys.stamp(filters.started_before) + "~" if filters.started_before else "~"
            condition += f" AND {sk_name} BETWEEN :low AND :high"
            values.update({":low": {"S": low}, ":high": {"S": high}})
        clauses: list[str] = []
        for name, value in (
            ("integration_id", filters.integration_id),
            ("route_id", filters.route_id),
            ("team_id", filters.team_id),
        ):
            if value and not (name == "integration_id" and index == "GSI2"):
                clauses.append(f"{name} = :{name}")
                values[f":{name}"] = {"S": value}
        if filters.root_alert_group_id:
            clauses.append("root_alert_group_id = :root")
            values[":root"] = {"S": filters.root_alert_group_id}
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
        query["_keys"] = (pk_name, sk_name)
        return query

    def _page(
        self,
        query: dict[str, Any],
        limit: int,
        cursor: str | None,
        parse: Callable[[dict[str, Any]], T],
        key_names: tuple[str, ...],
    ) -> Page[T]:
        if cursor:
            query["ExclusiveStartKey"] = _decode_cursor(cursor, key_names)
        found: list[dict[str, Any]] = []
        query["Limit"] = max(limit, 10) if "FilterExpression" in query else limit + 1
        while True:
            try:
                response = self._call("query", **query)
            except StoreError as error:
                if cursor and not found and error.code == "ValidationException":
                    raise ValueError("invalid cursor") from error  # a cursor of another listing or filter
                raise
            found += [self._plain(i) for i in response.get("Items", [])]
            if len(found) > limit or "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        items = found[:limit]
        more = len(found) > limit or "LastEvaluatedKey" in response
        next_cursor = _encode_cursor({k: self._ser(items[-1][k]) for k in key_names}) if items and more else None
        return Page([parse(i) for i in items], next_cursor)

    def list_groups(self, filters: GroupFilter, limit: int, cursor: str | None) -> Page[AlertGroup]:
        query = self._group_query(filters)
        pk_name, sk_name = query.pop("_keys")
        return self._page(query, limit, cursor, AlertGroup.model_validate, ("PK", "SK", pk_name, sk_name))

    def count_groups(self, filters: GroupFilter) -> int:
        query = self._group_query(filters)
        query.pop("_keys")
        query["Select"] = "COUNT"
        total = 0
        while True:
            response = self._call("query", **query)
            total += response["Count"]
            if "LastEvaluatedKey" not in response:
                return total
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_alerts(self, group_id: str, limit: int, cursor: str | None) -> Page[Alert]:
        query = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :alert)",
            "ExpressionAttributeValues": {":pk": {"S": f"GROUP#{group_id}"}, ":alert": {"S": "ALERT#"}},
            "ScanIndexForward": False,
        }
        return self._page(query, limit, cursor, _alert_from_item, ("PK", "SK"))

    def get_alerts(self, pairs: list[tuple[str, str]]) -> dict[str, Alert]:
        found: dict[str, Alert] = {}
        unique = list(dict.fromkeys(pairs))
        for start in range(0, len(unique), 100):
            request = {self.table: {"Keys": [self._item(keys.alert(g, a)) for g, a in unique[start : start + 100]]}}
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    alert = _alert_from_item(self._plain(item))
                    found[alert.id] = alert
                request = response.get("UnprocessedKeys") or {}
        return found

    def get_timeline(self, group_id: str) -> list[TimelineEntry]:
        return [
            TimelineEntry.model_validate(item)
            for item in self._query_all(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :log)",
                ExpressionAttributeValues={":pk": {"S": f"GROUP#{group_id}"}, ":log": {"S": "LOG#"}},
            )
        ]

    def _group_item_keys(self, group_id: str, prefix: str = "") -> list[dict[str, str]]:
        values: dict[str, Any] = {":pk": {"S": f"GROUP#{group_id}"}}
        condition = "PK = :pk"
        if prefix:
            condition += " AND begins_with(SK, :prefix)"
            values[":prefix"] = {"S": prefix}
        return [
            {"PK": i["PK"], "SK": i["SK"]}
            for i in self._query_all(
                KeyConditionExpression=condition, ExpressionAttributeValues=values, ProjectionExpression="PK, SK"
            )
        ]

    def delete_group(self, group_id: str) -> None:
        group = self.get_group(group_id)
        if group is None:
            return
        key = GroupKey(group.integration_id, group.route_id, group.distinction)
        with self._lost_race():
            self._call(
                "delete_item",
                Key=self._item(keys.pointer(key)),
                ConditionExpression="group_id = :gid",
                ExpressionAttributeValues={":gid": {"S": group_id}},
            )
        item_keys = self._group_item_keys(group_id)
        for start in range(0, len(item_keys), 25):
            self._call_batch_delete(item_keys[start : start + 25])

    def wipe_alerts(self, group_id: str, note: str) -> None:
        for key in self._group_item_keys(group_id, "ALERT#"):
            self._call(
                "update_item",
                Key=self._item(key),
                UpdateExpression="SET payload_json = :empty, title = :note REMOVE message, image_url",
                ExpressionAttributeValues={":empty": {"S": "{}"}, ":note": {"S": note}},
            )

    # --- heartbeats -------------------------------------------------------------------------------------------
    # Armed heartbeats that have not alerted carry GSI3 keys HEARTBEAT_DUE / <due time>: a sparse index, so the
    # sweep reads only what is due and never scans.

    def beat(self, integration_id: str, now: datetime, timeout_seconds: int) -> bool:
        """Record a beat; True if the heartbeat had alerted (so the caller sends the restoring alert, once)."""
        due = now + timedelta(seconds=timeout_seconds)
        response = self._call(
            "update_item",
            Key=self._item(keys.heartbeat(integration_id)),
            UpdateExpression="SET last_beat_at = :now, timeout_seconds = :timeout, alerted = :false, "
            "GSI3PK = :due_pk, GSI3SK = :due, GSI1PK = :all, GSI1SK = :id",
            ExpressionAttributeValues={
                ":now": {"S": now.isoformat()},
                ":timeout": {"N": str(timeout_seconds)},
                ":false": {"BOOL": False},
                ":due_pk": {"S": "HEARTBEAT_DUE"},
                ":due": {"S": f"{keys.stamp(due)}#{integration_id}"},
                ":all": {"S": "HEARTBEATS"},
                ":id": {"S": integration_id},
            },
            ReturnValues="UPDATED_OLD",
        )
        return bool(self._plain(response.get("Attributes", {})).get("alerted", False))

    def list_heartbeats(self) -> dict[str, Heartbeat]:
        return {item["GSI1SK"]: Heartbeat.model_validate(item) for item in self._collection("HEARTBEATS")}

    def due_heartbeats(self, now: datetime) -> list[tuple[str, str]]:
        """(integration id, due key) of armed heartbeats whose time is up."""
        return [(item["PK"].removeprefix("INT#"), item["GSI3SK"]) for item in self._due("HEARTBEAT_DUE", now)]

    def _due(self, partition: str, now: datetime) -> Iterator[dict[str, Any]]:
        """The items of a sparse GSI3 due-time partition whose time (``GSI3SK``, a stamp first) has come."""
        return self._query_all(
            IndexName="GSI3",
            KeyConditionExpression="GSI3PK = :pk AND GSI3SK <= :now",
            ExpressionAttributeValues={":pk": {"S": partition}, ":now": {"S": keys.stamp(now) + "~"}},
        )

    def mark_heartbeat_expired(self, integration_id: str, due_key: str) -> bool:
        """First writer wins: True for the one sweep that turns this expiry into an alert."""
        with self._lost_race() as lost:
            self._call(
                "update_item",
                Key=self._item(keys.heartbeat(integration_id)),
                UpdateExpression="SET alerted = :true REMOVE GSI3PK, GSI3SK",
                ConditionExpression="GSI3SK = :due",
                ExpressionAttributeValues={":true": {"BOOL": True}, ":due": {"S": due_key}},
            )
        return not lost[0]

    def set_heartbeat(self, integration_id: str, heartbeat: Heartbeat) -> None:
        """Replace the heartbeat state (timeout change, reset); re-arms the due time when it has beaten."""
        item: dict[str, Any] = {
            **keys.heartbeat(integration_id),
            **heartbeat.model_dump(mode="json", exclude_none=True),
            "GSI1PK": "HEARTBEATS",
            "GSI1SK": integration_id,
        }
        if heartbeat.last_beat_at is not None and not heartbeat.alerted:
            due = heartbeat.last_beat_at + timedelta(seconds=heartbeat.timeout_seconds)
            item.update(GSI3PK="HEARTBEAT_DUE", GSI3SK=f"{keys.stamp(due)}#{integration_id}")
        self._call("put_item", Item=self._item(item))

    # --- escalation starts that failed ------------------------------------------------------------------------
    # A record per (group, generation) whose StartExecution failed, in the sparse GSI3 ``ESCALATION_START_DUE``
    # until the minute sweep has started it; then it only keeps a ``ttl`` (ingest roles have no DeleteItem).

    def defer_escalation_start(self, group_id: str, generation: int, now: datetime) -> None:
        item = {
            **keys.deferred_start(group_id, generation),
            "group_id": group_id,
            "generation": generation,
            "deferred_at": now.isoformat(),
            "GSI3PK": DEFERRED_STARTS,
            "GSI3SK": f"{keys.stamp(now)}#{group_id}#{generation}",
        }
        self._call("put_item", Item=self._item(item))

    def due_escalation_starts(self, now: datetime) -> list[DeferredStart]:
        """Every start still to retry, oldest first."""
        return [
            DeferredStart(
                item["group_id"], int(item["generation"]), item["GSI3SK"], datetime.fromisoformat(item["deferred_at"])
            )
            for item in self._due(DEFERRED_STARTS, now)
        ]

    def clear_escalation_start(self, group_id: str, generation: int, due_key: str, now: datetime) -> None:
        """Leave the index (first writer wins; a newer deferral of the same generation stays due)."""
        with self._lost_race():
            self._call(
                "update_item",
                Key=self._item(keys.deferred_start(group_id, generation)),
                UpdateExpression="SET #ttl = :ttl REMOVE GSI3PK, GSI3SK",
                ConditionExpression="GSI3SK = :due",
                ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":due": {"S": due_key},
                    ":ttl": {"N": str(int((now + timedelta(days=7)).timestamp()))},
                },
            )

    # --- people, chains, webhooks: plain entities ------------------------------------------------------------
    def put_entity(self, kind: str, entity: BaseModel, *, collection: str, sort: str, new: bool = False) -> None:
        """Store ``entity`` under ``<kind>#<id>``, listed in ``collection`` by ``sort``; ``new``: no overwrite."""
        data = entity.model_dump(mode="json", exclude_none=True)
        item = {**data, "PK": f"{kind}#{data['id']}", "SK": "META", "GSI1PK": collection, "GSI1SK": sort}
        self._call(
            "put_item", Item=self._item(item), **({"ConditionExpression": "attribute_not_exists(PK)"} if new else {})
        )

    def get_entity(self, kind: str, entity_id: str, model: type[M]) -> M | None:
        item = self._get({"PK": f"{kind}#{entity_id}", "SK": "META"})
        return model.model_validate(item) if item else None

    def list_entities(self, collection: str, model: type[M]) -> list[M]:
        return [model.model_validate(item) for item in self._collection(collection)]

    def _collection(self, name: str) -> Iterator[dict[str, Any]]:
        """Every item listed under ``name`` in GSI1 (integrations, users, chains, API keys, ...)."""
        return self._query_all(
            IndexName="GSI1", KeyConditionExpression="GSI1PK = :pk", ExpressionAttributeValues={":pk": {"S": name}}
        )

    def delete_entity(self, kind: str, entity_id: str) -> None:
        self._call("delete_item", Key=self._item({"PK": f"{kind}#{entity_id}", "SK": "META"}))

    def next_in_turn(self, kind: str, entity_id: str) -> int:
        """An ever-increasing counter on an entity (round robin across alert groups)."""
        response = self._call(
            "update_item",
            Key=self._item({"PK": f"{kind}#{entity_id}", "SK": "META"}),
            UpdateExpression="ADD turn :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["turn"]["N"]) - 1

    def claim(self, group_id: str, key: str) -> bool:
        """First writer wins: True once per (group, key), so a retried step never notifies twice."""
        from botocore.exceptions import ClientError

        try:
            self._call(
                "put_item",
                Item=self._item({"PK": f"GROUP#{group_id}", "SK": f"SENT#{key}"}),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def count_alerts_since(self, group_id: str, since: datetime) -> int:
        # Alert ids start with the creation time in nanoseconds, so a key range is a time range.
        low = f"ALERT#A{int(since.timestamp() * 1e9):020d}"
        total = 0
        query: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "Select": "COUNT",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"GROUP#{group_id}"},
                ":low": {"S": low},
                ":high": {"S": "ALERT#A~"},
            },
        }
        while True:
            response = self._call("query", **query)
            total += response["Count"]
            if "LastEvaluatedKey" not in response:
                return total
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- access -------------------------------------------------------------------------------------------
    def get_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._get(keys.api_key(key_hash), consistent=False)
        return ApiKey.model_validate(item) if item else None

    def put_api_key(self, key: ApiKey) -> None:
        item = {
            **key.model_dump(mode="json", exclude_none=True),
            **keys.api_key(key.key_hash),
            "GSI1PK": "APIKEYS",
            "GSI1SK": f"{key.user_id}#{key.id}",
        }
        self._call("put_item", Item=self._item(item))

    def list_api_keys(self) -> list[ApiKey]:
        return self.list_entities("APIKEYS", ApiKey)

    def delete_api_key(self, key: ApiKey) -> None:
        self._call("delete_item", Key=self._item(keys.api_key(key.key_hash)))

    def hit(self, counter: str, window: int, ttl_seconds: int) -> int:
        response = self._call(
            "update_item",
            Key=self._item({"PK": f"COUNTER#{counter}", "SK": f"W#{window}"}),
            UpdateExpression="ADD hits :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
            ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(int(time.time()) + ttl_seconds)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"]["N"])

    def audit(self, entry: AuditEntry) -> None:
        # One partition per day keeps the log listable newest first without a scan.
        day = entry.at.astimezone(UTC).strftime("%Y-%m-%d")
        item = {
            **entry.model_dump(mode="json"),
            "PK": f"AUDIT#{day}",
            "SK": f"{keys.stamp(entry.at)}#{secrets.token_hex(3)}",
        }
        self._call("put_item", Item=self._item(item))

    def audit_log(self, day: str, limit: int) -> list[AuditEntry]:
        response = self._call(
            "query",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"AUDIT#{day}"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [AuditEntry.model_validate(self._plain(item)) for item in response.get("Items", [])]


def _alert_from_item(item: dict[str, Any]) -> Alert:
    item["payload"] = json.loads(item.pop("payload_json", "null"))
    return Alert.model_validate(item)


def _encode_cursor(key: Item) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, key_names: tuple[str, ...]) -> Item:
    """The start key a cursor encodes: exactly the listing's key attributes, each a string."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as error:
        raise ValueError("invalid cursor") from error
    if not isinstance(key, dict) or set(key) != set(key_names):
        raise ValueError("invalid cursor")
    if not all(isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) for v in key.values()):
        raise ValueError("invalid cursor")
    return key
