"""Notification channels: webhook retries (httpx MockTransport), the local SMTP sink and outbox, SES and SNS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from oncall.container import Container
from oncall.notify import compose
from oncall.notify.channels import ATTEMPTS, BACKOFF, MAX_RETRY_AFTER, AwsNotifier, NotificationFailed
from oncall.outbound.client import Client
from oncall.settings import Env

from local.dynamodb import free_port
from local.functions import use_local_adapters
from local.mail import MailServer
from local.notifier import LocalNotifier
from local.outbox import Outbox

URL = "https://hooks.example.com/services/T000/B000/secret-token"
NOTIFICATION = compose(
    "Disk full",
    "IABCDEFGHJKLM",
    "Prometheus",
    "firing",
    3,
    "/var is at 99%",
    "https://grafana.example/d/1",
    "https://tocsin.example/actions/ack-token",
    "https://tocsin.example/actions/resolve-token",
    "https://tocsin.example/alert_groups/IABCDEFGHJKLM",
    True,
)


class Server:
    """A scripted webhook receiver: answers (or raises) from ``script`` in order and records requests."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


def notifier(server: Server, sleeps: list[float]) -> AwsNotifier:
    return AwsNotifier(http=Client(transport=httpx.MockTransport(server)), sleep=sleeps.append)


def failure(call: Callable[[], object]) -> str:
    with pytest.raises(NotificationFailed) as caught:
        call()
    return str(caught.value)


# --- webhooks -------------------------------------------------------------------------------------------------


def test_webhook_posts_json_with_the_given_headers() -> None:
    server, sleeps = Server(httpx.Response(200)), []
    status = notifier(server, sleeps).webhook(URL, NOTIFICATION.slack_json, headers={"Authorization": "Bearer t"})
    assert status == 200
    (request,) = server.requests
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer t"
    assert request.headers["user-agent"] == "Tocsin"
    assert json.loads(request.content) == NOTIFICATION.slack_json
    assert request.extensions["timeout"] == {"connect": 3.0, "read": 10.0, "write": 10.0, "pool": 10.0}
    assert sleeps == []


def test_webhook_retries_5xx_then_succeeds() -> None:
    server, sleeps = Server(httpx.Response(503), httpx.Response(502), httpx.Response(204)), []
    assert notifier(server, sleeps).webhook(URL, {"a": 1}) == 204
    assert len(server.requests) == 3
    assert [json.loads(r.content) for r in server.requests] == [{"a": 1}] * 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # exponential backoff with jitter


def test_webhook_gives_up_after_the_last_attempt() -> None:
    server, sleeps = Server(httpx.Response(500)), []
    reason = failure(lambda: notifier(server, sleeps).webhook(URL, {}))
    assert reason == f"the webhook at hooks.example.com answered 500 ({ATTEMPTS} attempts)"
    assert "secret-token" not in reason  # the URL's path is often the credential
    assert len(server.requests) == ATTEMPTS
    assert len(sleeps) == ATTEMPTS - 1


def test_webhook_does_not_retry_a_client_error() -> None:
    server, sleeps = Server(httpx.Response(400)), []
    assert failure(lambda: notifier(server, sleeps).webhook(URL, {})) == "the webhook at hooks.example.com answered 400"
    assert len(server.requests) == 1
    assert sleeps == []


def test_webhook_does_not_follow_redirects() -> None:
    server, sleeps = Server(httpx.Response(301, headers={"location": "https://elsewhere.example/"})), []
    assert "answered 301" in failure(lambda: notifier(server, sleeps).webhook(URL, {}))
    assert len(server.requests) == 1


def test_webhook_honours_retry_after_up_to_a_cap() -> None:
    server, sleeps = (
        Server(
            httpx.Response(429, headers={"retry-after": "2"}),
            httpx.Response(503, headers={"retry-after": "3600"}),
            httpx.Response(200),
        ),
        [],
    )
    assert notifier(server, sleeps).webhook(URL, {}) == 200
    assert sleeps == [2.0, MAX_RETRY_AFTER]


def test_webhook_counts_a_retry_after_date_from_the_responses_own_date() -> None:
    sent = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # whatever this machine's clock says
    dates = {"date": format_datetime(sent, usegmt=True)}
    later = format_datetime(sent + timedelta(seconds=5), usegmt=True)
    server = Server(httpx.Response(429, headers={**dates, "retry-after": later}), httpx.Response(200))
    sleeps: list[float] = []
    assert notifier(server, sleeps).webhook(URL, {}) == 200
    assert sleeps == [5.0]
    past = format_datetime(sent - timedelta(hours=1), usegmt=True)  # already over: again at once
    server = Server(httpx.Response(503, headers={**dates, "retry-after": past}), httpx.Response(200))
    sleeps = []
    assert notifier(server, sleeps).webhook(URL, {}) == 200
    assert sleeps == [0.0]


def test_webhook_without_a_date_to_count_from_backs_off_as_usual() -> None:
    for retry_after in (format_datetime(datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC), usegmt=True), "soon"):
        server, sleeps = Server(httpx.Response(429, headers={"retry-after": retry_after}), httpx.Response(200)), []
        assert notifier(server, sleeps).webhook(URL, {}) == 200
        assert BACKOFF / 2 <= sleeps[0] <= BACKOFF, (retry_after, sleeps)


def test_webhook_timeout_is_retried_then_fails() -> None:
    server, sleeps = Server(httpx.ReadTimeout("slow")), []
    reason = failure(lambda: notifier(server, sleeps).webhook(URL, {}))
    assert reason == f"the webhook at hooks.example.com timed out ({ATTEMPTS} attempts)"
    assert len(server.requests) == ATTEMPTS


def test_webhook_connect_error_is_retried() -> None:
    server, sleeps = Server(httpx.ConnectError("refused"), httpx.Response(200)), []
    assert notifier(server, sleeps).webhook(URL, {}) == 200
    assert len(server.requests) == 2


def test_webhook_other_transport_errors_fail_at_once() -> None:
    server, sleeps = Server(httpx.RemoteProtocolError("garbage")), []
    assert failure(lambda: notifier(server, sleeps).webhook(URL, {})) == (
        "the webhook at hooks.example.com failed (RemoteProtocolError)"
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize("url", ["ftp://files.example/x", "not a url", "https://", "http://[::1"])
def test_webhook_refuses_urls_that_are_not_http(url: str) -> None:
    server = Server(httpx.Response(200))
    failure(lambda: notifier(server, []).webhook(url, {}))
    assert server.requests == []


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "clé"])
def test_webhook_refuses_a_header_it_cannot_send(value: str) -> None:
    server = Server(httpx.Response(200))
    reason = failure(lambda: notifier(server, []).webhook(URL, {}, headers={"X-Token": value}))
    assert reason == "invalid webhook request to hooks.example.com"
    assert server.requests == []


# --- the local stack: SMTP sink and outbox --------------------------------------------------------------------


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.jsonl")


@pytest.fixture
def smtp_port(outbox: Outbox) -> Iterator[int]:
    with MailServer(port=0, outbox=outbox) as server:
        yield server.port


def local(outbox: Outbox, port: int = 9, *responses: httpx.Response) -> LocalNotifier:
    transport = httpx.MockTransport(Server(*responses)) if responses else None
    http = Client(transport=transport) if transport else None
    return LocalNotifier(outbox, smtp_host="127.0.0.1", smtp_port=port, http=http, sleep=lambda _: None)


def test_local_email_goes_through_smtp_into_the_outbox(outbox: Outbox, smtp_port: int) -> None:
    local(outbox, smtp_port).email("alice@example.com", NOTIFICATION)
    (record,) = outbox.records()
    assert record["channel"] == "email"
    assert record["to"] == "alice@example.com"
    assert record["from"] == "tocsin@localhost"
    assert record["subject"] == "[Tocsin] [important] Disk full (3 alerts)"
    assert record["text"] == NOTIFICATION.text  # the plain-text part, not the HTML one
    assert record["size"] > len(NOTIFICATION.html)


def test_local_email_sender_and_sink_from_the_environment(
    outbox: Outbox, smtp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_EMAIL_FROM", "Tocsin <alerts@tocsin.test>")
    monkeypatch.setenv("TOCSIN_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("TOCSIN_OUTBOX", str(outbox.path))
    LocalNotifier.from_env().email("bob@example.com", NOTIFICATION)
    assert outbox.records()[0]["from"] == "Tocsin <alerts@tocsin.test>"


def test_local_email_without_a_mail_sink_fails(outbox: Outbox) -> None:
    port = free_port()
    assert failure(lambda: local(outbox, port).email("a@example.com", NOTIFICATION)) == (
        f"could not send through the mail sink at 127.0.0.1:{port}"
    )


def test_local_email_refuses_header_injection(outbox: Outbox, smtp_port: int) -> None:
    reason = failure(lambda: local(outbox, smtp_port).email("a@example.com\r\nBcc: all@example.com", NOTIFICATION))
    assert reason == "invalid e-mail address"
    assert outbox.records() == []


def test_local_sms_lands_in_the_outbox(outbox: Outbox) -> None:
    local(outbox).sms("+15555550100", NOTIFICATION)
    (record,) = outbox.records()
    assert record["channel"] == "sms"
    assert record["to"] == "+15555550100"
    assert record["text"] == NOTIFICATION.sms


def test_local_webhook_is_sent_and_recorded(outbox: Outbox) -> None:
    assert local(outbox, 9, httpx.Response(200)).webhook(URL, NOTIFICATION.webhook_json) == 200
    (record,) = outbox.records()
    assert record == {
        "at": record["at"],
        "channel": "webhook",
        "to": URL,
        "body": NOTIFICATION.webhook_json,
        "status": 200,
    }


def test_local_webhook_failure_is_recorded(outbox: Outbox) -> None:
    with pytest.raises(NotificationFailed):
        local(outbox, 9, httpx.Response(404)).webhook(URL, {"x": 1})
    assert outbox.records()[0]["error"] == "the webhook at hooks.example.com answered 404"


def test_a_container_sends_through_aws_and_the_local_stack_gives_it_the_local_notifier(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert isinstance(Container().notifier, AwsNotifier)
    monkeypatch.setenv("TOCSIN_OUTBOX", str(tmp_path / "o.jsonl"))

    class Function:  # a handler module, as the local stack loads it
        container = Container()

    use_local_adapters(Function)  # type: ignore[arg-type]
    assert isinstance(Function.container.notifier, LocalNotifier)
    Function.container.notifier.sms("+15555550100", NOTIFICATION)
    assert Outbox(tmp_path / "o.jsonl").records()[0]["to"] == "+15555550100"


# --- AWS: SES v2 and SNS (moto) -------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def sent_emails() -> list[object]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_aws_email_through_ses(aws: None) -> None:
    import boto3

    boto3.client("sesv2").create_email_identity(EmailIdentity="tocsin.example")
    AwsNotifier(sender="alerts@tocsin.example").email("alice@example.com", NOTIFICATION)
    (message,) = sent_emails()
    assert message.source == "alerts@tocsin.example"  # type: ignore[attr-defined]
    assert message.destinations == {"ToAddresses": ["alice@example.com"]}  # type: ignore[attr-defined]
    assert message.subject == NOTIFICATION.subject  # type: ignore[attr-defined]


def test_aws_email_is_sent_with_the_configuration_set_that_reports_bounces(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TOCSIN_SES_CONFIGURATION_SET (infra/notifications.py), SES reports bounces, complaints and delays of
    every notification e-mail to CloudWatch, where they alarm."""
    import boto3

    ses = boto3.client("sesv2")
    ses.create_email_identity(EmailIdentity="tocsin.example")
    ses.create_configuration_set(ConfigurationSetName="Tocsin-notifications")
    requests: list[dict[str, Any]] = []
    ses.meta.events.register("provide-client-params.sesv2.SendEmail", lambda params, **_: requests.append(params))
    monkeypatch.setenv(Env.SES_CONFIGURATION_SET, "Tocsin-notifications")
    configured = Container().notifier
    assert isinstance(configured, AwsNotifier) and configured.configuration_set == "Tocsin-notifications"
    AwsNotifier(sender="alerts@tocsin.example", configuration_set="Tocsin-notifications", ses=ses).email(
        "alice@example.com", NOTIFICATION
    )
    assert [r["ConfigurationSetName"] for r in requests] == ["Tocsin-notifications"]
    assert len(sent_emails()) == 1
    AwsNotifier(sender="alerts@tocsin.example", ses=ses).email("alice@example.com", NOTIFICATION)
    assert "ConfigurationSetName" not in requests[-1]  # a deployment without e-mail alarms sends plainly


def test_aws_email_from_an_unverified_sender_fails(aws: None) -> None:
    reason = failure(lambda: AwsNotifier(sender="alerts@unverified.example").email("a@example.com", NOTIFICATION))
    assert reason == "SES refused: MessageRejected"
    assert sent_emails() == []


def test_aws_email_needs_a_sender(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_EMAIL_FROM", raising=False)
    assert "TOCSIN_EMAIL_FROM" in failure(lambda: AwsNotifier().email("a@example.com", NOTIFICATION))


def test_aws_sms_through_sns(aws: None) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    AwsNotifier().sms("+15555550100", NOTIFICATION)
    assert list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()) == [
        ("+15555550100", NOTIFICATION.sms)
    ]


def test_aws_sms_to_a_bad_number_fails(aws: None) -> None:
    assert failure(lambda: AwsNotifier().sms("not a number", NOTIFICATION)) == "SNS refused: InvalidParameter"
