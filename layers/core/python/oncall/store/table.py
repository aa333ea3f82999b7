"""The one DynamoDB table as the repositories use it: marshalling, errors, queries, transactions, pages.

Only this module talks to boto3's DynamoDB client. A failed condition is a lost race the caller decides about
(:meth:`Table.lost_race`); every other failure is a :class:`~oncall.ports.StoreError`, which the HTTP edges answer
with 503 so a sender retries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from oncall.ports import Page, StoreError
from oncall.store import keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
Item = dict[str, Any]  # an item in DynamoDB's typed JSON ({"S": ...})
Data = dict[str, Any]  # an item as plain Python values

_TABLE_OPERATIONS: Final = frozenset({"get_item", "put_item", "update_item", "delete_item", "query"})
_WRITE_OPERATIONS: Final = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
)
_RACES: Final = ("ConditionalCheckFailedException", "TransactionCanceledException")
_CONFLICT_RETRIES: Final = 5  # a transaction cancelled by a concurrent one on the same items is tried again


class Refusal:
    """What :meth:`Table.refused` saw: whether the condition failed, and the item that made it fail."""

    refused: bool = False
    item: Item | None = None


class WriteUnits:
    """Write units that DynamoDB reported (``ReturnConsumedCapacity=INDEXES``): the table's and its indexes'."""

    def __init__(self) -> None:
        self.table = 0.0
        self.indexes = 0.0

    @property
    def total(self) -> float:
        return self.table + self.indexes

    def add(self, consumed: Any) -> None:
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.table += float(entry.get("Table", {}).get("CapacityUnits", 0.0))
            for index in entry.get("GlobalSecondaryIndexes", {}).values():
                self.indexes += float(index.get("CapacityUnits", 0.0))


def default_client() -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    # Short timeouts and few retries: a sender (Alertmanager, Grafana) retries a 5xx far better than a Lambda
    # that hangs until API Gateway's 30 s limit. No client-side validation of requests against the API model (~5% of
    # the ingest handler's CPU): Table builds every request, and DynamoDB validates each one anyway (a malformed
    # request is a ValidationException instead of a ParamValidationError: a StoreError either way).
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=32,
        parameter_validation=False,
    )
    return boto3.client("dynamodb", config=config)


class Table:
    def __init__(self, name: str, client: DynamoDBClient | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.name = name
        self.client = client or default_client()
        self._ser = TypeSerializer().serialize
        self._de = TypeDeserializer().deserialize
        self.requests = 0  # DynamoDB round trips made, for benchmarks
        self.capacity: WriteUnits | None = None  # set it to count the write units of every write (benchmarks)

    # --- marshalling ------------------------------------------------------------------------------------------
    def item(self, data: Data) -> Item:
        return {k: self._ser(v) for k, v in data.items() if v is not None}

    def plain(self, item: Item) -> Data:
        return {k: self._de(v) for k, v in item.items()}

    def value(self, value: Any) -> dict[str, Any]:
        return dict(self._ser(value))

    # --- calls ------------------------------------------------------------------------------------------------
    def call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        if operation in _TABLE_OPERATIONS:
            kwargs["TableName"] = self.name
        self.requests += 1
        counting = self.capacity is not None and operation in _WRITE_OPERATIONS
        if counting:
            kwargs["ReturnConsumedCapacity"] = "INDEXES"
        try:
            response = getattr(self.client, operation)(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if counting and self.capacity is not None:
                self.capacity.add(error.response.get("ConsumedCapacity"))
            if code in _RACES:
                raise
            raise StoreError(f"DynamoDB {operation} failed: {code}", code) from error
        except BotoCoreError as error:
            raise StoreError(f"DynamoDB {operation} failed: {error}") from error
        if counting and self.capacity is not None:
            self.capacity.add(response.get("ConsumedCapacity"))
        return response

    @contextmanager
    def refused(self) -> Iterator[Refusal]:
        """A conditional write whose condition failed sets ``refusal.refused`` and ``refusal.item`` (the item it
        found, with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``) instead of raising."""
        from botocore.exceptions import ClientError

        refusal = Refusal()
        try:
            yield refusal
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            refusal.refused, refusal.item = True, cast("dict[str, Any] | None", error.response.get("Item"))

    @contextmanager
    def lost_race(self) -> Iterator[list[bool]]:
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

    def get(self, key: dict[str, str], consistent: bool = True) -> Data | None:
        if not keys.addressable(key):  # an id or a name from a request that no stored item can have
            return None
        response = self.call("get_item", Key=self.item(key), ConsistentRead=consistent)
        item = response.get("Item")
        return self.plain(item) if item else None

    def put_item(self, data: Data, condition: str | None = None) -> None:
        self.call("put_item", Item=self.item(data), **({"ConditionExpression": condition} if condition else {}))

    def delete_item(self, key: dict[str, str]) -> None:
        self.call("delete_item", Key=self.item(key))

    def query_all(self, **kwargs: Any) -> Iterator[Data]:
        while True:
            response = self.call("query", **kwargs)
            for item in response.get("Items", []):
                yield self.plain(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count(self, **query: Any) -> int:
        query["Select"] = "COUNT"
        total = 0
        while True:
            response = self.call("query", **query)
            total += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return total
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def partition(self, pk: str, sk_prefix: str = "", **extra: Any) -> Iterator[Data]:
        """The items of one partition (whose sort key starts with ``sk_prefix``)."""
        if not keys.addressable({"PK": pk}):
            return iter(())
        values: dict[str, Any] = {":pk": {"S": pk}}
        condition = "PK = :pk"
        if sk_prefix:
            condition += " AND begins_with(SK, :prefix)"
            values[":prefix"] = {"S": sk_prefix}
        return self.query_all(KeyConditionExpression=condition, ExpressionAttributeValues=values, **extra)

    def collection(self, name: str, sort_prefix: str = "") -> Iterator[Data]:
        """Every item listed under ``name`` in GSI1 (integrations, users, chains, API keys, ...)."""
        values: dict[str, Any] = {":pk": {"S": name}}
        condition = "GSI1PK = :pk"
        if sort_prefix:
            condition += " AND begins_with(GSI1SK, :prefix)"
            values[":prefix"] = {"S": sort_prefix}
        return self.query_all(IndexName="GSI1", KeyConditionExpression=condition, ExpressionAttributeValues=values)

    def due(self, partition: str, now: datetime) -> Iterator[Data]:
        """The items of a sparse GSI3 due-time partition whose time (``GSI3SK``, a stamp first) has come."""
        return self.query_all(
            IndexName="GSI3",
            KeyConditionExpression="GSI3PK = :pk AND GSI3SK <= :now",
            ExpressionAttributeValues={":pk": {"S": partition}, ":now": {"S": keys.stamp(now) + "~"}},
        )

    # --- transactions and batches -----------------------------------------------------------------------------
    def put(self, data: Data, condition: str | None = None, **extra: Any) -> dict[str, Any]:
        """A Put of a transaction."""
        put: dict[str, Any] = {"TableName": self.name, "Item": self.item(data)}
        if condition:
            put["ConditionExpression"] = condition
        put.update(extra)
        return {"Put": put}

    def update(self, key: dict[str, str], expression: str, **extra: Any) -> dict[str, Any]:
        """An Update of a transaction."""
        return {"Update": {"TableName": self.name, "Key": self.item(key), "UpdateExpression": expression, **extra}}

    def delete(self, key: dict[str, str]) -> dict[str, Any]:
        """A Delete of a transaction."""
        return {"Delete": {"TableName": self.name, "Key": self.item(key)}}

    def transact(self, items: list[dict[str, Any]]) -> None:
        self.call("transact_write_items", TransactItems=items)

    def transact_or_refused(self, items: list[dict[str, Any]]) -> list[bool] | None:
        """Run a transaction; when conditions failed (a lost race), which items' conditions failed, in order,
        instead of an exception (None: it was written)."""
        import time

        from botocore.exceptions import ClientError

        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                self.transact(items)
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "TransactionConflict" in reasons and attempt < _CONFLICT_RETRIES:
                    # A concurrent writer of one of these items is mid-flight: once it is done, our conditions
                    # see what it wrote.
                    time.sleep(0.02 * (attempt + 1))
                    continue
                if "ConditionalCheckFailed" in reasons and all(
                    r in (None, "None", "ConditionalCheckFailed") for r in reasons
                ):
                    return [r == "ConditionalCheckFailed" for r in reasons]
                raise StoreError(f"DynamoDB transaction cancelled: {reasons}") from error
            return None
        raise AssertionError("unreachable")

    def batch_delete(self, item_keys: list[dict[str, str]]) -> None:
        for start in range(0, len(item_keys), 25):
            request = {self.name: [{"DeleteRequest": {"Key": self.item(k)}} for k in item_keys[start : start + 25]]}
            while request:
                response = self.call("batch_write_item", RequestItems=request)
                request = response.get("UnprocessedItems") or {}

    def batch_get(self, item_keys: list[dict[str, str]], *, consistent: bool = False) -> Iterator[Data]:
        item_keys = [key for key in item_keys if keys.addressable(key)]
        for start in range(0, len(item_keys), 100):
            request = {
                self.name: {
                    "Keys": [self.item(k) for k in item_keys[start : start + 100]],
                    "ConsistentRead": consistent,
                }
            }
            while request:
                response = self.call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self.name, []):
                    yield self.plain(item)
                request = response.get("UnprocessedKeys") or {}

    # --- pages ------------------------------------------------------------------------------------------------
    def page(
        self,
        query: dict[str, Any],
        limit: int,
        cursor: str | None,
        parse: Callable[[Data], T],
        key_names: tuple[str, ...],
    ) -> Page[T]:
        """Up to ``limit`` items of ``query`` after ``cursor``, and the cursor of the rest (None: no more).

        ValueError for a cursor that is not one of this listing's (forged, or of another filter).
        """
        if cursor:
            query["ExclusiveStartKey"] = _decode_cursor(cursor, key_names)
        found: list[Data] = []
        query["Limit"] = max(limit, 10) if "FilterExpression" in query else limit + 1
        while True:
            try:
                response = self.call("query", **query)
            except StoreError as error:
                if cursor and not found and error.code == "ValidationException":
                    raise ValueError("invalid cursor") from error  # a cursor of another listing or filter
                raise
            found += [self.plain(i) for i in response.get("Items", [])]
            if len(found) > limit or "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        items = found[:limit]
        more = len(found) > limit or "LastEvaluatedKey" in response
        next_cursor = _encode_cursor({k: self._ser(items[-1][k]) for k in key_names}) if items and more else None
        return Page([parse(i) for i in items], next_cursor)


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
