"""Escalation starter Lambda: the table's stream (group items only, by the event source's filter) -> executions
started and stopped to match each stored change (``oncall.escalation_start``).

Powertools batch processing reports the records that failed (``batchItemFailures``), so the stream delivers again
from the first of them; the event source splits a failing batch (bisect) and, once its retries are spent, hands the
batch's place in the stream to the failure queue. A start that Step Functions refuses does not fail its record: it
is deferred to the minute sweep, so one group's trouble never holds back the pages behind it.

Once the batch is followed, its changes go to the insights counters, but only those before its first failed record:
that record and every one behind it come again (counted then), and counting them now would count them twice.
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation_start, telemetry
from oncall.container import Container
from oncall.webhook_delivery import Listing

if TYPE_CHECKING:
    from oncall.store.insights import GroupChange

logger = telemetry.handler_logger()
container = Container()  # this environment's store, executor and clock
tracer = telemetry.tracer(container.settings.tracing)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def follow(record: DynamoDBRecord, webhooks: Listing) -> GroupChange | None:
    return escalation_start.follow_record(
        record.raw_event, container.store, container.executor, container.clock.now(), webhooks
    )


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    webhooks = Listing(container.store)  # listed once for the batch, at its first change that could fire one
    with processor(event["Records"], functools.partial(follow, webhooks=webhooks), context):
        outcomes = processor.process()  # ("success" | "fail", the change followed | the error, record), in order
    followed = itertools.takewhile(lambda outcome: outcome[0] == "success", outcomes)
    escalation_start.count_insights([change for _, change, _ in followed], container.store)
    return processor.response()  # type: ignore[return-value]  # a TypedDict of batchItemFailures: a dict
