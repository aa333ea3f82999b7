"""Escalations: the generic loop state machine, its RunStep function ``escalation_step`` and the link-signing key.

One STANDARD state machine runs every escalation chain and every person's notification rules::

    RunStep (Lambda escalation_step; its output replaces the state)
      -> IsDone (Choice): $.done == true -> Done (Succeed)
                          otherwise      -> Wait (SecondsPath $.wait_seconds) -> RunStep

The state is a JSON object (``kind``, ``group_id``, ``generation``, ``wait_seconds``, ``done``, ...) owned by
``oncall.escalation``; the state machine reads only ``done`` and ``wait_seconds``. RunStep retries Lambda
service errors and failed invocations 3 times (2 s, 4 s, 8 s); after that the execution fails, which the
``ExecutionsFailed`` alarm reports. Callers name executions (``<group_id>-g<generation>``), so a repeated
StartExecution is idempotent.

The state machine has a fixed name derived from the stack (``<stack>-escalation``), and everyone refers to it by
an ARN built from that name rather than by a reference to the resource: ``escalation_step`` starts executions of
the state machine that invokes it (personal notifications), and a reference would make the function depend on the
state machine that depends on the function, a cycle CloudFormation refuses.

``TOCSIN_PUBLIC_URL`` (links in notifications) is the custom domain's URL (``domain_name``), else the HTTP API's
endpoint. That is no cycle: the endpoint only refers to the ``AWS::ApiGatewayV2::Api`` resource, and only the
API's integrations and routes (not the API itself) refer to the ``api`` function, which refers to the state
machine, which refers to ``escalation_step``.

``escalation_step`` runs every escalation step and every notification, so it has reserved concurrency
(``escalation_concurrency``, default 20): an alert storm on ingest cannot take the account's concurrency from it.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct
from oncall.settings import Env

from infra.config import TocsinConfig
from infra.functions import Foundation, FunctionSpec, TocsinFunction
from infra.observability import PERIOD, Observability

# Environment variables read by the handlers (oncall.executor, oncall.links, oncall.notify).

ESCALATION_STEP = FunctionSpec(
    name="escalation_step",
    description="Tocsin escalation step: one step of an escalation chain or of a person's notification rules",
    memory_mb=512,
    timeout_seconds=60,
)

# RunStep's retry policy. States.TaskFailed matches every error of the function (unhandled exceptions,
# timeouts, out of memory); the Lambda service errors are listed to make the intent explicit.
RETRY_ERRORS: tuple[str, ...] = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "States.TaskFailed",
)
RETRY_INTERVAL = Duration.seconds(2)
RETRY_MAX_ATTEMPTS = 3
RETRY_BACKOFF_RATE = 2.0
# Waits are 60 s to 24 h and a chain has a bounded number of steps and repeats: an execution still running after
# a week is a loop that never ends (and would soon hit the 25,000-event history limit); it times out and alarms.
EXECUTION_TIMEOUT = Duration.days(7)

SIGNING_KEY_ROTATION_REASON = (
    "The secret is the HMAC key of the ack/resolve/silence links in notifications. Links expire after 24 h "
    "and are verified against the current key only, so rotating it just invalidates the links already sent: "
    "rotate by hand (put-secret-value with a new random string) when needed; a rotation Lambda would add a "
    "function and a schedule for no security gain over the link expiry."
)


class SigningKey(Construct):
    """The Secrets Manager secret that signs action links (a generated 64-character random string)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Tocsin: HMAC key of the signed ack/resolve links in notifications",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.DESTROY,  # only invalidates outstanding links, which expire anyway
        )
        Validations.of(self.secret).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-SMG4", reason=SIGNING_KEY_ROTATION_REASON)
        )

    def grant_read(self, fn: TocsinFunction) -> None:
        """``secretsmanager:GetSecretValue`` on the secret, and its ARN in ``TOCSIN_SIGNING_SECRET_ARN``."""
        iam.Grant.add_to_principal(
            grantee=fn.function, actions=["secretsmanager:GetSecretValue"], resource_arns=[self.secret.secret_arn]
        )
        fn.function.add_environment(Env.SIGNING_SECRET_ARN, self.secret.secret_arn)


class Escalation(Construct):
    """The escalation state machine, its log group and the ``escalation_step`` function."""

    def __init__(
        self, scope: Construct, construct_id: str, *, foundation: Foundation, public_url: str, signing_key: SigningKey
    ) -> None:
        super().__init__(scope, construct_id)
        data, config = foundation.data, foundation.config
        stack = Stack.of(self)
        self.state_machine_name = f"{stack.stack_name}-escalation"
        self.state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # Every execution of this one state machine (StopExecution); never those of other state machines.
        self.executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        self.step = TocsinFunction(
            self,
            "Step",
            spec=ESCALATION_STEP,
            foundation=foundation,
            reserved_concurrency=config.escalation_concurrency,
        )
        step_fn = self.step.function
        data.grant_read_write(step_fn)
        signing_key.grant_read(self.step)
        self.allow_executions(self.step)  # personal notification executions
        step_fn.add_environment(Env.PUBLIC_URL, public_url)
        self._grant_notifications(config)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # The /aws/vendedlogs/ prefix keeps CloudWatch Logs' account-wide resource policy from growing.
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            retention=config.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        run_step = tasks.LambdaInvoke(
            self,
            "RunStep",
            lambda_function=step_fn,
            payload_response_only=True,  # the function's return value becomes the state
            retry_on_service_exceptions=False,  # replaced by the one retry policy below
            comment="One step: notify, then return the next state with done and wait_seconds",
        )
        run_step.add_retry(
            errors=list(RETRY_ERRORS),
            interval=RETRY_INTERVAL,
            max_attempts=RETRY_MAX_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        wait = sfn.Wait(self, "Wait", time=sfn.WaitTime.seconds_path("$.wait_seconds"))
        wait.next(run_step)
        is_done = (
            sfn.Choice(self, "IsDone")
            .when(sfn.Condition.boolean_equals("$.done", True), sfn.Succeed(self, "Done"))
            .otherwise(wait)
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="Tocsin escalation loop: RunStep -> done? -> Wait(wait_seconds) -> RunStep",
            definition_body=sfn.DefinitionBody.from_chainable(run_step.next(is_done)),
            timeout=EXECUTION_TIMEOUT,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ERROR,
                include_execution_data=False,  # states carry names, e-mail addresses and phone numbers
            ),
            tracing_enabled=config.tracing,
        )
        Validations.of(self.state_machine).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SF1",
                reason=(
                    "Logs ERROR events only: Standard executions keep their full event history (every step, "
                    "wait and retry) for 90 days in Step Functions itself, and ALL would write several log "
                    "events per step of every escalation, paid per GB ingested, for no extra information."
                ),
            )
        )
        Validations.of(self.state_machine).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SF2",
                reason=(
                    "X-Ray is opt-in (the tracing setting turns it on for the state machine and the functions): "
                    "the loop has a single Lambda task whose errors and timings are in the execution history and "
                    "the function's metrics, and tracing adds the X-Ray SDK's import and trace costs to every step."
                ),
            )
        )
        # CDK's LambdaInvoke grants lambda:InvokeFunction on the function and on "<function ARN>:*", and
        # Step Functions' log delivery needs logs:*LogDelivery actions, which support no resource-level
        # permissions (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
        step_logical_id = stack.get_logical_id(step_fn.node.default_child)
        self._acknowledge_wildcards(
            self.state_machine.role,
            {
                f"Resource::<{step_logical_id}.Arn>:*": (
                    "The state machine may invoke only the escalation_step function: the ':*' suffix that "
                    "CDK's LambdaInvoke adds covers that one function's versions and aliases, nothing else."
                ),
                "Resource::*": (
                    "Step Functions' CloudWatch Logs delivery (logs:CreateLogDelivery, GetLogDelivery, "
                    "UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, "
                    "DescribeResourcePolicies, DescribeLogGroups) supports no resource-level permissions"
                    + (
                        ", nor does X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, "
                        "GetSamplingTargets)."
                        if config.tracing
                        else "."
                    )
                ),
            },
        )

    # --- wiring -------------------------------------------------------------------------------------------------

    def allow_executions(self, fn: TocsinFunction) -> None:
        """``fn`` may start and stop executions of the state machine, whose ARN is in ``TOCSIN_STATE_MACHINE_ARN``."""
        iam.Grant.add_to_principal(
            grantee=fn.function, actions=["states:StartExecution"], resource_arns=[self.state_machine_arn]
        )
        iam.Grant.add_to_principal(
            grantee=fn.function, actions=["states:StopExecution"], resource_arns=[self.executions_arn]
        )
        fn.function.add_environment(Env.STATE_MACHINE_ARN, self.state_machine_arn)
        stack = Stack.of(self)
        finding = stack.resolve(self.executions_arn)
        self._acknowledge_wildcards(
            fn.role,
            {
                nag_finding(finding): (
                    "StopExecution (ack, resolve or silence ends an escalation) takes an execution ARN, and "
                    "executions are named at run time (<group id>-g<generation>): the wildcard is limited to "
                    f"the executions of the one state machine {self.state_machine_name}."
                )
            },
        )

    def _grant_notifications(self, config: TocsinConfig) -> None:
        fn = self.step.function
        stack = Stack.of(self)
        if config.email_from and config.email_domain:
            fn.add_environment(Env.EMAIL_FROM, config.email_from)
            # SES authorizes a send against the identity that verifies the From address: the address itself or
            # its domain, whichever the deployer verified.
            identities = [
                stack.format_arn(
                    service="ses", resource="identity", resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
                )
                for name in (config.email_from, config.email_domain)
            ]
            iam.Grant.add_to_principal(
                grantee=fn, actions=["ses:SendEmail", "ses:SendRawEmail"], resource_arns=identities
            )
        iam.Grant.add_to_principal(grantee=fn, actions=["sns:Publish"], resource_arns=["*"])
        wildcards = {
            "Resource::*": (
                "sns:Publish sends the SMS notifications directly to phone numbers (PhoneNumber parameter), "
                "which have no ARN: IAM requires Resource '*' for that; the function publishes to no topic."
            )
        }
        if config.voice_origination:
            fn.add_environment(Env.VOICE_ORIGINATION, config.voice_origination)
            origination = _voice_origination_arn(stack, config.voice_origination)
            iam.Grant.add_to_principal(grantee=fn, actions=["sms-voice:SendVoiceMessage"], resource_arns=[origination])
            if origination.endswith("*"):
                wildcards[f"Resource::{origination}"] = (
                    "Phone calls are placed from the configured phone number, given by its number (E.164), "
                    "which is not its ARN (that holds the number's id): any phone number of this account."
                )
        self._acknowledge_wildcards(self.step.role, wildcards)

    def watch(self, observability: Observability) -> None:
        """Alarms: executions failed (RunStep's retries exhausted) or timed out; the function's errors/throttles."""
        observability.alarm(
            "EscalationExecutionsFailed",
            self.state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            "Tocsin escalation executions failed (escalation_step kept failing after 3 retries) in the last "
            "5 minutes: those alert groups no longer escalate. Once the cause is fixed, resume each where it failed: "
            "aws stepfunctions redrive-execution --execution-arn <arn> (Step Functions console: Executions, Failed)",
        )
        observability.alarm(
            "EscalationExecutionsThrottled",
            self.state_machine.metric_throttled(period=PERIOD, statistic="Sum"),
            "Tocsin escalation executions were throttled by Step Functions in the last 5 minutes: steps and "
            "notifications are running late",
        )
        observability.alarm(
            "EscalationExecutionsTimedOut",
            self.state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            f"Tocsin escalation executions ran longer than {EXECUTION_TIMEOUT.to_days()} days and timed out "
            "in the last 5 minutes: an escalation never finished",
        )
        self.step.watch(observability)

    @staticmethod
    def _acknowledge_wildcards(scope: Construct, reasons: dict[str, str]) -> None:
        for finding, reason in reasons.items():
            Validations.of(scope).acknowledge(
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason=reason)
            )


def nag_finding(resolved: object) -> str:
    """cdk-nag's spelling of a resource in an IAM5 finding: ``Resource::arn:<AWS::Partition>:...``."""
    if isinstance(resolved, str):
        return f"Resource::{resolved}"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        text = []
        for part in parts:
            if isinstance(part, str):
                text.append(part)
            elif isinstance(part, dict) and "Ref" in part:
                text.append(f"<{part['Ref']}>")
            elif isinstance(part, dict) and "Fn::GetAtt" in part:
                text.append(f"<{'.'.join(part['Fn::GetAtt'])}>")
            else:
                raise ValueError(f"cannot spell {part!r} as cdk-nag does")
        return "Resource::" + separator.join(text)
    raise ValueError(f"cannot spell {resolved!r} as cdk-nag does")


def _voice_origination_arn(stack: Stack, origination: str) -> str:
    """The ARN of the phone number or pool that places calls; a number given in E.164 form: any of the account's."""
    if origination.startswith("arn:"):
        return origination
    if origination.startswith(("phone-", "pool-")):
        kind = "phone-number" if origination.startswith("phone-") else "pool"
        return stack.format_arn(
            service="sms-voice", resource=kind, resource_name=origination, arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
    return stack.format_arn(
        service="sms-voice", resource="phone-number", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )
