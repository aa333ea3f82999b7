"""Alarms of the deployment and the SNS topic they notify.

Other constructs register what they want watched (``watch_function``, ``watch_http_api``, ``watch_table``,
``watch_queue``, ``watch_stream_consumer``, or any metric through ``alarm``), so every alarm of the stack goes to
the one topic. The topic reaches people through ``alarm_email`` (one or more addresses). Without one the alarms
reach nobody: ``cdk synth``/``cdk deploy`` print a warning, the stack has an ``AlarmsReachNobody`` output and the
web console shows a warning in its header (``TOCSIN_ALARM_DESTINATION=none``, see ``expose_destination``).

What watches the watcher: the ``deadman_url`` setting (``infra/heartbeat.py``) makes the minute sweep ping a
second system, which pages when Tocsin stops.
"""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput, Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from oncall.settings import Env

from infra.functions import METRICS_NAMESPACE, TocsinFunction
from infra.sources import telemetry

PERIOD = Duration.minutes(5)
NO_DESTINATION = "none"
NO_DESTINATION_WARNING = (
    "Tocsin's alarms reach nobody: no alarm_email is set, so nobody learns that escalations, notifications or "
    "ingest are failing. Deploy with -c alarm_email=you@example.com (or subscribe to the AlarmTopic yourself), "
    "and set -c deadman_url=<heartbeat URL of another system> so a second system pages when this one stops."
)
# A stream consumer that lags this much delivers stale alerts: page.
ITERATOR_AGE_THRESHOLD = Duration.minutes(2)


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alarm_emails: list[str] | None = None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Tocsin alarms", enforce_ssl=True)
        # Not KMS-encrypted on purpose (AwsSolutions-SNS2 is a warning, not an error, so nothing to acknowledge):
        # the topic carries only alarm state changes, CloudWatch cannot publish to a topic encrypted with the
        # AWS-managed aws/sns key, and a customer-managed key would cost every deployment a monthly fee.
        self.alarm_emails = list(alarm_emails or [])
        for address in self.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        if not self.alarm_emails:
            Annotations.of(self).add_warning_v2("tocsin:alarms-reach-nobody", NO_DESTINATION_WARNING)
            CfnOutput(self, "AlarmsReachNobody", value=NO_DESTINATION_WARNING, key="AlarmsReachNobody")
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

    @property
    def destination(self) -> str:
        """What the web console says about the alarm destination: the number of addresses, or ``none``."""
        count = len(self.alarm_emails)
        return f"{count} e-mail address{'es' if count > 1 else ''}" if count else NO_DESTINATION

    def expose_destination(self, fn: TocsinFunction) -> None:
        """``fn`` (the web console) warns in its header when the alarms reach nobody."""
        fn.function.add_environment(Env.ALARM_DESTINATION, self.destination)

    def alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        threshold: float = 1,
        *,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cloudwatch.Alarm:
        """An alarm when ``metric`` >= ``threshold`` in one period; missing data is fine (no traffic) by default."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    @staticmethod
    def tocsin_metric(
        name: str, function: str, *, statistic: str = "Sum", period: Duration = PERIOD, **dimensions: str
    ) -> cloudwatch.Metric:
        """A metric the functions publish (``oncall.telemetry``): namespace Tocsin, the function's service."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": telemetry.service_name(function), **dimensions},
            statistic=statistic,
            period=period,
        )

    def watch_function(self, name: str, function: lambda_.IFunction) -> None:
        label = name.capitalize()
        self.alarm(
            f"{label}Errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            f"Tocsin {name} function: invocations failed (unhandled errors or timeouts) in the last 5 minutes",
        )
        self.alarm(
            f"{label}Throttles",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
            f"Tocsin {name} function: invocations were throttled (concurrency) in the last 5 minutes",
        )

    def watch_http_api(self, name: str, api: apigwv2.IHttpApi) -> None:
        self.alarm(
            f"{name}ServerErrors",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            "Tocsin HTTP API answered 5xx in the last 5 minutes: senders retry, but alerts may be delayed",
        )

    def watch_table(self, table: dynamodb.ITable, index_names: list[str]) -> None:
        """Throttled reads or writes of the table or of an index (a throttled GSI write throttles the table)."""
        metrics: dict[str, cloudwatch.IMetric] = {}
        for kind in ("Read", "Write"):
            metrics[f"table{kind.lower()}"] = table.metric(f"{kind}ThrottleEvents", period=PERIOD, statistic="Sum")
            for number, index in enumerate(index_names):
                metrics[f"index{number}{kind.lower()}"] = table.metric(
                    f"{kind}ThrottleEvents",
                    period=PERIOD,
                    statistic="Sum",
                    dimensions_map={"TableName": table.table_name, "GlobalSecondaryIndexName": index},
                )
        self.alarm(
            "TableThrottles",
            cloudwatch.MathExpression(
                expression=" + ".join(f"FILL({key}, 0)" for key in metrics),
                using_metrics=metrics,
                period=PERIOD,
                label="Throttled DynamoDB requests (table and indexes)",
            ),
            "Tocsin's DynamoDB table throttled reads or writes in the last 5 minutes: ingest answers 503 (senders "
            "retry), escalation steps retry, and pages may be late",
        )

    def watch_queue(self, construct_id: str, queue: sqs.IQueue, description: str) -> None:
        """Something is kept in ``queue`` (a dead-letter or failure queue) and needs a look."""
        self.alarm(
            construct_id,
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            description,
        )

    def watch_stream_consumer(
        self,
        construct_id: str,
        function: lambda_.IFunction,
        threshold: Duration = ITERATOR_AGE_THRESHOLD,
        *,
        label: str | None = None,
    ) -> cloudwatch.Alarm:
        """A function reading a stream (event-source mapping): alarm when its oldest unread record is older than
        ``threshold`` (``IteratorAge``), i.e. the consumer is stuck or falling behind. ``label`` names it in the
        description (default: its function name, known at deploy time)."""
        return self.alarm(
            construct_id,
            function.metric("IteratorAge", period=Duration.minutes(1), statistic="Maximum"),
            f"Tocsin stream consumer {label or function.function_name}: records wait longer than "
            f"{threshold.to_seconds():g} s to be processed, so what they start is late",
            threshold=threshold.to_milliseconds(),
            evaluation_periods=2,
        )
