"""Deployment settings of the Tocsin stack.

Each setting is read from CDK context first (``cdk deploy -c rate_limit=600/300`` or ``cdk.json`` ->
``context``), then from the environment variable ``TOCSIN_<KEY>`` (upper case), then the default below.

| key                   | default    | meaning                                                                 |
|-----------------------|------------|-------------------------------------------------------------------------|
| ``retention_days``    | 30         | raw alerts expire (DynamoDB TTL) after this many days; groups are kept  |
| ``rate_limit``        | ``300/300``| per-integration ingest limit, ``<requests>/<seconds>``                  |
| ``log_retention_days``| 30         | CloudWatch Logs retention of function and access logs (a valid value)   |
| ``api_throttle_rate`` | 100        | HTTP API stage steady-state limit, requests per second                  |
| ``api_throttle_burst``| 200        | HTTP API stage burst limit                                              |
| ``alarm_email``       | (none)     | optional address subscribed to the alarm topic                          |
| ``email_from``        | (none)     | From address of notification e-mails (SES-verified address or domain);  |
|                       |            | unset: the escalation function gets no SES permission (no e-mail)       |
| ``inbound_email_domain``| (none)   | domain whose mail SES receives for inbound_email integrations           |
|                       |            | (``<token>@<domain>``); unset: no receipt rule, bucket or email_ingest  |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_logs as logs
from constructs import Construct

_RATE_LIMIT = re.compile(r"^[1-9][0-9]*/[1-9][0-9]*$")
# A bare address (no display name). It also names the SES identities that the escalation function may send as,
# so IAM wildcard characters (* ?) and other exotic local parts are refused.
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9._%+-]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")
_DOMAIN = re.compile(rf"^{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")
# CloudWatch Logs retention periods (days) -> aws_logs.RetentionDays member.
_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip


@dataclass(frozen=True)
class TocsinConfig:
    retention_days: int = 30
    rate_limit: str = "300/300"
    log_retention_days: int = 30
    api_throttle_rate: float = 100.0
    api_throttle_burst: int = 200
    alarm_email: str | None = None
    email_from: str | None = None
    inbound_email_domain: str | None = None

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError(f"retention_days must be >= 1, got {self.retention_days}")
        if not _RATE_LIMIT.match(self.rate_limit):
            raise ValueError(
                f"rate_limit must look like '<requests>/<seconds>', e.g. '300/300', got {self.rate_limit!r}"
            )
        if self.api_throttle_rate <= 0 or self.api_throttle_burst < 1:
            raise ValueError("api_throttle_rate must be > 0 and api_throttle_burst >= 1")
        _ = self.log_retention  # validates log_retention_days
        if self.email_from is not None and not _EMAIL.match(self.email_from):
            raise ValueError(
                f"email_from must be a bare e-mail address such as 'oncall@example.com', got {self.email_from!r}"
            )
        if self.inbound_email_domain is not None and not _DOMAIN.match(self.inbound_email_domain):
            raise ValueError(
                "inbound_email_domain must be a domain name such as 'alerts.example.com', "
                f"got {self.inbound_email_domain!r}"
            )

    @property
    def email_domain(self) -> str | None:
        """The domain of ``email_from`` (SES authorizes sending as a verified address or its verified domain)."""
        return self.email_from.rsplit("@", 1)[1] if self.email_from else None

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

        values: dict[str, Any] = {}
        for key, convert in (
            ("retention_days", int),
            ("rate_limit", str),
            ("log_retention_days", int),
            ("api_throttle_rate", float),
            ("api_throttle_burst", int),
            ("alarm_email", str),
            ("email_from", str),
            ("inbound_email_domain", str),
        ):
            raw = get(key)
            if raw is not None and raw != "":
                values[key] = convert(raw)
        return cls(**values)
