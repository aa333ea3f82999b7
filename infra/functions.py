"""One Tocsin Lambda function: code from ``functions/<name>/``, the core layer, its own log group and role.

The role starts empty: the function may write only to its own log group (no AWSLambdaBasicExecutionRole),
and every other permission is granted explicitly by the construct that wires the function.

Observability (``oncall.telemetry``): Powertools' structured JSON logs (the domain package's loggers included),
metrics in the ``Tocsin`` namespace, and with the ``tracing`` setting X-Ray active tracing plus Powertools Tracer
(``TOCSIN_TRACING``; the handlers import the X-Ray SDK only then). ``reserved_concurrency`` keeps that many
concurrent executions for the function alone, whatever else the account runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from oncall.settings import RUNTIME_ENVIRONMENT, Env

from infra.config import TocsinConfig
from infra.layer import ARCHITECTURE, RUNTIME
from infra.sources import function_dir, telemetry

METRICS_NAMESPACE = telemetry.DEFAULT_NAMESPACE
_CODE_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo", ".pytest_cache"]


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/; the handler is handler.handler
    description: str
    memory_mb: int = 256
    timeout_seconds: int = 10
    environment: Mapping[str, str] = field(default_factory=dict)


class TocsinFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        layer: lambda_.ILayerVersion,
        table_name: str,
        config: TocsinConfig,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.log_group = logs.LogGroup(
            self, "Logs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Tocsin {spec.name} function: own log group + explicit grants only",
        )
        self.log_group.grant_write(self.role)
        environment = {
            **RUNTIME_ENVIRONMENT,
            Env.TABLE: table_name,
            "POWERTOOLS_SERVICE_NAME": telemetry.service_name(spec.name),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            Env.RETENTION_DAYS: str(config.retention_days),
            Env.RATE_LIMIT: config.rate_limit,
            **({Env.TRACING: "1"} if config.tracing else {}),
            **spec.environment,
        }
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(function_dir(spec.name)), exclude=_CODE_EXCLUDES),
            handler="handler.handler",
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            environment=environment,
            reserved_concurrent_executions=reserved_concurrency or None,
            tracing=lambda_.Tracing.ACTIVE if config.tracing else lambda_.Tracing.DISABLED,
        )
        if config.tracing:
            # Active tracing adds xray:PutTraceSegments and PutTelemetryRecords, which take no resource.
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                    reason=(
                        "X-Ray active tracing (the tracing setting): xray:PutTraceSegments and "
                        "xray:PutTelemetryRecords support no resource-level permissions."
                    ),
                )
            )
        # cdk-nag flags every runtime older than the newest one.
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=(
                    f"Deliberately {RUNTIME.name}: the core layer's binary wheels (pydantic-core, regex, markupsafe) "
                    "are built for cp312/arm64 by infra/layer.py and the code is tested on 3.12; the runtime is "
                    "raised for the layer and all functions together (infra/layer.py RUNTIME), not per function."
                ),
            )
        )
