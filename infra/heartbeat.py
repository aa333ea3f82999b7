"""Heartbeats: an EventBridge rule ``rate(1 minute)`` invokes ``heartbeat_check``, which sweeps the due heartbeats
and starts the escalations whose StartExecution failed when their group was stored (``oncall.escalation.
retry_deferred_starts``: a sparse index of deferred starts, so an outage of Step Functions delays a page by a
minute instead of losing it).

``heartbeat_check`` (``oncall.heartbeat.check``) reads the sparse due-time index, marks each expired heartbeat
(a conditional UpdateItem: one alert per expiry, however many sweeps run) and sends the "<name> heartbeat is
missing" alert through the normal ingest path: it gets exactly the table access of the ingest function, and
starts and stops escalations like ingest does (``Escalation.allow_executions``, wired in ``infra/stack.py``).

A failed sweep is not retried by Lambda (async retries 0): the domain re-arms the heartbeat it could not alert
on, and the next sweep, one minute later, tries again; a retry would only overlap with that sweep. An event older
than a minute is dropped for the same reason (the next one supersedes it).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import TocsinConfig
from infra.data import DataStore
from infra.functions import FunctionSpec, TocsinFunction
from infra.observability import PERIOD, Observability

SWEEP_RATE = Duration.minutes(1)

HEARTBEAT_CHECK = FunctionSpec(
    name="heartbeat_check",
    description="Tocsin minute sweep: missing heartbeats raise their alert; deferred escalation starts are retried",
    memory_mb=512,  # renders the integration's templates, like ingest
    timeout_seconds=60,  # one sweep must end before the next one starts
)


class HeartbeatSweep(Construct):
    """The ``heartbeat_check`` function and the rule that invokes it every minute."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataStore,
        layer: lambda_.ILayerVersion,
        config: TocsinConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.check = TocsinFunction(
            self, "Check", spec=HEARTBEAT_CHECK, layer=layer, table_name=data.table.table_name, config=config
        )
        fn = self.check.function
        # The ingest path (grouping, conditional puts and transactions) plus the GSI3 due-time Query and the
        # heartbeat item's UpdateItem/PutItem, which the ingest profile already holds.
        data.grant_ingest(fn)
        fn.configure_async_invoke(retry_attempts=0, max_event_age=SWEEP_RATE)
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Tocsin: sweep the due heartbeats every minute (heartbeat_check)",
            schedule=events.Schedule.rate(SWEEP_RATE),
            targets=[targets.LambdaFunction(fn, retry_attempts=2, max_event_age=SWEEP_RATE)],
        )

    def watch(self, observability: Observability) -> None:
        """Alarms: the function's errors/throttles, and invocations the rule could not deliver."""
        observability.watch_function(HEARTBEAT_CHECK.name, self.check.function)
        observability.alarm(
            "HeartbeatSweepFailedInvocations",
            cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="FailedInvocations",
                dimensions_map={"RuleName": self.rule.rule_name},
                period=PERIOD,
                statistic="Sum",
            ),
            "Tocsin heartbeat sweep: EventBridge could not invoke heartbeat_check in the last 5 minutes, so "
            "missing heartbeats are not being detected",
        )
