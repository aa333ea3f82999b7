"""One Tocsin Lambda function: code from ``functions/<name>/``, the core layer, its own log group and role.

The role starts empty: the function may write only to its own log group (no AWSLambdaBasicExecutionRole),
and every other permission is granted explicitly by the construct that wires the function. Every function is
built on the same ``Foundation`` (the table, the core layer, the settings) and watched the same way (``watch``: its
errors and throttles alarm); the construct of its concern adds the alarms particular to it.

Observability (``oncall.telemetry``): Powertools' structured JSON logs (the domain package's loggers included),
metrics in the ``Tocsin`` namespace, and with the ``tracing`` setting X-Ray active tracing plus Powertools Tracer
(``TOCSIN_TRACING``; the handlers import the X-Ray SDK only then). ``reserved_concurrency`` keeps that many
concurrent executions for the function alone, whatever else the account runs, unless the deployment reserves none
(``escalation_concurrency`` 0: an account whose concurrency quota is too small).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from oncall.settings import RUNTIME_ENVIRONMENT, Env

from infra.config import TocsinConfig
from infra.data import DataStore
from infra.layer import ARCHITECTURE, RUNTIME
from infra.sources import function_dir, telemetry

if TYPE_CHECKING:  # observability names TocsinFunction too
    from infra.observability import Observability

METRICS_NAMESPACE = telemetry.DEFAULT_NAMESPACE
_CODE_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo", ".pytest_cache"]


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/; the handler is handler.handler
    description: str
    memory_mb: int = 256
    timeout_seconds: int = 10
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Foundation:
    """What every function of the stack is built on: the table, the core layer and the deployment's settings."""

    data: DataStore
    layer: lambda_.ILayerVersion
    config: TocsinConfig


class TocsinFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        foundation: Foundation,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        config = foundation.config
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
            Env.TABLE: foundation.data.table.table_name,
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
            layers=[foundation.layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            environment=environment,
            reserved_concurrent_executions=(reserved_concurrency or None) if config.escalation_concurrency else None,
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

    def watch(self, observability: Observability) -> None:
        """Alarms: the function's failed invocations (errors, timeouts) and throttles."""
        observability.watch_function(self.spec.name, self.function)
