"""Alarms of the deployment and the SNS topic they notify.

Other constructs register what they want watched (``watch_function``, ``watch_http_api``; later e.g. the
escalation state machine), so every alarm of the stack goes to the one topic.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

PERIOD = Duration.minutes(5)


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alarm_email: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Tocsin alarms", enforce_ssl=True)
        # Not KMS-encrypted on purpose (AwsSolutions-SNS2 is a warning, not an error, so nothing to acknowledge):
        # the topic carries only alarm state changes, CloudWatch cannot publish to a topic encrypted with the
        # AWS-managed aws/sns key, and a customer-managed key would cost every deployment a monthly fee.
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

    def alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1
    ) -> cloudwatch.Alarm:
        """An alarm when ``metric`` >= ``threshold`` in one period; missing data is fine (no traffic)."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

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
            f"Tocsin {name} function: invocations were throttled (account concurrency) in the last 5 minutes",
        )

    def watch_http_api(self, name: str, api: apigwv2.IHttpApi) -> None:
        self.alarm(
            f"{name}ServerErrors",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            "Tocsin HTTP API answered 5xx in the last 5 minutes: senders retry, but alerts may be delayed",
        )
