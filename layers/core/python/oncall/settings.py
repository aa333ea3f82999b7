"""The runtime settings of a deployment, read from the environment once per execution environment.

Every setting the Lambda functions (and the local stack, which runs the same handlers) read is a field here, with
its variable and default; nothing else in the layer reads ``os.environ``. The CDK stack sets these variables
(``infra/``), the local stack sets them in ``local/__main__.py``.

A frozen dataclass parsed by hand, not pydantic-settings: importing pydantic-settings pulls in asyncio and costs
~350 ms of cold start, more than the whole ingest budget (120 ms).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from oncall.errors import TocsinError
from oncall.store.schema import DEFAULT_TABLE_NAME, TABLE_NAME_ENV

DEFAULT_RETENTION_DAYS: Final = 90


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


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    table_name: str = DEFAULT_TABLE_NAME  # TOCSIN_TABLE: the one DynamoDB table
    retention_days: int = DEFAULT_RETENTION_DAYS  # TOCSIN_RETENTION_DAYS: raw alerts expire after this (TTL)
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(300, 300))  # TOCSIN_RATE_LIMIT, per integration
    ingest_sync_seconds: float = 1.0  # TOCSIN_INGEST_SYNC_SECONDS: how often a container reports its alert count
    api_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(300, 60))  # TOCSIN_API_RATE_LIMIT, per key
    public_url: str = ""  # TOCSIN_PUBLIC_URL: where people reach this deployment (links in notifications)
    email_from: str | None = None  # TOCSIN_EMAIL_FROM: sender of notification e-mail
    inbound_email_domain: str | None = None  # TOCSIN_INBOUND_EMAIL_DOMAIN: domain of inbound e-mail integrations
    state_machine_arn: str | None = None  # TOCSIN_STATE_MACHINE_ARN: escalations (none: escalations do not run)
    maintenance_end_arn: str | None = None  # TOCSIN_MAINTENANCE_END_ARN: target of maintenance-end schedules
    schedule_group: str = "default"  # TOCSIN_SCHEDULE_GROUP: EventBridge Scheduler group of those schedules
    scheduler_role_arn: str = ""  # TOCSIN_SCHEDULER_ROLE_ARN: the role the schedules invoke with
    signing_key: str | None = None  # TOCSIN_SIGNING_KEY: signs action links, sessions, feeds (local stack)
    signing_secret_arn: str | None = None  # TOCSIN_SIGNING_SECRET_ARN: ... or the secret holding it (AWS)
    outbound_allow_http: bool = False  # TOCSIN_OUTBOUND_ALLOW_HTTP: plain http to user-given URLs
    outbound_allow_loopback: bool = False  # TOCSIN_OUTBOUND_ALLOW_LOOPBACK: loopback targets (local stack only)
    email_bucket: str | None = None  # TOCSIN_MAIL_BUCKET: where SES stores received mail
    email_prefix: str = ""  # TOCSIN_MAIL_PREFIX: ... under this key prefix

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
            table_name=text(TABLE_NAME_ENV) or DEFAULT_TABLE_NAME,
            retention_days=int(number("TOCSIN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
            rate_limit=RateLimit.parse(text("TOCSIN_RATE_LIMIT") or "300/300", "TOCSIN_RATE_LIMIT", 300),
            ingest_sync_seconds=number("TOCSIN_INGEST_SYNC_SECONDS", 1.0),
            api_rate_limit=RateLimit.parse(text("TOCSIN_API_RATE_LIMIT") or "300/60", "TOCSIN_API_RATE_LIMIT"),
            public_url=(text("TOCSIN_PUBLIC_URL") or "").rstrip("/"),
            email_from=text("TOCSIN_EMAIL_FROM"),
            inbound_email_domain=text("TOCSIN_INBOUND_EMAIL_DOMAIN"),
            state_machine_arn=text("TOCSIN_STATE_MACHINE_ARN"),
            maintenance_end_arn=text("TOCSIN_MAINTENANCE_END_ARN"),
            schedule_group=text("TOCSIN_SCHEDULE_GROUP") or "default",
            scheduler_role_arn=text("TOCSIN_SCHEDULER_ROLE_ARN") or "",
            signing_key=text("TOCSIN_SIGNING_KEY"),
            signing_secret_arn=text("TOCSIN_SIGNING_SECRET_ARN"),
            outbound_allow_http=_flag(environ.get("TOCSIN_OUTBOUND_ALLOW_HTTP")),
            outbound_allow_loopback=_flag(environ.get("TOCSIN_OUTBOUND_ALLOW_LOOPBACK")),
            email_bucket=text("TOCSIN_MAIL_BUCKET"),
            email_prefix=text("TOCSIN_MAIL_PREFIX") or "",
        )
