"""Heartbeats: an EventBridge rule ``rate(1 minute)`` invokes ``heartbeat_check``, which sweeps the due heartbeats
and starts the escalations whose StartExecution failed when their group was stored (``oncall.escalation.
retry_deferred_starts``: a sparse index of deferred starts, so an outage of Step Functions delays a page by a
minute instead of losing it).

``heartbeat_check`` (``oncall.heartbeat.check``) reads the sparse due-time index, marks each expired heartbeat
(a conditional UpdateItem: one alert per expiry, however many sweeps run) and sends the "<name> heartbeat is
missing" alert through the normal ingest path: it gets exactly the table access of the ingest function (the alert's
group escalates through the table's stream, ``infra/escalation_start.py``), and StartExecution for the deferred
starts (``Escalation.allow_executions``, wired in ``infra/stack.py``).

A failed sweep is not retried by Lambda (async retries 0): the domain re-arms the heartbeat it could not alert
on, and the next sweep, one minute later, tries again; a retry would only overlap with that sweep. An event older
than a minute is dropped for the same reason (the next one supersedes it); both go to the failure queue
(``infra/failures.py``), so the gap is on record.

The sweep is what pages when Tocsin itself is broken, so it is watched three ways: a sweep that stops completing
(``SweepsCompleted`` missing for 5 minutes) alarms; escalations still unstarted after the retries
(``OldestDeferredStartAge`` over 3 minutes) alarm; and with ``deadman_url`` each completed sweep pings a second
system (``oncall.deadman``), which pages when the pings stop, even if this whole account is down. The function has
a reserved concurrency of 1 (unless ``escalation_concurrency`` is 0), so an alert storm cannot crowd it out.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct
from oncall.settings import Env

from infra.failures import FailureQueue
from infra.functions import Foundation, FunctionSpec, TocsinFunction
from infra.observability import PERIOD, Observability
from infra.sources import telemetry

SWEEP_RATE = Duration.minutes(1)
SWEEP_CONCURRENCY = 1
# A deferred start is retried by the next sweep; still unstarted after three minutes, the retries are failing.
DEFERRED_START_LATE = Duration.minutes(3)

HEARTBEAT_CHECK = FunctionSpec(
    name="heartbeat_check",
    description="Tocsin minute sweep: missing heartbeats raise their alert; deferred escalation starts are retried",
    memory_mb=512,  # renders the integration's templates, like ingest
    timeout_seconds=60,  # one sweep must end before the next one starts
)


class HeartbeatSweep(Construct):
    """The ``heartbeat_check`` function and the rule that invokes it every minute."""

    def __init__(self, scope: Construct, construct_id: str, *, foundation: Foundation, failures: FailureQueue) -> None:
        super().__init__(scope, construct_id)
        self.deadman_url = foundation.config.deadman_url
        self.check = TocsinFunction(
            self, "Check", spec=HEARTBEAT_CHECK, foundation=foundation, reserved_concurrency=SWEEP_CONCURRENCY
        )
        fn = self.check.function
        if self.deadman_url:
            fn.add_environment(Env.DEADMAN_URL, self.deadman_url)
        # The ingest path (grouping, conditional puts and transactions) plus the GSI3 due-time Query and the
        # heartbeat item's UpdateItem/PutItem, which the ingest profile already holds.
        foundation.data.grant_ingest(fn)
        failures.keep_failures_of(self.check, retry_attempts=0, max_event_age=SWEEP_RATE)
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Tocsin: sweep the due heartbeats every minute (heartbeat_check)",
            schedule=events.Schedule.rate(SWEEP_RATE),
            targets=[
                targets.LambdaFunction(fn, retry_attempts=2, max_event_age=SWEEP_RATE, dead_letter_queue=failures.queue)
            ],
        )

    def watch(self, observability: Observability) -> None:
        """Alarms: the function's errors/throttles, invocations the rule could not deliver, sweeps that stopped,
        escalations that do not start, and pings of the dead-man's switch that fail."""
        name = HEARTBEAT_CHECK.name
        self.check.watch(observability)
        observability.alarm(
            "HeartbeatSweepStopped",
            observability.tocsin_metric(telemetry.SWEEPS, name),
            "Tocsin's minute sweep has not completed once in 5 minutes: missing heartbeats are not detected, "
            "escalations whose start failed are not retried and the dead-man's switch is not pinged",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        observability.alarm(
            "EscalationStartsLate",
            observability.tocsin_metric(
                telemetry.OLDEST_DEFERRED_START_AGE, name, statistic="Maximum", period=Duration.minutes(1)
            ),
            f"Tocsin: an alert group has waited over {DEFERRED_START_LATE.to_minutes()} minutes for its escalation "
            "to start (Step Functions keeps refusing StartExecution): nobody is being paged for it",
            threshold=DEFERRED_START_LATE.to_seconds(),
        )
        if self.deadman_url:
            observability.alarm(
                "DeadmanPingsFailing",
                observability.tocsin_metric(telemetry.DEADMAN_PINGS_FAILED, name),
                "Tocsin could not ping the dead-man's switch URL (deadman_url) 3 times in 5 minutes: the second "
                "system will page as if Tocsin were down; check the URL and that system",
                threshold=3,
            )
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
