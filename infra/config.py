"""Deployment settings of the Tocsin stack.

Each setting is read from CDK context first (``cdk deploy -c rate_limit=600/300`` or ``cdk.json`` ->
``context``), then from the environment variable ``TOCSIN_<KEY>`` (upper case), then the default below.

| key                     | default      | meaning                                                               |
|-------------------------|--------------|-----------------------------------------------------------------------|
| ``retention_days``      | 90           | raw alerts expire (DynamoDB TTL) after this many days; groups are kept|
| ``rate_limit``          | ``300/300``  | per-integration ingest limit, ``<requests>/<seconds>``                |
| ``log_retention_days``  | 30           | CloudWatch Logs retention of function and access logs (a valid value) |
| ``ingest_throttle``     | ``100/200``  | API Gateway limit of each ingest route, ``<rate per second>/<burst>`` |
| ``api_throttle``        | ``25/50``    | the same for the management API and action links                      |
| ``web_throttle``        | ``25/50``    | the same for the web console                                          |
| ``alarm_email``         | (none)       | address(es), comma-separated, subscribed to the alarm topic; without  |
|                         |              | one ``cdk deploy`` and the console warn that alarms reach nobody      |
| ``deadman_url``         | (none)       | dead-man's switch: the minute sweep GETs this URL (another Tocsin's or|
|                         |              | OnCall's heartbeat URL, healthchecks.io, ...) so a second system pages|
|                         |              | when this one stops                                                   |
| ``escalation_concurrency``| 20         | reserved Lambda concurrency of escalation_step (escalations and       |
|                         |              | notifications); 0: none (accounts whose concurrency quota is small)   |
| ``sms_spend_limit_usd`` | 1            | the account's SNS SMS monthly spend limit; alarm at 80 % of it        |
| ``tracing``             | false        | X-Ray: active tracing of functions and state machine, Powertools Tracer|
| ``domain_name``         | (none)       | custom domain of the HTTP API (e.g. ``oncall.example.com``)           |
| ``certificate_arn``     | (none)       | its ACM certificate (same region); unset: one is created (DNS)        |
| ``hosted_zone_id``,     | (none)       | the Route 53 zone of ``domain_name``: validates the created           |
| ``hosted_zone_name``    |              | certificate and gets an alias record                                  |
| ``email_from``          | (none)       | From address of notification e-mails (SES-verified address or domain);|
|                         |              | unset: the escalation function gets no SES permission (no e-mail)     |
| ``inbound_email_domain``| (none)       | domain whose mail SES receives for inbound_email integrations         |
|                         |              | (``<token>@<domain>``); unset: no receipt rule, bucket or email_ingest|
| ``voice_origination``   | (none)       | the End User Messaging SMS and Voice phone number (E.164, its id or   |
|                         |              | ARN) or pool (id or ARN) that places phone calls; unset: no voice     |
|                         |              | permission, and phone-call rules fail with that reason                |
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.sources import http_routes, schema

Throttle = http_routes.Throttle

_RATE_LIMIT = re.compile(r"^[1-9][0-9]*/[1-9][0-9]*$")
# A bare address (no display name). It also names the SES identities that the escalation function may send as,
# so IAM wildcard characters (* ?) and other exotic local parts are refused.
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9._%+-]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")
_DOMAIN = re.compile(rf"^{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
# An End User Messaging origination identity: a phone number (E.164), a phone number or pool id, or its ARN.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_VOICE_ID = re.compile(r"^(phone|pool)-[0-9a-f]{32}$")
_VOICE_ARN = re.compile(r"^arn:aws[a-z-]*:sms-voice:[a-z0-9-]+:[0-9]{12}:(phone-number/phone|pool/pool)-[0-9a-f]{32}$")
# CloudWatch Logs retention periods (days) -> aws_logs.RetentionDays member.
_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip
# Settings that were replaced: naming one is an error that says what to use instead (never silently ignored).
_REPLACED = {
    "api_throttle_rate": "ingest_throttle, api_throttle and web_throttle (each '<rate>/<burst>', per route)",
    "api_throttle_burst": "ingest_throttle, api_throttle and web_throttle (each '<rate>/<burst>', per route)",
}


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class TocsinConfig:
    retention_days: int = schema.DEFAULT_RETENTION_DAYS
    rate_limit: str = "300/300"
    log_retention_days: int = 30
    ingest_throttle: Throttle = http_routes.THROTTLES["ingest"]
    api_throttle: Throttle = http_routes.THROTTLES["api"]
    web_throttle: Throttle = http_routes.THROTTLES["web"]
    alarm_email: str | None = None
    deadman_url: str | None = None
    escalation_concurrency: int = 20
    sms_spend_limit_usd: float = 1.0
    tracing: bool = False
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    email_from: str | None = None
    inbound_email_domain: str | None = None
    voice_origination: str | None = None

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError(f"retention_days must be >= 1, got {self.retention_days}")
        if not _RATE_LIMIT.match(self.rate_limit):
            raise ValueError(
                f"rate_limit must look like '<requests>/<seconds>', e.g. '300/300', got {self.rate_limit!r}"
            )
        _ = self.log_retention  # validates log_retention_days
        for address in self.alarm_emails:
            if not _EMAIL.match(address):
                raise ValueError(f"alarm_email must be e-mail addresses separated by commas, got {address!r}")
        if self.deadman_url is not None:
            parts = urlsplit(self.deadman_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"deadman_url must be an http(s) URL, got {self.deadman_url!r}")
        if self.escalation_concurrency < 0:
            raise ValueError(f"escalation_concurrency must be >= 0, got {self.escalation_concurrency}")
        if self.sms_spend_limit_usd <= 0:
            raise ValueError(f"sms_spend_limit_usd must be > 0, got {self.sms_spend_limit_usd}")
        self._check_domain()
        if self.voice_origination is not None and not any(
            pattern.match(self.voice_origination) for pattern in (_E164, _VOICE_ID, _VOICE_ARN)
        ):
            raise ValueError(
                "voice_origination must be a phone number in E.164 form (+15550100), a phone number or pool id "
                f"(phone-..., pool-...) or its ARN, got {self.voice_origination!r}"
            )
        if self.email_from is not None and not _EMAIL.match(self.email_from):
            raise ValueError(
                f"email_from must be a bare e-mail address such as 'oncall@example.com', got {self.email_from!r}"
            )
        if self.inbound_email_domain is not None and not _DOMAIN.match(self.inbound_email_domain):
            raise ValueError(
                "inbound_email_domain must be a domain name such as 'alerts.example.com', "
                f"got {self.inbound_email_domain!r}"
            )

    def _check_domain(self) -> None:
        if self.domain_name is None:
            if self.certificate_arn or self.hosted_zone_id or self.hosted_zone_name:
                raise ValueError("certificate_arn, hosted_zone_id and hosted_zone_name need domain_name")
            return
        if not _DOMAIN.match(self.domain_name):
            raise ValueError(
                f"domain_name must be a domain name such as 'oncall.example.com', got {self.domain_name!r}"
            )
        if self.certificate_arn is not None and not _ACM_ARN.match(self.certificate_arn):
            raise ValueError(f"certificate_arn must be an ACM certificate ARN, got {self.certificate_arn!r}")
        if (self.hosted_zone_id is None) != (self.hosted_zone_name is None):
            raise ValueError("hosted_zone_id and hosted_zone_name go together")
        if self.hosted_zone_id is not None and not _ZONE_ID.match(self.hosted_zone_id):
            raise ValueError(
                f"hosted_zone_id must be a Route 53 zone id such as 'Z0123ABC', got {self.hosted_zone_id!r}"
            )
        zone = (self.hosted_zone_name or "").rstrip(".").lower()
        if zone and not (self.domain_name.lower() == zone or self.domain_name.lower().endswith("." + zone)):
            raise ValueError(f"domain_name {self.domain_name!r} is not in the hosted zone {zone!r}")

    @property
    def alarm_emails(self) -> list[str]:
        return [a.strip() for a in (self.alarm_email or "").split(",") if a.strip()]

    @property
    def email_domain(self) -> str | None:
        """The domain of ``email_from`` (SES authorizes sending as a verified address or its verified domain)."""
        return self.email_from.rsplit("@", 1)[1] if self.email_from else None

    @property
    def throttles(self) -> dict[str, Throttle]:
        """Route class -> throttle of each of its routes (see ``oncall.http_routes``)."""
        return {"ingest": self.ingest_throttle, "api": self.api_throttle, "web": self.web_throttle}

    @property
    def public_url(self) -> str | None:
        """``https://<domain_name>`` with a custom domain: what monitors and notification links use."""
        return f"https://{self.domain_name}" if self.domain_name else None

    @property
    def log_retention(self) -> logs.RetentionDays:
        try:
            return getattr(logs.RetentionDays, _RETENTION_NAMES[self.log_retention_days])
        except KeyError:
            raise ValueError(
                f"log_retention_days must be one of {sorted(_RETENTION_NAMES)}, got {self.log_retention_days}"
            ) from None

    @classmethod
    def from_scope(cls, scope: Construct) -> TocsinConfig:
        """Settings from the CDK context of ``scope``, the ``TOCSIN_*`` environment, then the defaults."""

        def get(key: str) -> Any:
            value = scope.node.try_get_context(key)
            if value is None:
                value = os.environ.get(f"TOCSIN_{key.upper()}")
            return value

        for key, replacement in _REPLACED.items():
            if get(key) not in (None, ""):
                raise ValueError(f"the setting {key} was replaced by {replacement}")
        converters: dict[str, Callable[[str], Any]] = {
            "retention_days": int,
            "rate_limit": str,
            "log_retention_days": int,
            "ingest_throttle": Throttle.parse,
            "api_throttle": Throttle.parse,
            "web_throttle": Throttle.parse,
            "alarm_email": str,
            "deadman_url": str,
            "escalation_concurrency": int,
            "sms_spend_limit_usd": float,
            "tracing": _flag,
            "domain_name": str,
            "certificate_arn": str,
            "hosted_zone_id": str,
            "hosted_zone_name": str,
            "email_from": str,
            "inbound_email_domain": str,
            "voice_origination": str,
        }
        values: dict[str, Any] = {}
        for key, convert in converters.items():
            raw = get(key)
            if raw is not None and raw != "":
                try:
                    values[key] = convert(str(raw)) if not isinstance(raw, bool) else raw
                except ValueError as error:
                    raise ValueError(f"setting {key}: {error}") from None
        return cls(**values)
