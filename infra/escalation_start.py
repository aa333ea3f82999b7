"""The escalation starter: the table's stream -> ``escalation_start`` -> executions started and stopped.

Whoever stores a group (ingest, the api's actions, heartbeats, maintenance, a RunStep) only stores it; the table's
stream (``NEW_AND_OLD_IMAGES``) carries every change of a group item to ``escalation_start`` through an event source
mapping, which starts or stops the group's executions to match (``oncall.escalation_start``). So a function that
dies right after its write cannot lose a page: the change waits on the stream (24 hours) until the starter has
handled it.

The mapping is the one definition of ``oncall.store.schema`` that the local stack's poller (``local/streams.py``)
follows too: only group items pass its filter (``GROUP_CHANGES_FILTER``: no alerts, timeline or claims, so an alert
storm does not invoke the starter per alert), ``STREAM_BATCH_SIZE`` records per invocation, the records a batch
reports as failed (Powertools ``batchItemFailures``) delivered again from the first of them, a failing batch split in
two (bisect), and after ``STREAM_RETRY_ATTEMPTS`` retries the batch's place in the stream goes to the failure queue
(``infra/failures.py``: an on-failure destination), where an alarm fires. Execution names derive from the group id and
generation, so a batch delivered twice starts nothing twice. ``IteratorAge`` alarms when the starter falls behind.
The starter also keeps the insights counters from the changes it follows (``oncall.escalation_start``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.escalation import Escalation
from infra.failures import FailureQueue
from infra.functions import Foundation, FunctionSpec, TocsinFunction
from infra.observability import Observability
from infra.sources import schema

ESCALATION_START = FunctionSpec(
    name="escalation_start",
    description="Tocsin escalation starter: the table's stream of group changes -> executions started and stopped",
    timeout_seconds=60,
)
# What the starter writes: a deferred start (PutItem) when Step Functions refuses a StartExecution, and the insights
# counted from the changes it follows (``oncall.store.insights``: PutItem of a once-per-group claim, UpdateItem ADD).
STARTER_TABLE_ACTIONS: tuple[str, ...] = ("dynamodb:PutItem", "dynamodb:UpdateItem")
# Concurrent starters kept whatever else runs (unless escalation_concurrency is 0): one per stream shard is
# what the event source mapping runs, and an on-demand table of Tocsin's size has a handful of shards.
STARTER_CONCURRENCY = 5
# A start this late is a page this late.
STARTER_LAG_ALARM = Duration.seconds(60)


class EscalationStarter(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        foundation: Foundation,
        escalation: Escalation,
        failures: FailureQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.start = TocsinFunction(
            self, "Start", spec=ESCALATION_START, foundation=foundation, reserved_concurrency=STARTER_CONCURRENCY
        )
        fn = self.start.function
        data = foundation.data
        data.grant(fn, STARTER_TABLE_ACTIONS, index_actions=())
        escalation.allow_executions(self.start)
        self.source = sources.DynamoEventSource(
            data.table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=schema.STREAM_BATCH_SIZE,
            bisect_batch_on_error=True,
            retry_attempts=schema.STREAM_RETRY_ATTEMPTS,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(failures.queue),
            filters=[lambda_.FilterCriteria.filter(schema.GROUP_CHANGES_FILTER)],
        )
        fn.add_event_source(self.source)
        Validations.of(self.start.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "dynamodb:ListStreams, which Lambda's event source mapping needs to find the table's stream, "
                    "supports no resource-level permissions; reading the records is limited to the table's stream."
                ),
            )
        )

    def watch(self, observability: Observability) -> None:
        self.start.watch(observability)
        observability.watch_stream_consumer(
            "EscalationStarterLag", self.start.function, STARTER_LAG_ALARM, label=ESCALATION_START.name
        )
