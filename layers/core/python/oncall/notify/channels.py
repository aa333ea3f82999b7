"""Sending notifications: the :class:`Notifier` port, its AWS adapter, and outgoing webhooks (the local stack's
adapter is ``local.notifier``).

Webhooks go through the guarded client of :mod:`oncall.outbound` (public addresses, https, unless the environment
allows more). boto3, httpx and smtplib are imported on first use, so a cold Lambda pays only for the channels it
sends on (httpx alone costs ~100 ms to import). Failures raise :class:`NotificationFailed` with a short reason for
the group's timeline; reasons name at most a host, never a URL, which often carries a secret (Slack's does), and
never what the webhook answered.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from oncall.notify.compose import PRODUCT, Notification
from oncall.settings import Env

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient

    from oncall.outbound.client import Client


CONNECT_TIMEOUT: Final = 3.0  # SES, SNS and the local mail sink (webhooks: oncall.outbound's)
TIMEOUT: Final = 10.0
ATTEMPTS: Final = 3
BACKOFF: Final = 0.5  # seconds before the second attempt, doubled for each next one (with jitter)
MAX_RETRY_AFTER: Final = 10.0


class NotificationFailed(Exception):
    """Sending failed for good (retries included); ``str(error)`` is a short reason shown on the group's timeline."""


class Notifier(Protocol):
    def email(self, to: str, notification: Notification) -> None: ...
    def sms(self, to: str, notification: Notification) -> None: ...
    def phone_call(self, to: str, notification: Notification) -> None:
        """A text-to-speech call reading ``notification.voice``."""
        ...

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        """POST ``body`` as JSON; returns the HTTP status (2xx)."""
        ...

    def call_webhook(self, call: WebhookCall) -> WebhookAnswer:
        """One request of an outgoing webhook; raises :class:`WebhookFailed`."""
        ...


@dataclass(frozen=True)
class WebhookCall:
    """One request of an outgoing webhook, built from its templates (:mod:`oncall.webhook_delivery`)."""

    method: str
    url: str
    headers: Mapping[str, str]
    json: Any = None
    content: bytes | None = None  # a ``data`` template that did not render to JSON is sent as it is


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    content: str  # the start of the body (at most ``ANSWER_EXCERPT`` bytes), to show as the last response


class WebhookFailed(NotificationFailed):
    """No answer, or one that is not 2xx; ``retry``: worth another attempt later (5xx, 429, timeouts, no
    connection). ``status`` and ``content``: the answer, if there was one."""

    def __init__(
        self,
        reason: str,
        *,
        retry: bool,
        status: int | None = None,
        content: str | None = None,
        retry_after: float | None = None,  # seconds the server asked for (its Retry-After)
    ) -> None:
        super().__init__(reason)
        self.retry, self.status, self.content, self.retry_after = retry, status, content, retry_after


ANSWER_EXCERPT: Final = 2000


class Webhooks:
    """Requests to webhooks through the guarded client, shared by both notifiers. ``client`` is the seam for tests
    (a stub resolver, a mock transport)."""

    def __init__(self, client: Client | None = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> Client:
        if self._client is None:
            from oncall.outbound.client import Client

            self._client = Client()  # the policy from the environment
        return self._client

    def send(self, call: WebhookCall) -> WebhookAnswer:
        """One attempt (outgoing webhooks retry later, from their execution); raises :class:`WebhookFailed`."""
        import httpx

        from oncall.outbound import Refused

        host = _web_host(call.url)
        if host is None:
            raise WebhookFailed("the webhook URL is not an http(s) URL", retry=False)
        headers = {"User-Agent": PRODUCT, **call.headers}
        if any("\r" in value or "\n" in value for value in headers.values()):
            raise WebhookFailed(f"invalid webhook request to {host}", retry=False)  # header injection
        try:
            # Redirects are not followed: a moved webhook shows up as a failure.
            reply = self.client.request(
                call.method, call.url, json=call.json, content=call.content, headers=headers,
                max_bytes=ANSWER_EXCERPT, truncate=True,
            )  # fmt: skip
        except Refused as error:
            raise WebhookFailed(f"{error} ({host})", retry=False) from None
        except (httpx.InvalidURL, ValueError):  # ValueError: a header that is not ASCII, NaN in the body
            raise WebhookFailed(f"invalid webhook request to {host}", retry=False) from None
        except httpx.TimeoutException:
            raise WebhookFailed(f"the webhook at {host} timed out", retry=True) from None
        except httpx.ConnectError:
            raise WebhookFailed(f"could not connect to the webhook at {host}", retry=True) from None
        except httpx.HTTPError as error:
            raise WebhookFailed(f"the webhook at {host} failed ({type(error).__name__})", retry=False) from error
        if reply.is_success:
            return WebhookAnswer(reply.status_code, reply.text)
        retry = reply.status_code == 429 or reply.status_code >= 500
        raise WebhookFailed(
            f"the webhook at {host} answered {reply.status_code}", retry=retry, status=reply.status_code,
            content=reply.text, retry_after=_retry_after(reply.headers.get("retry-after"), reply.headers.get("date")),
        )  # fmt: skip

    def post(self, url: str, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> int:
        """POST ``body`` as JSON, with up to ``ATTEMPTS`` attempts right away (personal webhooks)."""
        reason = ""
        for attempt in range(1, ATTEMPTS + 1):
            wait = BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # jitter spreads out retry storms
            try:
                return self.send(WebhookCall("POST", url, headers or {}, json=body)).status
            except WebhookFailed as failed:
                if not failed.retry:
                    raise NotificationFailed(str(failed)) from None
                reason = str(failed)
                if failed.retry_after is not None:
                    wait = failed.retry_after
            if attempt < ATTEMPTS:
                self._sleep(wait)
        raise NotificationFailed(f"{reason} ({ATTEMPTS} attempts)")


class AwsNotifier:
    """E-mail through SES v2, SMS through SNS, phone calls through AWS End User Messaging SMS and Voice v2
    (``SendVoiceMessage`` from ``voice_origination``, a phone number or pool of the account that can place voice
    calls), webhooks through the guarded client."""

    def __init__(
        self,
        *,
        sender: str | None = None,
        configuration_set: str | None = None,
        ses: SESV2Client | None = None,
        sns: SNSClient | None = None,
        voice: PinpointSMSVoiceV2Client | None = None,
        voice_origination: str | None = None,
        http: Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sender = sender
        self.configuration_set = configuration_set  # SES events (bounces, complaints) of these mails go there
        self._ses = ses
        self._sns = sns
        self._voice = voice
        self.voice_origination = voice_origination
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

    @property
    def voice(self) -> PinpointSMSVoiceV2Client:
        if self._voice is None:
            self._voice = _boto_client("pinpoint-sms-voice-v2")
        return self._voice

    def email(self, to: str, notification: Notification) -> None:
        if not self.sender:
            raise NotificationFailed(f"no sender address for e-mail: set {Env.EMAIL_FROM}")
        tracked: dict[str, Any] = {"ConfigurationSetName": self.configuration_set} if self.configuration_set else {}
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

    def phone_call(self, to: str, notification: Notification) -> None:
        if not self.voice_origination:
            raise NotificationFailed(f"no phone number to call from: set {Env.VOICE_ORIGINATION}")
        with _aws_errors("End User Messaging"):
            self.voice.send_voice_message(
                DestinationPhoneNumber=to,
                OriginationIdentity=self.voice_origination,
                MessageBody=notification.voice,
                MessageBodyTextType="TEXT",
            )

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        return self.webhooks.post(url, body, headers)

    def call_webhook(self, call: WebhookCall) -> WebhookAnswer:
        return self.webhooks.send(call)


def _web_host(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") and parts.hostname else None


def _retry_after(value: str | None, sent: str | None) -> float | None:
    """Seconds to wait from a Retry-After header, at most ``MAX_RETRY_AFTER``; None when it says nothing usable.

    An HTTP date counts from the response's own ``Date`` (RFC 9110 lets a recipient do so), not from this machine's
    clock: both dates are the server's, so a clock skew between us cannot stretch or cancel the wait. A date
    without a ``Date`` to count from says nothing usable (the backoff applies)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        when, now = _http_date(value), _http_date(sent)
        if when is None or now is None:
            return None
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _http_date(value: str | None) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # "-0000" dates: RFC 9110 dates are GMT


def _boto_client(service: Literal["sesv2", "sns", "pinpoint-sms-voice-v2"]) -> Any:
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
