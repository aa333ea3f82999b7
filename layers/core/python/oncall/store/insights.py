"""The insights aggregate: counters per hour x integration (alert groups, acknowledgements and resolutions with
the sums of their durations) and per hour x person (notifications sent), kept by atomic ``ADD`` updates, so that
reading a period is one or two queries whatever the number of groups.

Group counters are derived from the table's stream, not counted where groups are written: the escalation starter
(:mod:`oncall.escalation_start`) hands each batch of group changes it followed to :meth:`DynamoInsights.
count_group_changes`, which sums the batch per counter item (a hundred new groups of one integration in one hour
are one ``ADD``). So storing an alert costs no counter write, and a busy counter item can never fail or slow it.

Items live in one partition per month, ``INSIGHTS#<yyyy-mm>``, sorted by ``<yyyy-mm-ddTHH>#INT#<id>`` or
``#USER#<id>`` (:mod:`oncall.store.keys`). ``ADD`` never overwrites a concurrent writer. A counter is best effort:
a failed update is logged, never raised, because the change it counts has already been stored (and its escalation
must not be retried for a count).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from oncall import actions
from oncall.models import AlertGroup, GroupState
from oncall.store import keys
from oncall.store.table import Table

logger = logging.getLogger(__name__)

COUNTERS: Final = ("groups", "acknowledged", "ack_seconds", "resolved", "resolve_seconds", "notifications")
# What ``recent_groups`` reads at most (the noisiest groups of a period are among them).
MAX_GROUPS_READ: Final = 5000
# A stored change of a group: the group before (None: it is new) and after (None: it was deleted).
GroupChange = tuple[AlertGroup | None, AlertGroup | None]


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
    def count_group_changes(self, changes: Iterable[GroupChange]) -> None:
        """Count a batch of stored group changes (the group before and after, as the stream gives them): a new
        group in the hour it began, and the first acknowledgement and first resolution of a group in the hour they
        happened, each with how long it took since the group began. The batch's counts are summed per counter item
        first: one ``ADD`` per hour x integration, however many changes fell in it."""
        tallies: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for before, after in changes:
            if after is None:
                continue  # a deleted group: it was counted when it began
            try:
                self._tally(tallies, before, after)
            except Exception:  # a lost claim or a malformed group costs its count, never the batch's others
                logger.exception("insights of group %s not counted", after.id)
        for (pk, sk), counts in tallies.items():
            try:
                self._add({"PK": pk, "SK": sk}, dict(counts))
            except Exception:  # the changes it counts are stored: a lost count must not fail (and so repeat) them
                logger.exception("insights %s %s not counted: %s", pk, sk, dict(counts))

    def _tally(
        self, tallies: dict[tuple[str, str], Counter[str]], before: AlertGroup | None, after: AlertGroup
    ) -> None:
        def count(at: datetime, **counts: int) -> None:
            key = keys.insights_of_integration(at, after.integration_id)
            tallies[key["PK"], key["SK"]].update(counts)

        if before is None:
            count(after.created_at, groups=1)
        acknowledged = after.acknowledged and not (before and before.acknowledged)
        if acknowledged and after.acknowledged_at and self._claim(after.id, "insights-acknowledged"):
            count(after.acknowledged_at, acknowledged=1, ack_seconds=_seconds(after, after.acknowledged_at))
        # A wipe resolves the group too, but nobody resolved it: it is not a resolution to count (nor to time).
        resolved = after.resolved and not (before and before.resolved) and after.resolved_by != actions.WIPE
        if resolved and after.resolved_at and self._claim(after.id, "insights-resolved"):
            count(after.resolved_at, resolved=1, resolve_seconds=_seconds(after, after.resolved_at))

    def _claim(self, group_id: str, effect: str) -> bool:
        """Once per group: an acknowledgement undone and given again is not a second one, and a change the
        stream delivers again (a retried batch) is not counted twice."""
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


def _seconds(group: AlertGroup, at: datetime) -> int:
    return max(0, int((at - group.created_at).total_seconds()))


def _months_between(since: datetime, until: datetime) -> set[str]:
    months, day = set(), since
    while day <= until:
        months.add(keys.insights_month(keys.insights_hour(day)))
        day += timedelta(days=28)
    return months
