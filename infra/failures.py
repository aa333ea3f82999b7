"""Failed asynchronous invocations are kept, not dropped: one SQS queue, ``FailedInvocations``.

Every function invoked asynchronously (``heartbeat_check`` by the minute rule, ``maintenance_end`` by EventBridge
Scheduler, ``email_ingest`` by SES) sends an event whose retries are exhausted, or which got too old, to the
queue through a Lambda on-failure destination: the record holds the original event, the function's ARN and the
error (``requestContext.condition``, ``responsePayload``). The minute rule's own delivery failures (EventBridge
could not invoke the function at all) land there too, as the rule target's dead-letter queue. Messages are kept
14 days (SQS's maximum), encrypted (SSE-SQS) and readable over TLS only, and an alarm fires while any is there.

The escalation starter's stream mapping (``infra/escalation_start.py``) sends there too, once a batch of group
changes has failed all its retries: the message names the shard and the range of sequence numbers that were not
handled (the stream keeps the records 24 hours: read them with ``aws dynamodbstreams get-records``); the groups
they name may be waiting for their escalation.

Replaying a kept event: ``aws lambda invoke --function-name <functionArn> --invocation-type Event --payload
<requestPayload>``; then delete the message. Escalations run on Step Functions (synchronous invocations of
``escalation_step``): their failures are failed executions, alarmed by ``infra/escalation.py`` and redriven
with ``aws stepfunctions redrive-execution``.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import TocsinFunction
from infra.observability import Observability

RETENTION = Duration.days(14)
MAX_EVENT_AGE = Duration.hours(6)  # Lambda's default for asynchronous invocations


class FailureQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "FailedInvocations",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        Validations.of(self.queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason=(
                    "This queue is itself the dead-letter destination of failed asynchronous invocations: nothing "
                    "consumes it automatically, an operator reads and replays its messages, and an alarm fires "
                    "while it holds any."
                ),
            )
        )

    def keep_failures_of(
        self, fn: TocsinFunction, *, retry_attempts: int = 2, max_event_age: Duration = MAX_EVENT_AGE
    ) -> None:
        """Lambda's asynchronous invocation settings of ``fn``, with this queue as the on-failure destination."""
        fn.function.configure_async_invoke(
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_failure=destinations.SqsDestination(self.queue),
        )

    def watch(self, observability: Observability) -> None:
        observability.watch_queue(
            "FailedInvocationsKept",
            self.queue,
            "Tocsin kept failed invocations (a minute sweep, a maintenance end, an inbound mail or a batch of "
            "escalation starts whose retries ran out) in the FailedInvocations queue: read them, fix the cause "
            "and replay them (infra/failures.py)",
        )
