"""Integrations, their routes, ingest tokens, configuration stamps and heartbeats (partition ``INT#<id>``).

Two keyed items answer what would otherwise list every integration: the claim of a name in a team
(``INTNAME#<team>`` / ``<name>``, written in the transaction that creates or renames the integration, on condition
that nobody holds it) and the pointer to a team's direct paging integration (``PAGING#<team>``, written with it).
Tables written before they existed get them once, lazily: the first writer that needs them backfills them from
the listing and marks the table (:meth:`DynamoIntegrations._ensure_keyed`), so no deploy step is needed.
"""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import Any

from oncall.codec import from_json, to_json
from oncall.errors import NotFound
from oncall.models import Heartbeat, Integration, IntegrationConfig, Route
from oncall.ports import NameTaken, RateCount, StoreError, TokenRef
from oncall.store import keys
from oncall.store.epoch import DynamoAuthEpoch
from oncall.store.table import Data, Table

# The layout step that gave every integration its name claim and every team its paging pointer.
KEYED_STEP = "INTEGRATION_KEYS"


class DynamoIntegrations:
    def __init__(self, table: Table, epoch: DynamoAuthEpoch) -> None:
        self.table = table
        self.epoch = epoch  # regenerating a token or deleting an integration revokes its token
        self._keyed = False  # the table's mark was seen (it is never removed): no need to read it again

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

    def _claim_name(self, integration: Integration) -> dict[str, Any]:
        """A Put of the integration's name claim in its team, on condition that nobody holds it."""
        claim = {**keys.integration_name(integration.team_id, integration.name), "integration_id": integration.id}
        return self.table.put(claim, "attribute_not_exists(PK)")

    def _creation(self, integration: Integration, routes: builtins.list[Route]) -> builtins.list[dict[str, Any]]:
        put = self.table.put
        writes = [
            put(self._integration_item(integration), "attribute_not_exists(PK)"),
            put(self._token_item(integration), "attribute_not_exists(PK)"),
            put({**keys.config_stamp(integration.id), "config_version": 1}),
        ]
        for route in routes:
            writes.append(put(self._route_item(route)))
            writes.append(put({**keys.route_ref(route.id), "integration_id": integration.id}))
        return writes

    def create(self, integration: Integration, default_route: Route) -> None:
        self._ensure_keyed()
        writes = [*self._creation(integration, [default_route]), self._claim_name(integration)]
        refused = self.table.transact_or_refused(writes)
        if refused and refused[-1]:
            raise NameTaken(integration.name)
        if refused:
            raise StoreError(f"integration {integration.id} or its token exists already")

    def update(
        self,
        integration: Integration,
        *,
        expected_maintenance_id: str | object | None = ...,
        previous: Integration | None = None,
    ) -> bool:
        condition, values, names = "attribute_exists(PK)", {}, {}
        if expected_maintenance_id is None:
            condition += " AND attribute_not_exists(maintenance_id)"
        elif isinstance(expected_maintenance_id, str):
            condition += " AND maintenance_id = :window"
            values[":window"] = {"S": expected_maintenance_id}
        claim_moves = previous is not None and (previous.name, previous.team_id) != (
            integration.name,
            integration.team_id,
        )
        moves: builtins.list[dict[str, Any]] = []
        if previous is not None and claim_moves:
            # Only from the name it had when read: a concurrent rename must not leave a claim behind.
            condition += " AND #name = :old_name AND " + (
                "team_id = :old_team" if previous.team_id else "attribute_not_exists(team_id)"
            )
            names["#name"] = "name"
            values[":old_name"] = {"S": previous.name}
            if previous.team_id:
                values[":old_team"] = {"S": previous.team_id}
            moves = [self._claim_name(integration), *self._release_name(previous)]
        extra: dict[str, Any] = {}
        if values:
            extra["ExpressionAttributeValues"] = values
        if names:
            extra["ExpressionAttributeNames"] = names
        refused = self.table.transact_or_refused(
            [
                self.table.put(self._integration_item(integration), condition, **extra),
                self._bump_version(integration.id),
                *moves,
            ]
        )
        if refused and moves and refused[2] and not refused[0]:
            raise NameTaken(integration.name)
        return not refused

    def _release_name(self, integration: Integration) -> builtins.list[dict[str, Any]]:
        """The Delete of the integration's name claim, if it holds it (a duplicate name from before claims holds
        none), on condition that it still does."""
        self._ensure_keyed()
        key = keys.integration_name(integration.team_id, integration.name)
        held = self.table.get(key)
        if not held or held.get("integration_id") != integration.id:
            return []
        delete = self.table.delete(key)
        delete["Delete"].update(
            ConditionExpression="integration_id = :id",
            ExpressionAttributeValues={":id": {"S": integration.id}},
        )
        return [delete]

    def named(self, team_id: str | None, name: str) -> str | None:
        self._ensure_keyed()
        claim = self.table.get(keys.integration_name(team_id, name))
        return str(claim["integration_id"]) if claim else None

    def paging(self, team_id: str | None) -> str | None:
        pointer = self.table.get(keys.paging_integration(team_id))
        if pointer is None and self._ensure_keyed():  # a table from before pointers: it may have one now
            pointer = self.table.get(keys.paging_integration(team_id))
        return str(pointer["integration_id"]) if pointer else None

    def create_paging(self, integration: Integration, routes: builtins.list[Route]) -> str:
        self._ensure_keyed()
        pointer = {**keys.paging_integration(integration.team_id), "integration_id": integration.id}
        writes = [self.table.put(pointer, "attribute_not_exists(PK)"), *self._creation(integration, routes)]
        refused = self.table.transact_or_refused([*writes, self._claim_name(integration)])
        if refused and refused[-1] and not refused[0]:
            # Someone named an integration of the team like its paging one: it goes without a claim (as before
            # claims, the name is then held twice); the pointer still decides which one the team pages.
            refused = self.table.transact_or_refused(writes)
        if refused and refused[0]:
            winner = self.table.get(keys.paging_integration(integration.team_id))
            assert winner is not None  # pointers are removed only with their integration
            return str(winner["integration_id"])
        if refused:
            raise StoreError(f"integration {integration.id} or its token exists already")
        return integration.id

    def _ensure_keyed(self) -> bool:
        """Give a table written before name claims and paging pointers its claims and pointers, once (the first
        writer that needs them; concurrent ones write the same items, first writer wins). True when it did."""
        if self._keyed:
            return False
        mark = keys.layout_step(KEYED_STEP)
        if self.table.get(mark) is not None:
            self._keyed = True
            return False
        for integration in self.list():
            with self.table.lost_race():
                self.table.put_item(
                    {**keys.integration_name(integration.team_id, integration.name), "integration_id": integration.id},
                    "attribute_not_exists(PK)",
                )
            if integration.type == "direct_paging":
                with self.table.lost_race():
                    self.table.put_item(
                        {**keys.paging_integration(integration.team_id), "integration_id": integration.id},
                        "attribute_not_exists(PK)",
                    )
        self.table.put_item(mark)
        self._keyed = True
        return True

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
        held: list[keys.Key] = []  # keyed items that name it, removed only while they still do
        for data in self.table.partition(keys.integration_partition(integration_id)):
            doomed.append({"PK": data["PK"], "SK": data["SK"]})
            if data["SK"] == keys.META:
                doomed.append(keys.token(data["token_hash"]))
                held.append(keys.integration_name(data.get("team_id"), data["name"]))
                if data["type"] == "direct_paging":
                    held.append(keys.paging_integration(data.get("team_id")))
            elif data["SK"].startswith("ROUTE#"):
                doomed.append(keys.route_ref(data["id"]))
        self.table.batch_delete(doomed)
        for key in held:
            with self.table.lost_race():
                self.table.call(
                    "delete_item",
                    Key=self.table.item(key),
                    ConditionExpression="integration_id = :id",
                    ExpressionAttributeValues={":id": {"S": integration_id}},
                )
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
