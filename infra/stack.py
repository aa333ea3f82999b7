"""The ``Tocsin`` stack: wires the constructs of :mod:`infra`.

To add a concern (heartbeat rule, maintenance scheduler, inbound email), write its construct in its own module,
create it here on the shared ``foundation`` (table, core layer, settings), and register its alarms with
``self.observability``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import TocsinConfig
from infra.data import DataStore
from infra.domain import CustomDomain
from infra.email import InboundEmail
from infra.escalation import ESCALATION_STEP, Escalation, SigningKey
from infra.escalation_start import EscalationStarter
from infra.failures import FailureQueue
from infra.functions import Foundation
from infra.heartbeat import HeartbeatSweep
from infra.ingest_api import IngestApi
from infra.layer import CoreLayer
from infra.maintenance import MaintenanceWindows
from infra.notifications import NotificationDelivery
from infra.observability import Observability


class TocsinStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: TocsinConfig | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("description", "Tocsin: serverless on-call alerting (ingest, escalation, heartbeats)")
        super().__init__(scope, construct_id, **kwargs)
        self.config = config or TocsinConfig.from_scope(self)

        self.data = DataStore(self, "Data")
        self.core_layer = CoreLayer(self, "CoreLayer")
        foundation = Foundation(data=self.data, layer=self.core_layer.layer, config=self.config)
        self.observability = Observability(self, "Observability", alarm_emails=self.config.alarm_emails)
        self.observability.watch_table(self.data.table, self.data.index_names)
        self.failures = FailureQueue(self, "Failures")  # failed asynchronous invocations are kept there
        self.failures.watch(self.observability)

        self.ingest_api = IngestApi(self, "Http", foundation=foundation)
        for fn in self.ingest_api.functions.values():
            fn.watch(self.observability)
        self.observability.watch_http_api("HttpApi", self.ingest_api.http_api)
        self.observability.expose_destination(self.ingest_api.functions["web"])  # the console warns without one
        # A stable URL for monitors and notification links: the custom domain, when the deployment has one.
        self.domain: CustomDomain | None = None
        if self.config.domain_name:
            self.domain = CustomDomain(
                self,
                "Domain",
                config=self.config,
                http_api=self.ingest_api.http_api,
                stage=self.ingest_api.stage,
            )
        public_url = self.config.public_url or self.ingest_api.endpoint

        # Escalations: the loop state machine and escalation_step, started and stopped by the escalation starter from
        # the table's stream of group changes (whoever stored them: ingest, the api's actions, heartbeats). The api
        # and console start reminders and direct pages themselves and verify signed action links.
        self.signing_key = SigningKey(self, "SigningKey")
        self.escalation = Escalation(
            self, "Escalation", foundation=foundation, public_url=public_url, signing_key=self.signing_key
        )
        for name in ("api", "web"):
            self.escalation.allow_executions(self.ingest_api.functions[name])
        self.starter = EscalationStarter(
            self, "EscalationStarter", foundation=foundation, escalation=self.escalation, failures=self.failures
        )
        self.starter.watch(self.observability)
        self.signing_key.grant_read(self.ingest_api.functions["api"])
        self.signing_key.grant_read(self.ingest_api.functions["web"])  # signs the web console's sessions
        self.escalation.watch(self.observability)
        # Whether notifications reach people: SES events per configuration set, SMS spend, failures per channel.
        self.notifications = NotificationDelivery(
            self, "Notifications", config=self.config, function=ESCALATION_STEP.name
        )
        self.notifications.wire(self.escalation.step)
        self.notifications.watch(self.observability)

        # Heartbeats: a rate(1 minute) rule -> heartbeat_check. Maintenance windows: the api creates a one-time
        # schedule per window that invokes maintenance_end. Both store groups (escalations follow through the stream);
        # the sweep also retries the escalation starts that Step Functions refused.
        self.heartbeat = HeartbeatSweep(self, "Heartbeat", foundation=foundation, failures=self.failures)
        self.maintenance = MaintenanceWindows(self, "Maintenance", foundation=foundation, failures=self.failures)
        self.escalation.allow_executions(self.heartbeat.check)
        self.maintenance.allow_scheduling(self.ingest_api.functions["api"])
        self.maintenance.allow_scheduling(self.ingest_api.functions["web"])  # maintenance start/stop in the console
        self.heartbeat.watch(self.observability)
        self.maintenance.watch(self.observability)

        # Inbound e-mail (only with the inbound_email_domain setting): SES receipt rule -> S3 -> email_ingest, which
        # ingests like the ingest function; the api shows the integrations' addresses.
        self.inbound_email: InboundEmail | None = None
        if self.config.inbound_email_domain:
            self.inbound_email = InboundEmail(
                self,
                "InboundEmail",
                domain=self.config.inbound_email_domain,
                foundation=foundation,
                failures=self.failures,
            )
            self.inbound_email.expose_address(self.ingest_api.functions["api"])
            self.inbound_email.expose_address(self.ingest_api.functions["web"])
            self.inbound_email.watch(self.observability)
            CfnOutput(
                self,
                "InboundEmailRuleSet",
                value=self.inbound_email.rule_set_name,
                description="Activate once: aws ses set-active-receipt-rule-set --rule-set-name <this>",
            )

        CfnOutput(
            self,
            "ApiUrl",
            value=self.domain.url if self.domain else self.ingest_api.url,
            description="Base URL of Tocsin: give monitors <this>integrations/v1/..., open <this>ui/",
        )
        if self.domain is not None:
            CfnOutput(
                self,
                "ApiDomainTarget",
                value=self.domain.target,
                description=f"Point {self.domain.name} here (CNAME) unless a hosted zone was given (alias record)",
            )
        CfnOutput(self, "TableName", value=self.data.table.table_name, description="The DynamoDB table")
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.escalation.state_machine.state_machine_arn,
            description="The escalation state machine (one execution per escalation or personal notification)",
        )
