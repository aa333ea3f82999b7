"""Escalation starter Lambda: the table's stream (group items only, by the event source's filter) -> executions
started and stopped to match each stored change (``oncall.escalation_start``).

Powertools batch processing reports the records that failed (``batchItemFailures``), so the stream delivers again
from the first of them; the event source splits a failing batch (bisect) and, once its retries are spent, hands the
batch's place in the stream to the failure queue. A start that Step Functions refuses does not fail its record: it
is deferred to the minute sweep, so one group's trouble never holds back the pages behind it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation_start, telemetry
from oncall.container import Container

logger = telemetry.handler_logger()
container = Container()  # this environment's store, executor and clock
tracer = telemetry.tracer(container.settings.tracing)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def follow(record: DynamoDBRecord) -> None:
    escalation_start.follow_record(record.raw_event, container.store, container.executor, container.clock.now())


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of batchItemFailures: a dict
        event=event, record_handler=follow, processor=processor, context=context
    )
