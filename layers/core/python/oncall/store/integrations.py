"""Integrations, their routes, ingest tokens, configuration stamps and heartbeats (partition ``INT#<id>``)."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import Any

from oncall.codec import from_json, to_json
from oncall.errors import NotFound
from oncall.models import Heartbeat, Integration, IntegrationConfig, Route
from oncall.ports import RateCount, TokenRef
from oncall.store import keys
from oncall.store.epoch import DynamoAuthEpoch
from oncall.store.table import Data, Table


class DynamoIntegrations:
    def __init__(self, table: Table, epoch: DynamoAuthEpoch) -> None:
        self.table = table
        self.epoch = epoch  # regenerating a token or deleting an integration revokes its token

    def token(self, token_hash: str) -> TokenRef | None:
        data = self.table.get(keys.token(token_hash), consistent=False)
        return TokenRef(data["integration_id"], data["type"]) if data else None

    def config(self, integration_id: str) -> IntegrationConfig | None:
        integration: Integration | None = None
        routes: list[Route] = []
        version = 0
        heartbeat = Heartbeat()
        for data in self.table.partition(keys.integration_partition(integration_id), ConsistentRead=True):
            sk = data["SK"]
            if sk == keys.META:
                integration = from_json(Integration, data)
            elif sk == keys.config_stamp(integration_id)["SK"]:
                version = int(data.get("config_version", 0))
            elif sk == keys.heartbeat(integration_id)["SK"]:
                heartbeat = from_json(Heartbeat, data)
            elif sk.startswith("ROUTE#"):
                routes.append(from_json(Route, data))
        if integration is None:
            return None
        routes.sort(key=lambda r: (r.is_default, r.position))
        return IntegrationConfig(integration=integration, routes=routes, version=version, heartbeat=heartbeat)

    def count_request(self, integration_id: str, window: int, requests: int = 1) -> RateCount:
        from botocore.exceptions import ClientError

        stamp_key = self.table.item(keys.config_stamp(integration_id))
        try:
            response = self.table.call(
                "update_item",
                Key=stamp_key,
                UpdateExpression="SET #cur = if_not_exists(#cur, :zero) + :one REMOVE #old",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#cur": f"rate_{window}", "#old": f"rate_{window - 2}"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": str(requests)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            raise NotFound(integration_id) from error
        attributes = self.table.plain(response["Attributes"])
        stale = [k for k in attributes if k.startswith("rate_") and k not in (f"rate_{window}", f"rate_{window - 1}")]
        if stale:  # left behind by idle gaps longer than a window: tidy up, rarely
            self.table.call(
                "update_item",
                Key=stamp_key,
                UpdateExpression="REMOVE " + ", ".join(f"#s{i}" for i in range(len(stale))),
                ExpressionAttributeNames={f"#s{i}": name for i, name in enumerate(stale)},
            )
        return RateCount(
            current=int(attributes.get(f"rate_{window}", 1)),
            previous=int(attributes.get(f"rate_{window - 1}", 0)),
            config_version=int(attributes.get("config_version", 0)),
        )

    def _integration_item(self, integration: Integration) -> Data:
        data = to_json(integration, exclude_none=True)
        return {
            **data,
            **keys.integration(integration.id),
            "GSI1PK": keys.INTEGRATIONS,
            "GSI1SK": f"{integration.name.lower()}#{integration.id}",
        }

    def _route_item(self, route: Route) -> Data:
        data = to_json(route, exclude_none=True)
        order = f"{int(route.is_default)}#{route.position:06d}#{route.id}"
        return {
            **data,
            **keys.route(route.integration_id, route.id),
            "GSI1PK": keys.ROUTES,
            "GSI1SK": f"{route.integration_id}#{order}",
        }

    def _token_item(self, integration: Integration) -> Data:
        return {**keys.token(integration.token_hash), "integration_id": integration.id, "type": integration.type}

    def _bump_version(self, integration_id: str) -> dict[str, Any]:
        return self.table.update(
            keys.config_stamp(integration_id),
            "ADD config_version :one",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def create(self, integration: Integration, default_route: Route) -> None:
        put = self.table.put
        self.table.transact(
            [
                put(self._integration_item(integration), "attribute_not_exists(PK)"),
                put(self._token_item(integration), "attribute_not_exists(PK)"),
                put({**keys.config_stamp(integration.id), "config_version": 1}),
                put(self._route_item(default_route)),
                put({**keys.route_ref(default_route.id), "integration_id": integration.id}),
            ]
        )

    def update(self, integration: Integration, *, expected_maintenance_id: str | object | None = ...) -> bool:
        condition, values = "attribute_exists(PK)", {}
        if expected_maintenance_id is None:
            condition += " AND attribute_not_exists(maintenance_id)"
        elif isinstance(expected_maintenance_id, str):
            condition += " AND maintenance_id = :window"
            values = {"ExpressionAttributeValues": {":window": {"S": expected_maintenance_id}}}
        with self.table.lost_race() as lost:
            self.table.transact(
                [
                    self.table.put(self._integration_item(integration), condition, **values),
                    self._bump_version(integration.id),
                ]
            )
        return not lost[0]

    def replace_token(self, old: Integration, new: Integration) -> None:
        self.table.transact(
            [
                self.table.delete(keys.token(old.token_hash)),
                self.table.put(self._token_item(new), "attribute_not_exists(PK)"),
                self.table.put(self._integration_item(new), "attribute_exists(PK)"),
                self._bump_version(new.id),
                self.epoch.bump_in_transaction(),
            ]
        )
        self.epoch.bumped()

    def delete(self, integration_id: str) -> None:
        doomed: list[keys.Key] = []
        for data in self.table.partition(keys.integration_partition(integration_id)):
            doomed.append({"PK": data["PK"], "SK": data["SK"]})
            if data["SK"] == keys.META:
                doomed.append(keys.token(data["token_hash"]))
            elif data["SK"].startswith("ROUTE#"):
                doomed.append(keys.route_ref(data["id"]))
        self.table.batch_delete(doomed)
        self.epoch.bump()

    def list(self) -> list[Integration]:
        return [from_json(Integration, data) for data in self.table.collection(keys.INTEGRATIONS)]

    def route(self, route_id: str) -> Route | None:
        ref = self.table.get(keys.route_ref(route_id))
        if not ref:
            return None
        data = self.table.get(keys.route(ref["integration_id"], route_id))
        return from_json(Route, data) if data else None

    def routes(self, integration_id: str | None = None) -> builtins.list[Route]:
        prefix = f"{integration_id}#" if integration_id else ""
        return [from_json(Route, data) for data in self.table.collection(keys.ROUTES, prefix)]

    def save_routes(
        self, integration_id: str, routes: builtins.list[Route], deleted: builtins.list[str] | None = None
    ) -> None:
        writes: list[dict[str, Any]] = []
        for route in routes:
            writes.append(self.table.put(self._route_item(route)))
            writes.append(self.table.put({**keys.route_ref(route.id), "integration_id": integration_id}))
        for route_id in deleted or []:
            writes += [
                self.table.delete(keys.route(integration_id, route_id)),
                self.table.delete(keys.route_ref(route_id)),
            ]
        writes.append(self._bump_version(integration_id))
        self.table.transact(writes)


class DynamoHeartbeats:
    """Armed heartbeats that have not alerted carry GSI3 keys ``HEARTBEAT_DUE`` / <due time>: a sparse index, so
    the sweep reads only what is due and never scans."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def beat(self, integration_id: str, now: datetime, timeout_seconds: int) -> bool:
        due = now + timedelta(seconds=timeout_seconds)
        response = self.table.call(
            "update_item",
            Key=self.table.item(keys.heartbeat(integration_id)),
            UpdateExpression="SET last_beat_at = :now, timeout_seconds = :timeout, alerted = :false, "
            "GSI3PK = :due_pk, GSI3SK = :due, GSI1PK = :all, GSI1SK = :id",
            ExpressionAttributeValues={
                ":now": {"S": now.isoformat()},
                ":timeout": {"N": str(timeout_seconds)},
                ":false": {"BOOL": False},
                ":due_pk": {"S": keys.HEARTBEAT_DUE},
                ":due": {"S": f"{keys.stamp(due)}#{integration_id}"},
                ":all": {"S": keys.HEARTBEATS},
                ":id": {"S": integration_id},
            },
            ReturnValues="UPDATED_OLD",
        )
        return bool(self.table.plain(response.get("Attributes", {})).get("alerted", False))

    def all(self) -> dict[str, Heartbeat]:
        return {data["GSI1SK"]: from_json(Heartbeat, data) for data in self.table.collection(keys.HEARTBEATS)}

    def due(self, now: datetime) -> list[tuple[str, str]]:
        return [
            (data["PK"].removeprefix(keys.integration_partition("")), data["GSI3SK"])
            for data in self.table.due(keys.HEARTBEAT_DUE, now)
        ]

    def mark_expired(self, integration_id: str, due_key: str) -> bool:
        with self.table.lost_race() as lost:
            self.table.call(
                "update_item",
                Key=self.table.item(keys.heartbeat(integration_id)),
                UpdateExpression="SET alerted = :true REMOVE GSI3PK, GSI3SK",
                ConditionExpression="GSI3SK = :due",
                ExpressionAttributeValues={":true": {"BOOL": True}, ":due": {"S": due_key}},
            )
        return not lost[0]

    def set(self, integration_id: str, heartbeat: Heartbeat) -> None:
        """Replace the heartbeat state (timeout change, reset); re-arms the due time when it has beaten."""
        item: Data = {
            **keys.heartbeat(integration_id),
            **to_json(heartbeat, exclude_none=True),
            "GSI1PK": keys.HEARTBEATS,
            "GSI1SK": integration_id,
        }
        if heartbeat.last_beat_at is not None and not heartbeat.alerted:
            due = heartbeat.last_beat_at + timedelta(seconds=heartbeat.timeout_seconds)
            item.update(GSI3PK=keys.HEARTBEAT_DUE, GSI3SK=f"{keys.stamp(due)}#{integration_id}")
        self.table.put_item(item)
