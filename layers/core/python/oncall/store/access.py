"""API keys (by the hash of the secret), the audit log (a partition per day) and request counters (per window,
expiring by TTL)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from oncall.directory import ApiKey, AuditEntry
from oncall.store import keys, schema
from oncall.store.epoch import DynamoAuthEpoch
from oncall.store.table import Table


class DynamoApiKeys:
    def __init__(self, table: Table, epoch: DynamoAuthEpoch) -> None:
        self.table = table
        self.epoch = epoch

    def by_hash(self, key_hash: str) -> ApiKey | None:
        data = self.table.get(keys.api_key(key_hash), consistent=False)
        return ApiKey.model_validate(data) if data else None

    def put(self, key: ApiKey) -> None:
        self.table.put_item(
            {
                **key.model_dump(mode="json", exclude_none=True),
                **keys.api_key(key.key_hash),
                "GSI1PK": keys.API_KEYS,
                "GSI1SK": f"{key.user_id}#{key.id}",
            }
        )

    def list(self) -> list[ApiKey]:
        return [ApiKey.model_validate(data) for data in self.table.collection(keys.API_KEYS)]

    def delete(self, key: ApiKey) -> None:
        self.table.delete_item(keys.api_key(key.key_hash))
        self.epoch.bump()


class DynamoAuditLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, entry: AuditEntry) -> None:
        day = entry.at.astimezone(UTC).strftime("%Y-%m-%d")
        item = {
            **entry.model_dump(mode="json"),
            "PK": keys.audit_day(day),
            "SK": f"{keys.stamp(entry.at)}#{secrets.token_hex(3)}",
        }
        self.table.put_item(item)

    def day(self, day: str, limit: int) -> list[AuditEntry]:
        response = self.table.call(
            "query",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.audit_day(day)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [AuditEntry.model_validate(self.table.plain(item)) for item in response.get("Items", [])]


class DynamoCounters:
    def __init__(self, table: Table) -> None:
        self.table = table

    def hit(self, counter: str, window: int, expires: datetime, hits: int = 1) -> int:
        response = self.table.call(
            "update_item",
            Key=self.table.item(keys.counter(counter, window)),
            UpdateExpression="ADD hits :hits SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
            ExpressionAttributeValues={":hits": {"N": str(hits)}, ":ttl": {"N": str(int(expires.timestamp()))}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"]["N"])
