"""Whether notifications reach people, watched per channel.

- Every channel: ``escalation_step`` counts ``NotificationsFailed`` per ``channel`` (e-mail, SMS, phone call,
  webhook) when a send failed for good (retries included); any failure alarms, since someone was not told.
- E-mail (with ``email_from``): an SES configuration set, ``<stack>-notifications``, that every notification
  e-mail is sent with (``TOCSIN_SES_CONFIGURATION_SET``), publishes bounces, complaints, rejects, rendering
  failures and delivery delays to CloudWatch through an event destination; bounces, rejects and delays alarm
  (the person did not get the page, or got it late), and complaints alarm (SES pauses accounts with too many).
- SMS: SNS's month-to-date spend alarms at 80 % of the account's SMS spend limit (``sms_spend_limit_usd``, SNS's
  default is 1 USD): at the limit SNS stops sending SMS without an error to the sender.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct
from oncall.settings import Env

from infra.config import TocsinConfig
from infra.functions import TocsinFunction
from infra.observability import PERIOD, Observability
from infra.sources import telemetry

SES_DIMENSION = "ses:configuration-set"
SPEND_ALARM_SHARE = 0.8
CHANNEL_NAMES = {"email": "e-mail", "sms": "SMS", "phone_call": "phone call", "webhook": "webhook"}
# SES events that mean a page did not arrive (or arrived late), and why each one alarms.
SES_ALARMS: dict[str, tuple[ses.EmailSendingEvent, str, str]] = {
    "Bounce": (ses.EmailSendingEvent.BOUNCE, "SesBounces", "notification e-mails bounced: the address is wrong"),
    "Reject": (ses.EmailSendingEvent.REJECT, "SesRejects", "SES rejected notification e-mails (virus scan)"),
    "DeliveryDelay": (
        ses.EmailSendingEvent.DELIVERY_DELAY,
        "SesDeliveryDelays",
        "notification e-mails are delayed by the receiving mail server",
    ),
    "Complaint": (
        ses.EmailSendingEvent.COMPLAINT,
        "SesComplaints",
        "recipients marked notification e-mails as spam: SES may pause sending",
    ),
    "RenderingFailure": (
        ses.EmailSendingEvent.RENDERING_FAILURE,
        "SesRenderingFailures",
        "SES could not render notification e-mails",
    ),
}


class NotificationDelivery(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: TocsinConfig, function: str) -> None:
        super().__init__(scope, construct_id)
        self.function = function  # the function that sends (its metrics' service)
        self.sms_spend_limit_usd = config.sms_spend_limit_usd
        self.configuration_set: ses.ConfigurationSet | None = None
        self.configuration_set_name = f"{Stack.of(self).stack_name}-notifications"
        if config.email_from:
            self.configuration_set = ses.ConfigurationSet(
                self, "ConfigurationSet", configuration_set_name=self.configuration_set_name, reputation_metrics=True
            )
            self.configuration_set.add_event_destination(
                "CloudWatch",
                destination=ses.EventDestination.cloud_watch_dimensions(
                    [
                        ses.CloudWatchDimension(
                            name=SES_DIMENSION,
                            source=ses.CloudWatchDimensionSource.MESSAGE_TAG,
                            default_value=self.configuration_set_name,
                        )
                    ]
                ),
                events=[event for event, _, _ in SES_ALARMS.values()],
            )

    def wire(self, fn: TocsinFunction) -> None:
        """``fn`` sends its e-mail with the configuration set (and may: SES authorizes the set too)."""
        if self.configuration_set is None:
            return
        fn.function.add_environment(Env.SES_CONFIGURATION_SET, self.configuration_set_name)
        arn = Stack.of(self).format_arn(
            service="ses",
            resource="configuration-set",
            resource_name=self.configuration_set_name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(
            grantee=fn.function, actions=["ses:SendEmail", "ses:SendRawEmail"], resource_arns=[arn]
        )

    def watch(self, observability: Observability) -> None:
        for channel in telemetry.CHANNELS:
            name = CHANNEL_NAMES[channel]
            observability.alarm(
                f"{channel.capitalize()}NotificationsFailed",
                observability.tocsin_metric(telemetry.NOTIFICATIONS_FAILED, self.function, channel=channel),
                f"Tocsin could not send {name} notifications in the last 5 minutes (retries included): people were "
                "not told about their alert groups; the groups' timelines say who and why",
            )
        if self.configuration_set is not None:
            for metric_name, (_, construct_id, meaning) in SES_ALARMS.items():
                observability.alarm(
                    construct_id,
                    cloudwatch.Metric(
                        namespace="AWS/SES",
                        metric_name=metric_name,
                        dimensions_map={SES_DIMENSION: self.configuration_set_name},
                        statistic="Sum",
                        period=PERIOD,
                    ),
                    f"Tocsin: {meaning} (SES {metric_name} events in the last 5 minutes)",
                )
        limit = self.sms_spend_limit_usd
        observability.alarm(
            "SmsSpendNearLimit",
            cloudwatch.Metric(
                namespace="AWS/SNS",
                metric_name="SMSMonthToDateSpentUSD",
                statistic="Maximum",
                period=Duration.minutes(5),
            ),
            f"Tocsin: SMS spending this month reached {SPEND_ALARM_SHARE:.0%} of the account's SNS spend limit "
            f"({limit:g} USD, setting sms_spend_limit_usd): at the limit SNS stops sending SMS pages; raise the "
            "limit (SNS text messaging preferences, a service quota increase) and the setting",
            threshold=round(limit * SPEND_ALARM_SHARE, 2),
        )
