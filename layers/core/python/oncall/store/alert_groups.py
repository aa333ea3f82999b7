"""Alert groups with their alerts, timeline and claimed effects (partition ``GROUP#<id>``), the sequence numbers of
grouping keys, the progress of requests with several alerts, and escalation starts to retry.

The write shape (write units per alert are a goal: ``bench/write_units.py`` counts them):

- A group's id derives from its grouping key and the key's sequence number (``oncall.grouping.group_id``), so the
  group item is its key's open-group pointer too: a new group is one PutItem conditioned on ``attribute_not_exists``
  (first writer wins, the losers append to the winner), then one PutItem of its first alert.
- An alert joins an open group with one UpdateItem of the group's counters, conditioned on the group being open and
  of that key, then one PutItem of the alert: no transaction (transactions bill twice). The group write comes
  first and records which alert it counted (the request's receipt), so a request retried after a failure between the
  two writes rewrites that alert instead of counting another.
- State changes carry an optimistic ``version`` and go in one transaction with their timeline, the key's sequence
  number (a closed group moves the key on to the next number) and, for requests with several alerts, their progress.

Counters are only ever changed with ``ADD``, so concurrent appends never overwrite each other.
Nothing else is written with them: the insights aggregate (:mod:`oncall.store.insights`) is counted from the
table's stream by the escalation starter, off the path the sender waits on.
"""

from __future__ import annotations

import base64
import builtins
import heapq
import itertools
import json
import secrets
import time
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from oncall import ids
from oncall.codec import from_json, to_json
from oncall.models import Alert, AlertGroup, GroupState, TimelineEntry
from oncall.ports import (
    RECEIPT_SLOTS,
    DeferredStart,
    GroupFilter,
    GroupKey,
    Page,
    Placement,
    PointerChange,
    Progress,
    Receipt,
)
from oncall.store import keys, schema
from oncall.store.table import Data, Item, Table

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
# An alert's content (payload and rendered texts) above this size is stored compressed.
COMPRESS_ABOVE: Final = 1024
# Every group is in one of these GSI3 partitions; "all groups" merges the four.
STATES: Final = tuple(state.value for state in GroupState)
# A paused escalation's state (``AlertGroup.escalation_paused``): set by its step, removed by the next alert.
PAUSED: Final = "escalation_paused"
_OPEN_OF_KEY: Final = "is_open = :true AND integration_id = :integration AND route_id = :route AND distinction = :key"


def receipt_attribute(slot: int) -> str:
    assert 0 <= slot < RECEIPT_SLOTS
    return f"receipt{slot}"


def _alert_from(data: Data) -> Alert:
    if "content_z" in data:
        content = json.loads(zlib.decompress(bytes(data["content_z"])))
    else:
        content = json.loads(data.get("content", "{}"))
    alert_id = data["SK"].removeprefix(keys.ALERT_PREFIX)
    return Alert(
        id=alert_id,
        group_id=data["PK"].removeprefix(keys.group_partition("")),
        created_at=ids.sortable_id_time(alert_id),
        payload=content.get("payload"),
        title=content.get("title"),
        message=content.get("message"),
        image_url=content.get("image_url"),
        source_link=content.get("source_link"),
        is_resolve_signal=bool(data.get("is_resolve_signal", False)),
        is_acknowledge_signal=bool(data.get("is_acknowledge_signal", False)),
        is_demo=bool(data.get("is_demo", False)),
    )


def _content(content: dict[str, Any]) -> Data:
    """An alert's content as one attribute: JSON text, compressed above ``COMPRESS_ABOVE`` bytes."""
    try:
        raw = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (valid JSON escapes, not UTF-8): keep them escaped
        raw = json.dumps(content, separators=(",", ":")).encode("ascii")
    if len(raw) > COMPRESS_ABOVE:
        return {"content_z": zlib.compress(raw, 6)}
    return {"content": raw.decode("utf-8")}


def _index_key(created_at: datetime, group_id: str) -> str:
    return f"{keys.stamp(created_at)}#{group_id}"


class DynamoAlertGroups:
    def __init__(self, table: Table, retention: timedelta) -> None:
        self.table = table
        self.retention = retention  # raw alerts expire (TTL) this long after they arrived

    # --- items ------------------------------------------------------------------------------------------------
    def _group_item(self, group: AlertGroup, receipt: Receipt | None, alert_id: str | None) -> Data:
        # Defaults are left out (the model restores them) to keep the item, and so every append, under 1 KB.
        data = to_json(group, exclude_none=True, exclude_defaults=True)
        data["is_open"] = group.is_open  # appends are conditioned on it
        data.update(keys.group(group.id))
        data.update(GSI3PK=keys.groups_in_state(group.recorded_state.value))
        data.update(GSI3SK=_index_key(group.created_at, group.id))
        if group.resolved:
            data.update(GSI2PK=keys.resolved_groups_of(group.integration_id), GSI2SK=data["GSI3SK"])
        if group.labels:
            data["label_pairs"] = {f"{k}:{v}" for k, v in group.labels.items()}
        if receipt is not None and alert_id is not None:
            data[receipt_attribute(receipt.slot)] = f"{receipt.current} {alert_id}"
        return data

    def _alert_item(self, alert: Alert) -> Data:
        content = to_json(alert, include={"payload", "title", "message", "image_url", "source_link"}, exclude_none=True)
        flags = {
            name: True for name in ("is_resolve_signal", "is_acknowledge_signal", "is_demo") if getattr(alert, name)
        }
        ttl = int((alert.created_at + self.retention).timestamp())
        return {**keys.alert(alert.group_id, alert.id), **flags, **_content(content), schema.TTL_ATTRIBUTE: ttl}

    def _timeline_puts(self, entries: list[TimelineEntry]) -> list[dict[str, Any]]:
        return [
            # Entries of one instant keep the order they were written in (the write time breaks ties).
            self.table.put(
                {
                    **to_json(e, exclude_none=True),
                    **keys.timeline(e.group_id, e.at, f"{time.time_ns()}{i:02d}{secrets.token_hex(2)}"),
                }
            )
            for i, e in enumerate(entries)
        ]

    def _refusal(self, item: Item | None, receipt: Receipt | None, *, open_only: bool = False) -> Placement:
        """Why a conditional write of a group was refused, from the item it found (ReturnValuesOnConditionCheckFailure
        ALL_OLD). ``open_only``: a receipt counts only on an open group. A plain alert whose body a closed group
        already holds is a new alert (the same trigger sent again after a resolve opens a new group): dropping it
        could lose a page, storing a retry twice only repeats one."""
        if not item:
            return Placement()
        data = self.table.plain(item)
        if receipt is not None and (data.get("is_open") or not open_only):
            seen = str(data.get(receipt_attribute(receipt.slot), ""))
            fingerprint, _, alert_id = seen.partition(" ")
            if alert_id and fingerprint in (receipt.current, receipt.previous):
                return Placement(duplicate_of=alert_id)
        return Placement(found=from_json(AlertGroup, data))

    # --- grouping and appending ---------------------------------------------------------------------------------
    def sequence(self, key: GroupKey) -> int:
        data = self.table.get(keys.sequence(key))
        return int(data["seq"]) if data else 0

    def create(
        self,
        group: AlertGroup,
        alert: Alert,
        *,
        timeline: list[TimelineEntry] | None = None,
        pointer: PointerChange | None = None,
        receipt: Receipt | None = None,
        progress: Progress | None = None,
    ) -> Placement:
        item = self._group_item(group, receipt, alert.id)
        if timeline or pointer is not None or progress is not None:
            return self._create_in_transaction(group, item, alert, timeline or [], pointer, progress, receipt)
        with self.table.refused() as refusal:
            self.table.call(
                "put_item",
                Item=self.table.item(item),
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        if refusal.refused:
            return self._refusal(refusal.item, receipt, open_only=True)
        self.put_alert(alert)
        return Placement(stored=True)

    def _create_in_transaction(
        self,
        group: AlertGroup,
        item: Data,
        alert: Alert,
        timeline: list[TimelineEntry],
        pointer: PointerChange | None,
        progress: Progress | None,
        receipt: Receipt | None,
    ) -> Placement:
        writes = [self.table.put(item, "attribute_not_exists(PK)"), self.table.put(self._alert_item(alert))]
        if pointer == "close":  # created closed (a resolve signal): the key moves on at once
            writes.append(self._sequence_change(group, "close"))
        if progress is not None:
            writes.append(self._progress_write(progress))
        with self.table.lost_race() as lost:
            self.table.transact(writes + self._timeline_puts(timeline))
        if not lost[0]:
            return Placement(stored=True)
        current = self.table.call("get_item", Key=self.table.item(keys.group(group.id)), ConsistentRead=True)
        return self._refusal(current.get("Item"), receipt)

    def append(self, key: GroupKey, group_id: str, alert: Alert, receipt: Receipt | None = None) -> Placement:
        expression = "ADD alerts_count :one SET last_alert_at = :at, last_alert_id = :id"
        # The alert takes a paused escalation's mark with it: the stream shows the one append that removed it, which
        # resumes the escalation (a REMOVE of an absent attribute costs nothing).
        remove = f" REMOVE {PAUSED}"
        condition = _OPEN_OF_KEY
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":true": {"BOOL": True},
            ":at": {"S": alert.created_at.isoformat()},
            ":id": {"S": alert.id},
            ":integration": {"S": key.integration_id},
            ":route": {"S": key.route_id},
            ":key": {"S": key.distinction},
        }
        names: dict[str, str] = {}
        if receipt is not None:
            names["#receipt"] = receipt_attribute(receipt.slot)
            expression += ", #receipt = :receipt"
            condition += " AND NOT (begins_with(#receipt, :current) OR begins_with(#receipt, :previous))"
            values.update(
                {
                    ":receipt": {"S": f"{receipt.current} {alert.id}"},
                    ":current": {"S": f"{receipt.current} "},
                    ":previous": {"S": f"{receipt.previous} "},
                }
            )
        with self.table.refused() as refusal:
            self.table.call(
                "update_item",
                Key=self.table.item(keys.group(group_id)),
                UpdateExpression=expression + remove,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        if refusal.refused:
            return self._refusal(refusal.item, receipt, open_only=True)
        self.put_alert(alert)
        return Placement(stored=True)

    def put_alert(self, alert: Alert) -> None:
        self.table.call("put_item", Item=self.table.item(self._alert_item(alert)))

    # --- state changes ------------------------------------------------------------------------------------------
    def save(
        self,
        group: AlertGroup,
        expected_version: int,
        *,
        alert: Alert | None = None,
        timeline: list[TimelineEntry] | None = None,
        pointer: PointerChange | None = None,
        receipt: Receipt | None = None,
        progress: Progress | None = None,
    ) -> bool:
        data = to_json(group, include=set(_STATE_FIELDS))
        absent = {name for name in _STATE_FIELDS if data[name] is None or data[name] == {}}  # the model's default
        sets = [f"#{name} = :{name}" for name in _STATE_FIELDS if name not in absent]
        removes = [f"#{name}" for name in _STATE_FIELDS if name in absent]
        names = {f"#{name}": name for name in _STATE_FIELDS}
        values: dict[str, Any] = {
            f":{name}": self.table.value(data[name]) for name in _STATE_FIELDS if name not in absent
        }
        sets.append("GSI3PK = :state")
        values[":state"] = {"S": keys.groups_in_state(group.recorded_state.value)}
        if group.resolved:
            sets += ["GSI2PK = :resolved_of", "GSI2SK = :index_key"]
            values[":resolved_of"] = {"S": keys.resolved_groups_of(group.integration_id)}
            values[":index_key"] = {"S": _index_key(group.created_at, group.id)}
        else:
            removes += ["GSI2PK", "GSI2SK"]
        adds = ["version :one"]
        values[":one"] = {"N": "1"}
        values[":expected"] = {"N": str(expected_version)}
        if alert is not None:
            adds.append("alerts_count :one")
            removes.append(PAUSED)  # as in :meth:`append`
            sets += ["last_alert_at = :last_at", "last_alert_id = :last_id"]
            values[":last_at"] = {"S": alert.created_at.isoformat()}
            values[":last_id"] = {"S": alert.id}
        condition = FIRST_VERSION if expected_version == 0 else "version = :expected"
        if alert is not None and receipt is not None:
            names["#receipt"] = receipt_attribute(receipt.slot)
            sets.append("#receipt = :receipt")
            condition += " AND NOT (begins_with(#receipt, :current) OR begins_with(#receipt, :previous))"
            values.update(
                {
                    ":receipt": {"S": f"{receipt.current} {alert.id}"},
                    ":current": {"S": f"{receipt.current} "},
                    ":previous": {"S": f"{receipt.previous} "},
                }
            )
        expression = "SET " + ", ".join(sets) + " ADD " + ", ".join(adds)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        writes: list[dict[str, Any]] = [
            self.table.update(
                keys.group(group.id),
                expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        ]
        if alert is not None:
            writes.append(self.table.put(self._alert_item(alert)))
        if pointer is not None:
            writes += self._sequence_changes(group, pointer)
        if progress is not None:
            writes.append(self._progress_write(progress))
        writes += self._timeline_puts(timeline or [])
        with self.table.lost_race() as lost:
            self.table.transact(writes)
        if lost[0] and pointer == "reopen":
            # The key has a newer group: reopening this one for grouping is not possible; save the rest.
            return self.save(
                replace(group, is_open=False),
                expected_version,
                alert=alert,
                timeline=timeline,
                receipt=receipt,
                progress=progress,
            )
        return not lost[0]

    def _sequence_change(self, group: AlertGroup, change: PointerChange) -> dict[str, Any]:
        """The key's sequence number moves past ``group`` (close) or back to it (reopen). An open group always has
        its key's current number, so both are conditioned on the number they move from."""
        key = GroupKey(group.integration_id, group.route_id, group.distinction)
        number = group.sequence if change == "close" else group.sequence + 1
        condition = "seq = :from" if number else "attribute_not_exists(seq) OR seq = :from"
        target = group.sequence + 1 if change == "close" else group.sequence
        return self.table.update(
            keys.sequence(key),
            "SET seq = :to",
            ConditionExpression=condition,
            ExpressionAttributeValues={":from": {"N": str(number)}, ":to": {"N": str(target)}},
        )

    def _sequence_changes(self, group: AlertGroup, change: PointerChange) -> list[dict[str, Any]]:
        writes = [self._sequence_change(group, change)]
        if change == "reopen":  # only while the key has no newer group
            newer = keys.group(
                ids.group_id(group.integration_id, group.route_id, group.distinction, group.sequence + 1)
            )
            writes.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table.name,
                        "Key": self.table.item(newer),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        return writes

    def append_timeline(self, entries: list[TimelineEntry]) -> None:
        puts = self._timeline_puts(entries)
        if len(puts) == 1:
            self.table.call("put_item", Item=puts[0]["Put"]["Item"])
        elif puts:
            self.table.transact(puts)

    def mark_paused(self, group_id: str, state: str, alerts_count: int) -> bool:
        """Leave a paused escalation's state on its group, unless an alert joined it since it was counted (False:
        count again)."""
        with self.table.lost_race() as lost:
            self.table.call(
                "update_item",
                Key=self.table.item(keys.group(group_id)),
                UpdateExpression=f"SET {PAUSED} = :state",
                ConditionExpression="attribute_exists(PK) AND alerts_count = :seen",
                ExpressionAttributeValues={":state": {"S": state}, ":seen": {"N": str(alerts_count)}},
            )
        return not lost[0]

    def clear_paused(self, group_id: str) -> None:
        with self.table.lost_race():  # a deleted group: nothing to clear
            self.table.call(
                "update_item",
                Key=self.table.item(keys.group(group_id)),
                UpdateExpression=f"REMOVE {PAUSED}",
                ConditionExpression="attribute_exists(PK)",
            )

    def claim(self, group_id: str, effect: str) -> bool:
        with self.table.lost_race() as lost:
            self.table.put_item(keys.claim(group_id, effect), "attribute_not_exists(PK)")
        return not lost[0]

    # --- requests with several alerts ---------------------------------------------------------------------------
    def _progress_write(self, progress: Progress) -> dict[str, Any]:
        values = {
            ":done": {"N": str(progress.done)},
            ":next": {"N": str(progress.done + 1)},
            ":expires": {"N": str(progress.expires_at)},
        }
        if progress.fresh:  # first alert of the body, or its record has expired: (re)start the count
            condition = "attribute_not_exists(PK) OR expires_at < :now"
            values[":now"] = {"N": str(progress.now)}
            values[":ttl"] = {"N": str(progress.expires_at + 86_400)}
            return self.table.update(
                keys.request(progress.integration_id, progress.fingerprint),
                "SET done = :next, expires_at = :expires, #ttl = :ttl",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#ttl": schema.TTL_ATTRIBUTE},
                ExpressionAttributeValues={k: v for k, v in values.items() if k != ":done"},
            )
        return self.table.update(
            keys.request(progress.integration_id, progress.fingerprint),
            "SET done = :next",
            ConditionExpression="done = :done AND expires_at = :expires",
            ExpressionAttributeValues=values,
        )

    def advance(self, progress: Progress) -> bool:
        update = self._progress_write(progress)["Update"]
        with self.table.lost_race() as lost:
            self.table.call("update_item", **update)
        return not lost[0]

    def received(self, group_id: str, receipt: Receipt) -> str | None:
        """The alert a copy of the request stored in the group, if one did (its receipt is there)."""
        item = self.table.call("get_item", Key=self.table.item(keys.group(group_id)), ConsistentRead=True).get("Item")
        return self._refusal(item, receipt).duplicate_of

    def progress(self, integration_id: str, fingerprint: str, now: datetime) -> tuple[int, int] | None:
        data = self.table.get(keys.request(integration_id, fingerprint))
        if not data or int(data["expires_at"]) < int(now.timestamp()):
            return None
        return int(data["done"]), int(data["expires_at"])

    # --- reading ------------------------------------------------------------------------------------------------
    def get(self, group_id: str) -> AlertGroup | None:
        data = self.table.get(keys.group(group_id))
        return from_json(AlertGroup, data) if data else None

    def _sources(self, filters: GroupFilter) -> list[dict[str, Any]]:
        """One query per state partition the listing reads (newest first), each with the listing's filters."""
        queries = []
        for state in (filters.state,) if filters.state else STATES:
            if state == GroupState.RESOLVED.value and filters.integration_id:
                index, pk, by_integration = "GSI2", keys.resolved_groups_of(filters.integration_id), True
            else:
                index, pk, by_integration = "GSI3", keys.groups_in_state(state), False
            values: dict[str, Any] = {":pk": {"S": pk}}
            condition = f"{index}PK = :pk"
            if filters.started_after or filters.started_before:
                low = keys.stamp(filters.started_after) if filters.started_after else "0"
                high = keys.stamp(filters.started_before) + "~" if filters.started_before else "~"
                condition += f" AND {index}SK BETWEEN :low AND :high"
                values.update({":low": {"S": low}, ":high": {"S": high}})
            clauses: list[str] = []
            for name, value in (
                ("integration_id", None if by_integration else filters.integration_id),
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
            queries.append(query)
        return queries

    def list(self, filters: GroupFilter, limit: int, cursor: str | None) -> Page[AlertGroup]:
        """Up to ``limit`` groups, newest first: the state partitions read from the cursor's place in each, merged.
        ValueError for a cursor that is not one of this listing's."""
        sources = {_source_name(query): query for query in self._sources(filters)}
        starts = _decode_cursor(cursor, list(sources)) if cursor else dict.fromkeys(sources)
        fetched: dict[str, tuple[list[Data], bool]] = {}  # per source: entries (newest first), more beyond them
        for name, query in sources.items():
            if starts[name] != _EXHAUSTED:
                fetched[name] = self._fetch(dict(query), starts[name], limit + 1)
        merged = heapq.merge(
            *([(_index_of(name, data)[1], name, data) for data in entries] for name, (entries, _) in fetched.items()),
            key=lambda entry: entry[0],
            reverse=True,
        )
        page = [(name, data) for _, name, data in itertools.islice(merged, limit)]
        last_taken = {name: data for name, data in page}
        next_starts: dict[str, Any] = {}
        for name in sources:
            if name not in fetched:
                next_starts[name] = _EXHAUSTED
                continue
            entries, beyond = fetched[name]
            last = last_taken.get(name)
            taken = entries.index(last) + 1 if last is not None else 0
            if len(entries) == taken and not beyond:
                next_starts[name] = _EXHAUSTED
            elif last is not None:
                pk_name, sk_name = _index_of(name, last)[0]
                next_starts[name] = {k: last[k] for k in ("PK", "SK", pk_name, sk_name)}
            else:
                next_starts[name] = starts[name]
        more = any(start != _EXHAUSTED for start in next_starts.values())
        # A group that changed state a moment ago can be in two state partitions at once (index updates are not
        # atomic with the item's): it is listed once, as the consistent read of it says.
        groups = self._groups(builtins.list(dict.fromkeys(data["PK"] for _, data in page)))
        return Page(groups, _encode_cursor(next_starts) if more else None)

    def _fetch(
        self, query: dict[str, Any], start: dict[str, str] | None, wanted: int
    ) -> tuple[builtins.list[Data], bool]:
        """Up to ``wanted`` matching index entries from ``start``, and whether the partition holds more."""
        if start:
            query["ExclusiveStartKey"] = self.table.item(start)
        query["Limit"] = max(wanted, 10) if "FilterExpression" in query else wanted
        found: builtins.list[Data] = []
        while True:
            try:
                response = self.table.call("query", **query)
            except Exception as error:
                if start and not found and getattr(error, "code", "") == "ValidationException":
                    raise ValueError("invalid cursor") from error
                raise
            found += [self.table.plain(i) for i in response.get("Items", [])]
            if len(found) >= wanted or "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:wanted], len(found) > wanted or "LastEvaluatedKey" in response

    def _groups(self, partitions: builtins.list[str]) -> builtins.list[AlertGroup]:
        """The groups of index entries, read whole and consistently, in the order given (deleted ones left out)."""
        if not partitions:
            return []
        read = self.table.batch_get([{"PK": pk, "SK": keys.META} for pk in partitions], consistent=True)
        by_partition = {data["PK"]: from_json(AlertGroup, data) for data in read}
        return [by_partition[pk] for pk in partitions if pk in by_partition]

    def count(self, filters: GroupFilter) -> int:
        return sum(self.table.count(**query) for query in self._sources(filters))

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

    def alerts_by_id(self, pairs: builtins.list[tuple[str, str]]) -> dict[str, Alert]:
        unique: builtins.list[tuple[str, str]] = list(dict.fromkeys(pairs))
        found = (_alert_from(data) for data in self.table.batch_get([keys.alert(g, a) for g, a in unique]))
        return {alert.id: alert for alert in found}

    def timeline(self, group_id: str) -> builtins.list[TimelineEntry]:
        return [
            from_json(TimelineEntry, data)
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
    def _item_keys(self, group_id: str, prefix: str = "") -> builtins.list[keys.Key]:
        partition = self.table.partition(keys.group_partition(group_id), prefix, ProjectionExpression="PK, SK")
        return [{"PK": data["PK"], "SK": data["SK"]} for data in partition]

    def delete(self, group_id: str) -> None:
        group = self.get(group_id)
        if group is None:
            return
        if group.is_open:  # the key moves on: a deleted group's id is never used again
            with self.table.lost_race():
                self.table.transact([self._sequence_change(group, "close")])
        self.table.batch_delete(self._item_keys(group_id))

    def wipe_alerts(self, group_id: str, note: str) -> None:
        wiped = _content({"payload": {}, "title": note})
        for key in self._item_keys(group_id, keys.ALERT_PREFIX):
            self.table.call(
                "update_item",
                Key=self.table.item(key),
                UpdateExpression="SET content = :wiped REMOVE content_z",
                ExpressionAttributeValues={":wiped": {"S": wiped["content"]}},
            )


# --- listing cursors: where each state partition's reading stopped ------------------------------------------------

_EXHAUSTED: Final = "done"


def _source_name(query: dict[str, Any]) -> str:
    return f"{query['IndexName']}:{query['ExpressionAttributeValues'][':pk']['S']}"


def _index_of(source: str, data: Data) -> tuple[tuple[str, str], str]:
    """The key attribute names of the source's index, and the entry's sort key in it."""
    index = source.split(":", 1)[0]
    return (f"{index}PK", f"{index}SK"), str(data[f"{index}SK"])


def _encode_cursor(starts: dict[str, Any]) -> str:
    text = json.dumps(starts, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, names: list[str]) -> dict[str, Any]:
    """Each source's start: None (its beginning), ``done``, or the index key of the last entry read."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        starts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as error:
        raise ValueError("invalid cursor") from error
    if not isinstance(starts, dict) or sorted(starts) != sorted(names):
        raise ValueError("invalid cursor")
    for name, start in starts.items():
        if start is None or start == _EXHAUSTED:
            continue
        index = name.split(":", 1)[0]
        expected = {"PK", "SK", f"{index}PK", f"{index}SK"}
        if not isinstance(start, dict) or set(start) != expected or not all(isinstance(v, str) for v in start.values()):
            raise ValueError("invalid cursor")
    return starts


class DynamoEscalationStarts:
    """A record per (group, generation) whose StartExecution failed, in the sparse GSI3 ``ESCALATION_START_DUE``
    until the minute sweep has started it; then it only keeps a ``ttl``."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def defer(self, group_id: str, generation: int, now: datetime) -> None:
        item = {
            **keys.deferred_start(group_id, generation),
            "GSI3PK": keys.ESCALATION_START_DUE,
            "GSI3SK": f"{keys.stamp(now)}#{group_id}#{generation}",
        }
        self.table.put_item(item)

    def due(self, now: datetime) -> list[DeferredStart]:
        # GSI3 projects keys only for these: everything is in them (the due key starts with the deferral's time).
        found = []
        for data in self.table.due(keys.ESCALATION_START_DUE, now):
            stamp, group_id, generation = data["GSI3SK"].split("#")
            deferred_at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            found.append(DeferredStart(group_id, int(generation), data["GSI3SK"], deferred_at))
        return found

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
