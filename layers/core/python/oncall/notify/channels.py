"""Sending notifications: the :class:`Notifier` port, its AWS and local adapters, and outgoing webhooks.

boto3, httpx and smtplib are imported on first use, so a cold Lambda pays only for the channels it sends on
(httpx alone costs ~100 ms to import). Failures raise :class:`NotificationFailed` with a short reason for the
group's timeline; reasons name at most a host, never a URL, which often carries a secret (Slack's does).
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from oncall.notify.compose import PRODUCT, Notification

if TYPE_CHECKING:
    import httpx
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient

NOTIFIER_ENV: Final = "TOCSIN_NOTIFIER"  # "local": LocalNotifier, anything else: AwsNotifier
EMAIL_FROM_ENV: Final = "TOCSIN_EMAIL_FROM"
# The SES configuration set whose event destination reports bounces, complaints and delays (infra/notifications.py)
CONFIGURATION_SET_ENV: Final = "TOCSIN_SES_CONFIGURATION_SET"
SMTP_HOST_ENV: Final = "TOCSIN_SMTP_HOST"
SMTP_PORT_ENV: Final = "TOCSIN_SMTP_PORT"
LOCAL_SENDER: Final = "tocsin@localhost"

CONNECT_TIMEOUT: Final = 3.0
TIMEOUT: Final = 10.0  # httpx applies it to each read and write, so a slow-drip server can stretch an attempt
ATTEMPTS: Final = 3
BACKOFF: Final = 0.5  # seconds before the second attempt, doubled for each next one (with jitter)
MAX_RETRY_AFTER: Final = 10.0


class NotificationFailed(Exception):
    """Sending failed for good (retries included); ``str(error)`` is a short reason shown on the group's timeline."""


class Notifier(Protocol):
    def email(self, to: str, notification: Notification) -> None: ...
    def sms(self, to: str, notification: Notification) -> None: ...
    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        """POST ``body`` as JSON; returns the HTTP status (2xx)."""
        ...


class Webhooks:
    """JSON POSTs with retries, shared by both notifiers. ``client`` is the transport seam for tests."""

    def __init__(self, client: httpx.Client | None = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client()  # follows no redirects: a moved webhook shows up as a failure
        return self._client

    def post(self, url: str, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> int:
        import httpx

        host = _web_host(url)
        if host is None:
            raise NotificationFailed("the webhook URL is not an http(s) URL")
        all_headers = {"User-Agent": PRODUCT, **(headers or {})}
        invalid = NotificationFailed(f"invalid webhook request to {host}")
        if any("\r" in value or "\n" in value for value in all_headers.values()):
            raise invalid  # header injection; httpx leaves this check to the transport
        try:
            request = self.client.build_request(
                "POST", url, json=body, headers=all_headers, timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT)
            )
        except (httpx.InvalidURL, ValueError):  # ValueError: a header that is not ASCII, NaN in the body
            raise invalid from None
        for attempt in range(1, ATTEMPTS + 1):
            wait = BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # jitter spreads out retry storms
            try:
                # Streamed and closed unread: only the status matters, whatever the size of the body.
                response = self.client.send(request, stream=True)
                response.close()
            except httpx.TimeoutException:
                reason = f"the webhook at {host} timed out"
            except httpx.ConnectError:
                reason = f"could not connect to the webhook at {host}"
            except httpx.HTTPError as error:
                raise NotificationFailed(f"the webhook at {host} failed ({type(error).__name__})") from error
            else:
                if response.is_success:
                    return response.status_code
                reason = f"the webhook at {host} answered {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    raise NotificationFailed(reason)
                wait = _retry_after(response.headers.get("retry-after"), default=wait)
            if attempt < ATTEMPTS:
                self._sleep(wait)
        raise NotificationFailed(f"{reason} ({ATTEMPTS} attempts)")


class AwsNotifier:
    """E-mail through SES v2, SMS through SNS, webhooks through httpx."""

    def __init__(
        self,
        *,
        sender: str | None = None,
        ses: SESV2Client | None = None,
        sns: SNSClient | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sender = sender or os.environ.get(EMAIL_FROM_ENV)
        self.configuration_set = os.environ.get(CONFIGURATION_SET_ENV) or None
        self._ses = ses
        self._sns = sns
        self.webhooks = Webhooks(http, sleep=sleep)

    @property
    def ses(self) -> SESV2Client:
        if self._ses is None:
            self._ses = _boto_client("sesv2")
        return self._ses

    @property
    def sns(self) -> SNSClient:
        if self._sns is None:
            self._sns = _boto_client("sns")
        return self._sns

    def email(self, to: str, notification: Notification) -> None:
        if not self.sender:
            raise NotificationFailed(f"no sender address for e-mail: set {EMAIL_FROM_ENV}")
        tracked = {"ConfigurationSetName": self.configuration_set} if self.configuration_set else {}
        with _aws_errors("SES"):
            self.ses.send_email(
                **tracked,
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": notification.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": notification.text, "Charset": "UTF-8"},
                            "Html": {"Data": notification.html, "Charset": "UTF-8"},
                        },
                    }
                },
            )

    def sms(self, to: str, notification: Notification) -> None:
        with _aws_errors("SNS"):
            self.sns.publish(
                PhoneNumber=to,
                Message=notification.sms,
                # Transactional: delivered with priority (and over opt-outs of marketing), as alerts must be.
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                },
            )

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        return self.webhooks.post(url, body, headers)


class OutboxWriter(Protocol):
    """Where the local stack records what it sent (:class:`local.outbox.Outbox`)."""

    def append(self, record: Mapping[str, Any]) -> Any: ...


class LocalNotifier:
    """The local stack: real SMTP to the local mail sink, SMS into the outbox, webhooks sent and recorded."""

    def __init__(
        self,
        outbox: OutboxWriter | None = None,
        *,
        smtp_host: str | None = None,
        smtp_port: int | None = None,
        sender: str | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if outbox is None:
            from local.outbox import Outbox  # the local stack only: the Lambda layer has no `local` package

            outbox = Outbox.from_env()
        self.outbox = outbox
        self.smtp_host = smtp_host or os.environ.get(SMTP_HOST_ENV) or "127.0.0.1"
        self.smtp_port = smtp_port or int(os.environ.get(SMTP_PORT_ENV) or 2525)
        self.sender = sender or os.environ.get(EMAIL_FROM_ENV) or LOCAL_SENDER
        self.webhooks = Webhooks(http, sleep=sleep)

    def email(self, to: str, notification: Notification) -> None:
        import smtplib
        from email.message import EmailMessage

        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = to
        except ValueError:  # e.g. a line break: header injection
            raise NotificationFailed("invalid e-mail address") from None
        message["Subject"] = notification.subject
        message.set_content(notification.text)
        message.add_alternative(notification.html, subtype="html")
        sink = f"{self.smtp_host}:{self.smtp_port}"
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=TIMEOUT) as smtp:
                smtp.send_message(message, to_addrs=[to])
        except smtplib.SMTPResponseException as error:
            raise NotificationFailed(f"the mail sink at {sink} answered {error.smtp_code}") from error
        except smtplib.SMTPRecipientsRefused as error:
            raise NotificationFailed(f"the mail sink at {sink} refused the recipient") from error
        except OSError as error:  # smtplib.SMTPException included
            raise NotificationFailed(f"could not send through the mail sink at {sink}") from error

    def sms(self, to: str, notification: Notification) -> None:
        self.outbox.append({"channel": "sms", "to": to, "text": notification.sms})

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        record = {"channel": "webhook", "to": url, "body": body}
        try:
            status = self.webhooks.post(url, body, headers)
        except NotificationFailed as error:
            self.outbox.append({**record, "error": str(error)})
            raise
        self.outbox.append({**record, "status": status})
        return status


def notifier_from_env() -> Notifier:
    return LocalNotifier() if os.environ.get(NOTIFIER_ENV) == "local" else AwsNotifier()


def _web_host(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") and parts.hostname else None


def _retry_after(value: str | None, *, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), at most ``MAX_RETRY_AFTER``."""
    if value is None:
        return default
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # "-0000" dates: RFC 9110 dates are GMT
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _boto_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=TIMEOUT, retries={"mode": "standard"})
    return boto3.client(service, config=config)


@contextmanager
def _aws_errors(service: str) -> Iterator[None]:
    """Boto errors as :class:`NotificationFailed`, by error code only (their messages may quote addresses)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise NotificationFailed(f"{service} refused: {code}") from error
    except BotoCoreError as error:
        raise NotificationFailed(f"{service} could not be reached ({type(error).__name__})") from error
