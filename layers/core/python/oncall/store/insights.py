"""The insights aggregate: counters per hour x integration (alert groups, acknowledgements and resolutions with
the sums of their durations) and per hour x person (notifications sent), kept by atomic ``ADD`` updates as groups
change state, so that reading a period is one or two queries whatever the number of groups.

Items live in one partition per month, ``INSIGHTS#<yyyy-mm>``, sorted by ``<yyyy-mm-ddTHH>#INT#<id>`` or
``#USER#<id>`` (:mod:`oncall.store.keys`). ``ADD`` never overwrites a concurrent writer; it is not in the group's
transaction, so a busy counter item can never make an alert's write fail (a transaction conflict would). A counter
is best effort: a failed update is logged, never raised, because the change it counts has already been stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from oncall.models import AlertGroup, GroupState, TimelineEntry
from oncall.store import keys
from oncall.store.table import Table

logger = logging.getLogger(__name__)

COUNTERS: Final = ("groups", "acknowledged", "ack_seconds", "resolved", "resolve_seconds", "notifications")
# What ``recent_groups`` reads at most (the noisiest groups of a period are among them).
MAX_GROUPS_READ: Final = 5000


@dataclass(frozen=True)
class Bucket:
    """The counters of one hour for one integration (``kind`` "INT") or one person ("USER")."""

    hour: datetime
    kind: str
    subject_id: str
    counts: dict[str, int]


@dataclass(frozen=True)
class GroupSize:
    id: str
    title: str | None
    integration_id: str
    alerts_count: int
    created_at: datetime


class DynamoInsights:
    def __init__(self, table: Table) -> None:
        self.table = table

    def _add(self, key: keys.Key, counts: dict[str, int]) -> None:
        names = {f"#{name}": name for name in counts}
        values = {f":{name}": {"N": str(value)} for name, value in counts.items()}
        expression = "ADD " + ", ".join(f"#{name} :{name}" for name in counts)
        self.table.call(
            "update_item",
            Key=self.table.item(key),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    # --- writing ------------------------------------------------------------------------------------------------
    def group_changed(self, group: AlertGroup, timeline: list[TimelineEntry], *, created: bool) -> None:
        """Count a stored group change: its creation, and the first acknowledgement and resolution among
        ``timeline`` (the transition's entries), each with how long it took since the group began."""
        try:
            self._count_change(group, timeline, created)
        except Exception:  # the change it counts is stored: a lost count must not fail it
            logger.exception("insights of group %s not counted", group.id)

    def _count_change(self, group: AlertGroup, timeline: list[TimelineEntry], created: bool) -> None:
        counts: dict[str, int] = {"groups": 1} if created else {}
        for entry in timeline:
            if entry.type not in ("acknowledged", "resolved"):
                continue
            # Once per group: an acknowledgement undone and given again is not a second one.
            if not self._claim(group.id, f"insights-{entry.type}"):
                continue
            seconds = max(0, int((entry.at - group.created_at).total_seconds()))
            if entry.type == "acknowledged":
                counts.update(acknowledged=1, ack_seconds=seconds)
            else:
                counts.update(resolved=1, resolve_seconds=seconds)
        if counts:
            at = group.created_at if created else max(e.at for e in timeline)
            self._add(keys.insights_of_integration(at, group.integration_id), counts)

    def _claim(self, group_id: str, effect: str) -> bool:
        with self.table.lost_race() as lost:
            self.table.put_item(keys.claim(group_id, effect), "attribute_not_exists(PK)")
        return not lost[0]

    def notification_sent(self, user_id: str, at: datetime) -> None:
        try:
            self._add(keys.insights_of_user(at, user_id), {"notifications": 1})
        except Exception:  # the notification is sent: a lost count must not fail (and so repeat) it
            logger.exception("notification to %s not counted", user_id)

    # --- reading ------------------------------------------------------------------------------------------------
    def buckets(self, since: datetime, until: datetime) -> list[Bucket]:
        """The counters of the hours from ``since``'s to ``until``'s, oldest first."""
        low, high = keys.insights_hour(since), keys.insights_hour(until)
        months = sorted({keys.insights_month(low), keys.insights_month(high)} | _months_between(since, until))
        found: list[Bucket] = []
        for month in months:
            items = self.table.query_all(
                KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": month},
                    ":low": {"S": low},
                    ":high": {"S": f"{high}~"},
                },
            )
            for item in items:
                hour, kind, subject = str(item["SK"]).split("#", 2)
                found.append(
                    Bucket(
                        hour=datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC),
                        kind=kind,
                        subject_id=subject,
                        counts={name: int(item.get(name, 0)) for name in COUNTERS},
                    )
                )
        return found

    def recent_groups(self, since: datetime, until: datetime) -> list[GroupSize]:
        """The groups begun in the period (newest first, at most :data:`MAX_GROUPS_READ`), as their sizes: ranges of
        the four state partitions of the groups index (keys only), then the groups read in batches; not a scan."""
        entries: list[tuple[str, str]] = []  # (index sort key "<stamp>#<id>", partition)
        for state in GroupState:
            query = self.table.query_all(
                IndexName="GSI3",
                KeyConditionExpression="GSI3PK = :pk AND GSI3SK BETWEEN :low AND :high",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.groups_in_state(state.value)},
                    ":low": {"S": keys.stamp(since)},
                    ":high": {"S": keys.stamp(until) + "~"},
                },
                ProjectionExpression="PK, GSI3SK",
                ScanIndexForward=False,
            )
            for item in query:
                entries.append((str(item["GSI3SK"]), str(item["PK"])))
                if len(entries) >= MAX_GROUPS_READ * len(GroupState):
                    break
        newest = [pk for _, pk in sorted(entries, reverse=True)[:MAX_GROUPS_READ]]
        found = [
            GroupSize(
                id=str(item["id"]),
                title=item.get("title"),
                integration_id=str(item["integration_id"]),
                alerts_count=int(item.get("alerts_count", 0)),
                created_at=datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00")),
            )
            for item in self.table.batch_get([{"PK": pk, "SK": keys.META} for pk in dict.fromkeys(newest)])
        ]
        return sorted(found, key=lambda group: group.created_at, reverse=True)


def _months_between(since: datetime, until: datetime) -> set[str]:
    months, day = set(), since
    while day <= until:
        months.add(keys.insights_month(keys.insights_hour(day)))
        day += timedelta(days=28)
    return months
