"""Inbound e-mail: SES receives mail for the inbound domain, stores it in S3 and invokes ``email_ingest``.

    mail to <token>@<domain> -> SES receipt rule set "<stack>-inbound", one rule for the domain (spam/virus scan):
        1. S3 action: the raw MIME to s3://<mail bucket>/inbound/<SES message id>
        2. Lambda action (Event): email_ingest reads that object and ingests it (``oncall.inbound_email``)

Created only when the ``inbound_email_domain`` setting is given. The bucket keeps raw mail for 30 days (SSE-S3,
public access blocked, TLS only); SES may put objects only under the prefix and only for this account's
receipts. ``email_ingest`` gets the table access of the ingest function and ``s3:GetObject`` on the prefix; like
ingest it does not touch Step Functions (its groups escalate through the table's stream,
``infra/escalation_start.py``).

Mail that became no alert for a reason worth a look (unreadable, refused, or failing to be stored) is copied to
``failed/<message id>`` and kept as long as alerts (``retention_days``), counted and alarmed
(``InboundMailFailed``); an invocation whose retries ran out goes to the failure queue (``infra/failures.py``).

Not done by CDK, once per account and region (SES receiving exists in a few regions only): verify the domain in
SES, point its MX record at ``inbound-smtp.<region>.amazonaws.com``, and activate the rule set
(``aws ses set-active-receipt-rule-set --rule-set-name <stack>-inbound``; one rule set is active per account).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from constructs import Construct
from oncall.settings import Env

from infra.failures import FailureQueue
from infra.functions import Foundation, FunctionSpec, TocsinFunction
from infra.observability import Observability
from infra.sources import telemetry

# Environment variables read by functions/email_ingest/handler.py and oncall.inbound_email.

MAIL_PREFIX = "inbound/"
FAILED_PREFIX = "failed/"
MAIL_RETENTION = Duration.days(30)

EMAIL_INGEST = FunctionSpec(
    name="email_ingest",
    description="Tocsin inbound e-mail: SES receipt (raw MIME in S3) -> alert of the inbound_email integration",
    memory_mb=512,  # renders the integration's templates, like ingest; parses MIME and HTML
    timeout_seconds=30,
)

ACCESS_LOGS_REASON = (
    "The bucket holds raw inbound mail written only by SES (this account's receipt rule, under inbound/) and read "
    "only by the email_ingest function, which logs every message id it reads; objects expire after 30 days. "
    "Server access logs would need a second bucket that logs nothing these logs do not already show."
)


class InboundEmail(Construct):
    """The raw-mail bucket, the SES receipt rule set and the ``email_ingest`` function."""

    def __init__(
        self, scope: Construct, construct_id: str, *, domain: str, foundation: Foundation, failures: FailureQueue
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.domain = domain
        config = foundation.config

        self.bucket = s3.Bucket(
            self,
            "MailBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRawMail",
                    prefix=MAIL_PREFIX,
                    expiration=MAIL_RETENTION,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="ExpireFailedMail", prefix=FAILED_PREFIX, expiration=Duration.days(config.retention_days)
                ),
            ],
            # Raw mail is a buffer between SES and the function: nothing in it outlives its 30 days anyway.
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-S1", reason=ACCESS_LOGS_REASON)
        )

        self.ingest = TocsinFunction(self, "Ingest", spec=EMAIL_INGEST, foundation=foundation)
        fn = self.ingest.function
        foundation.data.grant_ingest(fn)
        iam.Grant.add_to_principal(
            grantee=fn, actions=["s3:GetObject"], resource_arns=[self.bucket.arn_for_objects(f"{MAIL_PREFIX}*")]
        )
        iam.Grant.add_to_principal(  # the copy of a mail that became no alert
            grantee=fn, actions=["s3:PutObject"], resource_arns=[self.bucket.arn_for_objects(f"{FAILED_PREFIX}*")]
        )
        fn.add_environment(Env.MAIL_BUCKET, self.bucket.bucket_name)
        fn.add_environment(Env.MAIL_PREFIX, MAIL_PREFIX)
        fn.add_environment(Env.MAIL_FAILED_PREFIX, FAILED_PREFIX)
        fn.add_environment(Env.INBOUND_EMAIL_DOMAIN, domain)
        # A failed invocation (storage unavailable) is retried twice by Lambda, then kept in the failure queue;
        # the raw mail stays in the bucket.
        failures.keep_failures_of(self.ingest, retry_attempts=2, max_event_age=Duration.hours(6))
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        for prefix, reason in (
            (
                MAIL_PREFIX,
                "s3:GetObject only, on the objects SES stores under the inbound/ prefix of the mail bucket: "
                "their keys are SES message ids, known only when a mail arrives.",
            ),
            (
                FAILED_PREFIX,
                "s3:PutObject only, under the failed/ prefix of the mail bucket: a mail that became no alert is "
                "kept there under its SES message id, known only when the mail arrives.",
            ),
        ):
            Validations.of(self.ingest.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]", reason=reason
                )
            )

        self.rule_set_name = f"{stack.stack_name}-inbound"
        self.rule_set = ses.ReceiptRuleSet(self, "RuleSet", receipt_rule_set_name=self.rule_set_name)
        self.rule = self.rule_set.add_rule(
            "Domain",
            recipients=[domain],
            scan_enabled=True,  # spam and virus verdicts: email_ingest drops mail that fails either
            tls_policy=ses.TlsPolicy.OPTIONAL,  # monitoring tools often send without STARTTLS; refusing loses alerts
            actions=[
                # Adds the bucket policy statement that lets SES put objects (this account, this prefix).
                ses_actions.S3(bucket=self.bucket, object_key_prefix=MAIL_PREFIX),
                # Adds the Lambda permission for ses.amazonaws.com (this account).
                ses_actions.Lambda(function=fn, invocation_type=ses_actions.LambdaInvocationType.EVENT),
            ],
        )

    def expose_address(self, fn: TocsinFunction) -> None:
        """``fn`` (the management API) shows integration addresses ``<token>@<domain>``."""
        fn.function.add_environment(Env.INBOUND_EMAIL_DOMAIN, self.domain)

    def watch(self, observability: Observability) -> None:
        """Alarms on the function's errors and throttles, and on mail that became no alert (kept under failed/)."""
        self.ingest.watch(observability)
        observability.alarm(
            "InboundMailFailed",
            observability.tocsin_metric(telemetry.INBOUND_MAIL_FAILED, EMAIL_INGEST.name),
            "Tocsin: inbound mail became no alert (unreadable, refused by its integration, or not stored) in the "
            f"last 5 minutes; the raw mail is kept under {FAILED_PREFIX} in the mail bucket (see the function's log)",
        )
