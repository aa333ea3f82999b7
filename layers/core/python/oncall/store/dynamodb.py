"""The DynamoDB adapter of :class:`oncall.ports.Store`: every repository over the one table.

Repositories are built on first use, so a function imports (and pays the cold start of) only the ones it uses:
ingest never loads the people or schedule models.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from oncall.store.schema import DEFAULT_RETENTION_DAYS, DEFAULT_TABLE_NAME
from oncall.store.table import Table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from oncall.directory import EscalationChain, Team, User
    from oncall.schedules.models import Schedule
    from oncall.store.access import DynamoApiKeys, DynamoAuditLog, DynamoCounters
    from oncall.store.alert_groups import DynamoAlertGroups, DynamoEscalationStarts
    from oncall.store.directory import DynamoNotificationRules, DynamoPolicies, DynamoShifts, Principals
    from oncall.store.entities import Collection, NamedCollection
    from oncall.store.epoch import DynamoAuthEpoch
    from oncall.store.insights import DynamoInsights
    from oncall.store.integrations import DynamoHeartbeats, DynamoIntegrations
    from oncall.store.resolution_notes import DynamoResolutionNotes
    from oncall.store.webhooks import DynamoWebhooks


class DynamoStore:
    def __init__(
        self,
        table_name: str = DEFAULT_TABLE_NAME,
        client: DynamoDBClient | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.table = Table(table_name, client)
        self.retention = timedelta(days=retention_days)

    @property
    def requests(self) -> int:
        """DynamoDB round trips made, for benchmarks."""
        return self.table.requests

    @cached_property
    def auth_epoch(self) -> DynamoAuthEpoch:
        """Bumped by every revoking write, so cached credentials die within a second everywhere."""
        from oncall.store.epoch import DynamoAuthEpoch

        return DynamoAuthEpoch(self.table)

    @cached_property
    def integrations(self) -> DynamoIntegrations:
        from oncall.store.integrations import DynamoIntegrations

        return DynamoIntegrations(self.table, self.auth_epoch)

    @cached_property
    def heartbeats(self) -> DynamoHeartbeats:
        from oncall.store.integrations import DynamoHeartbeats

        return DynamoHeartbeats(self.table)

    @cached_property
    def groups(self) -> DynamoAlertGroups:
        from oncall.store.alert_groups import DynamoAlertGroups

        return DynamoAlertGroups(self.table, self.retention)

    @cached_property
    def escalation_starts(self) -> DynamoEscalationStarts:
        from oncall.store.alert_groups import DynamoEscalationStarts

        return DynamoEscalationStarts(self.table)

    @cached_property
    def users(self) -> Principals[User]:
        from oncall.store import directory

        return directory.users(self.table, self.auth_epoch)

    @cached_property
    def teams(self) -> Principals[Team]:
        from oncall.store import directory

        return directory.teams(self.table, self.auth_epoch)

    @cached_property
    def rules(self) -> DynamoNotificationRules:
        from oncall.store.directory import DynamoNotificationRules

        return DynamoNotificationRules(self.table)

    @cached_property
    def chains(self) -> NamedCollection[EscalationChain]:
        from oncall.store import directory

        return directory.chains(self.table)

    @cached_property
    def policies(self) -> DynamoPolicies:
        from oncall.store.directory import DynamoPolicies

        return DynamoPolicies(self.table)

    @cached_property
    def webhooks(self) -> DynamoWebhooks:
        from oncall.store.webhooks import DynamoWebhooks

        return DynamoWebhooks(self.table)

    @cached_property
    def schedules(self) -> Collection[Schedule]:
        from oncall.store import directory

        return directory.schedules(self.table)

    @cached_property
    def shifts(self) -> DynamoShifts:
        from oncall.store.directory import DynamoShifts

        return DynamoShifts(self.table)

    @cached_property
    def api_keys(self) -> DynamoApiKeys:
        from oncall.store.access import DynamoApiKeys

        return DynamoApiKeys(self.table, self.auth_epoch)

    @cached_property
    def audit(self) -> DynamoAuditLog:
        from oncall.store.access import DynamoAuditLog

        return DynamoAuditLog(self.table)

    @cached_property
    def counters(self) -> DynamoCounters:
        from oncall.store.access import DynamoCounters

        return DynamoCounters(self.table)

    @cached_property
    def insights(self) -> DynamoInsights:
        from oncall.store.insights import DynamoInsights

        return DynamoInsights(self.table)

    @cached_property
    def resolution_notes(self) -> DynamoResolutionNotes:
        from oncall.store.resolution_notes import DynamoResolutionNotes

        return DynamoResolutionNotes(self.table)
