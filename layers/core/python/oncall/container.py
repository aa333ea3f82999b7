"""The adapters of the ports that an execution environment keeps between invocations: the composition root.

Every handler module holds its own ``Container`` (module state is per execution environment, and tests load
fresh copies of a handler to start from empty caches). Settings are read once, when the container is made; each
adapter is created on first use, so a function pays only for what it touches. The local stack replaces adapters
that have no local twin of their own (the notifier) before the first invocation, and tests may replace any.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from oncall.clock import SYSTEM_CLOCK, Clock
from oncall.settings import Settings

if TYPE_CHECKING:
    from oncall.access import Authenticator
    from oncall.executor import Executor
    from oncall.ingest import IngestService
    from oncall.notify.channels import Notifier
    from oncall.outbound.client import Client
    from oncall.scheduler import Scheduler
    from oncall.store.dynamodb import DynamoStore


class Container:
    def __init__(self, settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings or Settings.from_env()
        self.clock = clock  # the one source of time of this environment's use cases

    @cached_property
    def store(self) -> DynamoStore:
        from oncall.store.dynamodb import DynamoStore

        return DynamoStore(self.settings.table_name, retention_days=self.settings.retention_days)

    @cached_property
    def authenticator(self) -> Authenticator:
        from oncall.access import Authenticator

        return Authenticator(self.store, self.settings.api_rate_limit)

    @cached_property
    def executor(self) -> Executor:
        from oncall.executor import executor_for

        return executor_for(self.settings)

    @cached_property
    def scheduler(self) -> Scheduler:
        from oncall.scheduler import scheduler_for

        return scheduler_for(self.settings)

    @cached_property
    def outbound(self) -> Client:
        """The guarded HTTP client of every request to a URL someone gave (webhooks, calendars, the dead-man's
        switch), under the deployment's policy."""
        from oncall.outbound.client import Client
        from oncall.outbound.policy import Policy

        policy = Policy(
            allow_http=self.settings.outbound_allow_http, allow_loopback=self.settings.outbound_allow_loopback
        )
        return Client(policy)

    @cached_property
    def notifier(self) -> Notifier:
        from oncall.notify.channels import AwsNotifier

        return AwsNotifier(
            sender=self.settings.email_from,
            configuration_set=self.settings.ses_configuration_set,
            voice_origination=self.settings.voice_origination,
            http=self.outbound,
        )

    @cached_property
    def ingest(self) -> IngestService:
        """The ingest pipeline with its caches (tokens, configurations, rate counts) and this environment's store."""
        from oncall.ingest import IngestService

        return IngestService(self.store, self.settings.rate_limit, self.settings.ingest_sync_seconds, clock=self.clock)

    def signing_key(self) -> bytes:
        """The key that signs action links, console sessions and calendar feed URLs."""
        from oncall import links

        return links.signing_key(self.settings)
