"""The runtime settings of a deployment, read from the environment once per execution environment.

Every variable the Lambda functions read is named in :class:`Env` and parsed into a field of :class:`Settings`;
nothing else in the layer reads them. A handler's :class:`~oncall.container.Container` reads them when it is made;
what runs outside a container (the template limits, metrics publishing, log setup) reads :func:`environment`,
parsed once per execution environment. The CDK stack sets them (``infra/``, through the same names), the local stack
in ``local/__main__.py``.

A frozen dataclass parsed by hand, not pydantic-settings: importing pydantic-settings pulls in asyncio and costs
~350 ms of cold start, more than the whole ingest budget (120 ms).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from oncall.errors import TocsinError
from oncall.store.schema import DEFAULT_RETENTION_DAYS, DEFAULT_TABLE_NAME, RETENTION_DAYS_ENV, TABLE_NAME_ENV


class Env:
    """The environment variables of the functions: one name each, for the stack that sets them and the code."""

    TABLE = TABLE_NAME_ENV
    RETENTION_DAYS = RETENTION_DAYS_ENV
    RATE_LIMIT = "TOCSIN_RATE_LIMIT"
    INGEST_SYNC_SECONDS = "TOCSIN_INGEST_SYNC_SECONDS"
    API_RATE_LIMIT = "TOCSIN_API_RATE_LIMIT"
    PUBLIC_URL = "TOCSIN_PUBLIC_URL"
    EMAIL_FROM = "TOCSIN_EMAIL_FROM"
    SES_CONFIGURATION_SET = "TOCSIN_SES_CONFIGURATION_SET"
    VOICE_ORIGINATION = "TOCSIN_VOICE_ORIGINATION"
    INBOUND_EMAIL_DOMAIN = "TOCSIN_INBOUND_EMAIL_DOMAIN"
    STATE_MACHINE_ARN = "TOCSIN_STATE_MACHINE_ARN"
    MAINTENANCE_END_ARN = "TOCSIN_MAINTENANCE_END_ARN"
    SCHEDULE_GROUP = "TOCSIN_SCHEDULE_GROUP"
    SCHEDULER_ROLE_ARN = "TOCSIN_SCHEDULER_ROLE_ARN"
    SIGNING_KEY = "TOCSIN_SIGNING_KEY"
    SIGNING_SECRET_ARN = "TOCSIN_SIGNING_SECRET_ARN"
    OUTBOUND_ALLOW_HTTP = "TOCSIN_OUTBOUND_ALLOW_HTTP"
    OUTBOUND_ALLOW_LOOPBACK = "TOCSIN_OUTBOUND_ALLOW_LOOPBACK"
    MAIL_BUCKET = "TOCSIN_MAIL_BUCKET"
    MAIL_PREFIX = "TOCSIN_MAIL_PREFIX"
    MAIL_FAILED_PREFIX = "TOCSIN_MAIL_FAILED_PREFIX"
    DEADMAN_URL = "TOCSIN_DEADMAN_URL"
    ALARM_DESTINATION = "TOCSIN_ALARM_DESTINATION"
    TRACING = "TOCSIN_TRACING"
    TEMPLATE_MAX_LENGTH = "TOCSIN_TEMPLATE_MAX_LENGTH"
    TEMPLATE_RESULT_MAX_LENGTH = "TOCSIN_TEMPLATE_RESULT_MAX_LENGTH"
    TEMPLATE_TITLE_MAX_LENGTH = "TOCSIN_TEMPLATE_TITLE_MAX_LENGTH"
    TEMPLATE_TIME_BUDGET = "TOCSIN_TEMPLATE_TIME_BUDGET"
    METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"  # Powertools' own name
    LAMBDA_FUNCTION = "AWS_LAMBDA_FUNCTION_NAME"  # set by the Lambda runtime, never by the local stack


DEFAULT_METRICS_NAMESPACE: Final = "Tocsin"
# In every function's environment whatever the deployment (the CDK stack and the local stack both set it): pydantic
# (api, web, escalation) would otherwise read every installed package's metadata for plugins at its first import,
# a cold-start cost for nothing.
RUNTIME_ENVIRONMENT: Final = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}


class InvalidSetting(TocsinError):
    """A variable holds a value its setting cannot take: the deployment is misconfigured."""


@dataclass(frozen=True)
class RateLimit:
    """``count`` requests per ``seconds``, written ``"count/seconds"``."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str, name: str = "rate limit", default_seconds: int = 60) -> RateLimit:
        count, _, seconds = text.partition("/")
        try:
            limit = cls(int(count), int(seconds or default_seconds))
        except ValueError:
            raise InvalidSetting(f"{name} must look like 300/60 (requests/seconds), not {text!r}") from None
        if limit.count < 1 or limit.seconds < 1:
            raise InvalidSetting(f"{name} must be positive, not {text!r}")
        return limit


@dataclass(frozen=True)
class TemplateLimits:
    """The limits of a template and of one render (:mod:`oncall.templating.limits`)."""

    template_max_length: int = 50_000
    result_max_length: int = 50_000
    title_max_length: int = 500
    time_budget: float = 0.5  # seconds of CPU time of one render; 0 or less: no limit (debugging)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    table_name: str = DEFAULT_TABLE_NAME  # the one DynamoDB table
    retention_days: int = DEFAULT_RETENTION_DAYS  # raw alerts expire (TTL) after this many days
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(300, 300))  # alerts per integration
    ingest_sync_seconds: float = 1.0  # how often an ingest container reports its alert count
    api_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(300, 60))  # API requests per key
    public_url: str = ""  # where people reach this deployment (links in notifications)
    email_from: str | None = None  # sender of notification e-mail
    ses_configuration_set: str | None = None  # reports SES bounces, complaints and delays
    voice_origination: str | None = None  # the End User Messaging phone number or pool that places calls
    inbound_email_domain: str | None = None  # domain of inbound e-mail integrations
    state_machine_arn: str | None = None  # escalations (none: escalations do not run)
    maintenance_end_arn: str | None = None  # target of maintenance-end schedules (none: windows end when stopped)
    schedule_group: str = "default"  # the EventBridge Scheduler group of those schedules
    scheduler_role_arn: str = ""  # the role the schedules invoke with
    signing_key: str | None = None  # signs action links, console sessions, feed URLs (local stack) ...
    signing_secret_arn: str | None = None  # ... or the Secrets Manager secret holding it (AWS)
    outbound_allow_http: bool = False  # plain http to user-given URLs (the local stack)
    outbound_allow_loopback: bool = False  # loopback targets for user-given URLs (the local stack)
    email_bucket: str = ""  # where SES stores received mail
    email_prefix: str = ""  # ... under this key prefix
    email_failed_prefix: str = "failed/"  # where mail that became no alert is kept
    deadman_url: str | None = None  # the minute sweep pings it (the dead-man's switch)
    alarms_reach_nobody: bool = False  # the stack's alarms have no destination: the console warns
    tracing: bool = False  # X-Ray traces (Powertools Tracer)
    template_limits: TemplateLimits = field(default_factory=TemplateLimits)
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE  # the CloudWatch namespace of the metrics (the alarms watch it)
    in_lambda: bool = False  # running in AWS Lambda (not the local stack, not a test)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def text(name: str) -> str | None:
            return (environ.get(name) or "").strip() or None

        def number(name: str, default: float) -> float:
            raw = text(name)
            try:
                return default if raw is None else float(raw)
            except ValueError:
                raise InvalidSetting(f"{name} must be a number, not {raw!r}") from None

        return cls(
            table_name=text(Env.TABLE) or DEFAULT_TABLE_NAME,
            retention_days=int(number(Env.RETENTION_DAYS, DEFAULT_RETENTION_DAYS)),
            rate_limit=RateLimit.parse(text(Env.RATE_LIMIT) or "300/300", Env.RATE_LIMIT, 300),
            ingest_sync_seconds=number(Env.INGEST_SYNC_SECONDS, 1.0),
            api_rate_limit=RateLimit.parse(text(Env.API_RATE_LIMIT) or "300/60", Env.API_RATE_LIMIT),
            public_url=(text(Env.PUBLIC_URL) or "").rstrip("/"),
            email_from=text(Env.EMAIL_FROM),
            ses_configuration_set=text(Env.SES_CONFIGURATION_SET),
            voice_origination=text(Env.VOICE_ORIGINATION),
            inbound_email_domain=text(Env.INBOUND_EMAIL_DOMAIN),
            state_machine_arn=text(Env.STATE_MACHINE_ARN),
            maintenance_end_arn=text(Env.MAINTENANCE_END_ARN),
            schedule_group=text(Env.SCHEDULE_GROUP) or "default",
            scheduler_role_arn=text(Env.SCHEDULER_ROLE_ARN) or "",
            signing_key=text(Env.SIGNING_KEY),
            signing_secret_arn=text(Env.SIGNING_SECRET_ARN),
            outbound_allow_http=_flag(environ.get(Env.OUTBOUND_ALLOW_HTTP)),
            outbound_allow_loopback=_flag(environ.get(Env.OUTBOUND_ALLOW_LOOPBACK)),
            email_bucket=text(Env.MAIL_BUCKET) or "",
            email_prefix=text(Env.MAIL_PREFIX) or "",
            email_failed_prefix=text(Env.MAIL_FAILED_PREFIX) or "failed/",
            deadman_url=text(Env.DEADMAN_URL),
            alarms_reach_nobody=text(Env.ALARM_DESTINATION) == "none",
            tracing=_flag(environ.get(Env.TRACING)),
            template_limits=TemplateLimits(
                template_max_length=int(number(Env.TEMPLATE_MAX_LENGTH, TemplateLimits.template_max_length)),
                result_max_length=int(number(Env.TEMPLATE_RESULT_MAX_LENGTH, TemplateLimits.result_max_length)),
                title_max_length=int(number(Env.TEMPLATE_TITLE_MAX_LENGTH, TemplateLimits.title_max_length)),
                time_budget=number(Env.TEMPLATE_TIME_BUDGET, TemplateLimits.time_budget),
            ),
            metrics_namespace=text(Env.METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE,
            in_lambda=bool(text(Env.LAMBDA_FUNCTION)),
        )


@functools.cache
def environment() -> Settings:
    """This execution environment's settings, read once, for what runs outside a handler's container."""
    return Settings.from_env()
