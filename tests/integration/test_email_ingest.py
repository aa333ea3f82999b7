"""Inbound e-mail on DynamoDB Local: real SMTP conversations with the local mail server wired to the use case,
and the email_ingest Lambda handler with an SES receipt event and the raw mail in (moto) S3."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from oncall import inbound_email
from oncall.ingest import IngestService
from oncall.ports import StoreError
from oncall.settings import Env, RateLimit
from oncall.store.dynamodb import DynamoStore

from local.mail import MailServer
from local.outbox import Outbox
from tests.integration.conftest import Context, Invoke, load_handler
from tests.support.mail import compose
from tests.support.stream import StreamFollower

DOMAIN = "inbound.tocsin.test"
BUCKET = "tocsin-mail-test"
PREFIX = "inbound/"


@dataclass
class Executions:
    """The executor port: records which escalations the escalation starter started from the groups stored."""

    recorded: list[str] = field(default_factory=list)
    stream: StreamFollower | None = None

    @property
    def started(self) -> list[str]:
        if self.stream is not None:
            self.stream.settle()
        return self.recorded

    def start(self, name: str, state: dict[str, Any]) -> None:
        self.recorded.append(name)

    def stop(self, name: str) -> None:
        return None


@dataclass
class Inbound:
    """What ``python -m local`` hands to its mail server: the use case, in-process."""

    service: IngestService
    deliveries: list[inbound_email.Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, raw: bytes, recipients: list[str]) -> None:
        deliveries = inbound_email.receive(self.service, raw, recipients, domain=DOMAIN)
        with self.lock:
            self.deliveries.extend(deliveries)

    def outcomes(self) -> list[str]:
        return [d.outcome for d in self.deliveries]


@pytest.fixture(autouse=True)
def inbound_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.INBOUND_EMAIL_DOMAIN, DOMAIN)  # the api shows addresses of this domain


@pytest.fixture
def executions(store: DynamoStore) -> Executions:
    recorder = Executions()
    recorder.stream = StreamFollower(store, recorder)
    return recorder


@pytest.fixture
def inbound(store: DynamoStore) -> Inbound:
    return Inbound(IngestService(store, rate_limit=RateLimit(300, 300), sync_seconds=0))


@pytest.fixture
def smtp_port(inbound: Inbound, tmp_path: Path) -> Iterator[int]:
    with MailServer(port=0, outbox=Outbox(tmp_path / "outbox.jsonl"), inbound=inbound, inbound_domain=DOMAIN) as server:
        yield server.port


def create(api: Invoke, kind: str = "inbound_email", **extra: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/integrations/", {"name": f"{kind} mail {len(extra)}", "type": kind, **extra})
    assert status == 201, body
    return body


def groups(api: Invoke) -> list[dict[str, Any]]:
    status, body = api("GET", "/api/v1/alert_groups/")
    assert status == 200, body
    return body["results"]


def alerts(api: Invoke, group_id: str) -> list[dict[str, Any]]:
    status, body = api("GET", "/api/v1/alerts/", query=f"alert_group_id={group_id}")
    assert status == 200, body
    return body["results"]


def message(to: str, subject: str, text: str | None = None, html: str | None = None) -> EmailMessage:
    return compose("Nagios <nagios@monitoring.example.org>", to, subject, text, html)


def send(port: int, to: str | list[str], mail: EmailMessage | bytes) -> None:
    """One SMTP conversation; the server answers DATA only after the use case ran (an error would be a 451)."""
    recipients = [to] if isinstance(to, str) else to
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        if isinstance(mail, bytes):
            client.sendmail("nagios@monitoring.example.org", recipients, mail)
        else:
            client.send_message(mail, to_addrs=recipients)


# --- through SMTP ---------------------------------------------------------------------------------------------


def test_created_integration_shows_its_address_once(api: Invoke) -> None:
    integration = create(api)
    assert integration["link"] is None  # mail, not HTTP
    token, _, domain = integration["inbound_email"].partition("@")
    assert domain == DOMAIN and len(token) == 25 and token.startswith(integration["token_hint"])
    status, shown = api("GET", f"/api/v1/integrations/{integration['id']}/")
    assert status == 200
    assert shown["inbound_email"] == f"{integration['token_hint']}…@{DOMAIN}"  # stored hashed: a hint only
    status, other = api("GET", f"/api/v1/integrations/{create(api, 'webhook')['id']}/")
    assert other["inbound_email"] is None


def test_mails_group_by_subject_and_an_ok_reply_resolves(
    api: Invoke, smtp_port: int, inbound: Inbound, executions: Executions
) -> None:
    status, chain = api("POST", "/api/v1/escalation_chains/", {"name": "mail chain"})
    assert status == 201, chain
    integration = create(api, default_route={"escalation_chain_id": chain["id"]})
    address = integration["inbound_email"]

    send(smtp_port, address, message(address, "Disk full on db-1", "/var is at 99%\n"))
    [group] = groups(api)
    assert (group["title"], group["state"], group["alerts_count"]) == ("Disk full on db-1", "firing", 1)
    [alert] = alerts(api, group["id"])
    assert alert["payload"] == {
        "subject": "Disk full on db-1",
        "message": "/var is at 99%",
        "sender": "nagios@monitoring.example.org",
    }
    assert executions.started == [f"{group['id']}-g1"]  # the new group escalates

    # The same subject (grouping is on the upper-cased subject) joins the open group.
    send(smtp_port, address, message(address, "DISK FULL ON DB-1", "/var is at 100%\n"))
    [group] = groups(api)
    assert group["alerts_count"] == 2

    # "OK" (upper-cased) as the whole body resolves it; the reply is stored in the group.
    send(smtp_port, address, message(address, "Disk full on db-1", "ok\n"))
    [group] = groups(api)
    assert (group["state"], group["resolved_by"], group["alerts_count"]) == ("resolved", "source", 3)
    assert inbound.outcomes() == ["stored"] * 3


def test_html_only_mail_and_two_integrations_in_one_mail(api: Invoke, smtp_port: int, inbound: Inbound) -> None:
    first, second = create(api), create(api, description_short="second")
    html = '<p>Service <b>api</b> is down.</p><p><a href="https://status.example.org/api">Status page</a></p>'
    to = [first["inbound_email"], second["inbound_email"].replace("@", "+team@")]
    send(smtp_port, to, message(", ".join(to), "API down", html=html))
    found = groups(api)
    assert sorted(g["integration_id"] for g in found) == sorted([first["id"], second["id"]])
    [alert] = alerts(api, found[0]["id"])
    assert alert["payload"]["message"] == "Service api is down.\nStatus page (https://status.example.org/api)"
    assert inbound.outcomes() == ["stored", "stored"]


def test_unknown_tokens_and_other_types_are_ignored(api: Invoke, smtp_port: int, inbound: Inbound) -> None:
    webhook = create(api, "webhook")
    webhook_token = webhook["link"].rstrip("/").rsplit("/", 1)[1]
    send(smtp_port, f"NoSuchToken123@{DOMAIN}", message(f"NoSuchToken123@{DOMAIN}", "Disk full", "x"))
    send(smtp_port, f"{webhook_token}@{DOMAIN}", message(f"{webhook_token}@{DOMAIN}", "Disk full", "x"))
    assert groups(api) == []
    assert inbound.outcomes() == ["unknown_token", "wrong_type"]


def test_a_malformed_message_does_not_stop_the_next_mail(api: Invoke, smtp_port: int, inbound: Inbound) -> None:
    address = create(api)["inbound_email"]
    garbage = (
        b"Subject: =?utf-8?q?broken_=E2=28?=\r\nContent-Type: multipart/mixed\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n\xff\xfe!!! not base64, no boundary \x00\r\n"
    )
    send(smtp_port, address, garbage)
    send(smtp_port, address, message(address, "Backup failed", "exit code 2\n"))
    titles = sorted(g["title"] for g in groups(api))
    assert "Backup failed" in titles
    assert len(titles) == 2  # the malformed mail is an alert too: whatever could be read of it
    assert inbound.outcomes() == ["stored", "stored"]


def test_mail_counts_against_the_rate_limit(api: Invoke, store: DynamoStore, tmp_path: Path) -> None:
    address = create(api)["inbound_email"]
    limited = Inbound(IngestService(store, rate_limit=RateLimit(2, 300), sync_seconds=0))
    with MailServer(port=0, outbox=Outbox(tmp_path / "o.jsonl"), inbound=limited, inbound_domain=DOMAIN) as server:
        for n in range(3):
            send(server.port, address, message(address, f"Alert {n}", "x"))
    assert limited.outcomes() == ["stored", "stored", "rate_limited"]
    assert len(groups(api)) == 2


# --- the Lambda handler (SES receipt event, raw mail in S3) ---------------------------------------------------


def ses_event(message_id: str, recipients: list[str], spam: str = "PASS", virus: str = "PASS") -> dict[str, Any]:
    """An SES receipt-rule Lambda action event (abridged to the fields SES always sends)."""
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": "2026-11-22T12:00:00.000Z",
                        "source": "nagios@monitoring.example.org",
                        "messageId": message_id,
                        "destination": recipients,
                        "headersTruncated": False,
                        "commonHeaders": {
                            "returnPath": "nagios@monitoring.example.org",
                            "from": ["Nagios <nagios@monitoring.example.org>"],
                            "to": recipients,
                            "subject": "Disk full on db-1",
                        },
                    },
                    "receipt": {
                        "timestamp": "2026-11-22T12:00:00.000Z",
                        "processingTimeMillis": 420,
                        "recipients": recipients,
                        "spamVerdict": {"status": spam},
                        "virusVerdict": {"status": virus},
                        "spfVerdict": {"status": "PASS"},
                        "dkimVerdict": {"status": "GRAY"},
                        "dmarcVerdict": {"status": "PASS"},
                        "action": {"type": "Lambda", "invocationType": "Event", "functionArn": "arn:aws:lambda:x"},
                    },
                },
            }
        ]
    }


@pytest.fixture
def handler(store: DynamoStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Any]]:
    """The email_ingest handler with its S3 client on moto; DynamoDB stays DynamoDB Local (the service is
    injected with the test's store, whose client was made before moto started)."""
    monkeypatch.setenv("TOCSIN_MAIL_BUCKET", BUCKET)
    monkeypatch.setenv("TOCSIN_MAIL_PREFIX", PREFIX)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tocsin-email_ingest")
    module = load_handler("email_ingest")
    module.container.ingest = IngestService(store, RateLimit(300, 300), sync_seconds=0)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        module._s3 = s3
        yield module, s3


def test_handler_reads_the_raw_mail_from_s3_and_ingests_it(api: Invoke, handler: tuple[ModuleType, Any]) -> None:
    module, s3 = handler
    address = create(api)["inbound_email"]
    raw = message(address, "Disk full on db-1", "/var is at 99%\n").as_bytes()
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}0001abcd", Body=raw)
    result = module.handler(ses_event("0001abcd", [address, "someone@example.org"]), Context())
    masked = f"{address[:4]}…@{DOMAIN}"
    assert result == {"deliveries": [{"recipient": masked, "outcome": "stored"}]}
    assert address not in repr(result)  # the token is never returned nor logged
    [group] = groups(api)
    assert group["title"] == "Disk full on db-1"


def test_handler_drops_spam_and_viruses(api: Invoke, handler: tuple[ModuleType, Any]) -> None:
    module, s3 = handler
    address = create(api)["inbound_email"]
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}spam1", Body=message(address, "You won", "click").as_bytes())
    for verdicts in ({"spam": "FAIL"}, {"virus": "FAIL"}):
        result = module.handler(ses_event("spam1", [address], **verdicts), Context())
        assert [d["outcome"] for d in result["deliveries"]] == ["dropped"]
    assert groups(api) == []


def test_handler_survives_a_missing_object(api: Invoke, handler: tuple[ModuleType, Any]) -> None:
    module, _ = handler
    address = create(api)["inbound_email"]
    assert module.handler(ses_event("not-there", [address]), Context()) == {"deliveries": []}
    assert groups(api) == []


# --- the local stack's settings -------------------------------------------------------------------------------


def test_local_stack_inbound_domain_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from local import __main__ as local_main

    monkeypatch.delenv(Env.INBOUND_EMAIL_DOMAIN)
    settings = local_main.parse_args(["--local-dir", str(tmp_path)])
    assert settings.inbound_domain == inbound_email.LOCAL_DOMAIN == "inbound.tocsin.localhost"
    assert local_main.local_defaults(settings)[Env.INBOUND_EMAIL_DOMAIN] == "inbound.tocsin.localhost"
    monkeypatch.setenv(Env.INBOUND_EMAIL_DOMAIN, "Mail.Example.TEST")
    assert local_main.parse_args(["--local-dir", str(tmp_path)]).inbound_domain == "mail.example.test"
    assert (
        local_main.parse_args(["--local-dir", str(tmp_path), "--inbound-domain", "x.test"]).inbound_domain == "x.test"
    )


def test_mail_that_could_not_be_stored_is_kept_under_failed_and_retried(
    api: Invoke,
    handler: tuple[ModuleType, Any],
    dynamodb_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Storage fails: the raw mail is copied under failed/ (kept as long as alerts, listable), the failure counted,
    and the invocation raises, so Lambda retries it and then keeps the event in the failure queue."""
    from local.dynamodb import client

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    module, s3 = handler
    address = create(api)["inbound_email"]
    raw = message(address, "Disk full on db-1", "/var is at 99%\n").as_bytes()
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}0002beef", Body=raw)
    broken = DynamoStore("no-such-table", client=client(dynamodb_endpoint))
    module.container.ingest = IngestService(broken, RateLimit(300, 300), sync_seconds=0)
    with pytest.raises(StoreError):
        module.handler(ses_event("0002beef", [address]), Context())
    kept = s3.get_object(Bucket=BUCKET, Key="failed/0002beef")["Body"].read()
    assert kept == raw
    assert '"InboundMailFailed":[1.0]' in capsys.readouterr().out  # counted (alarm InboundMailFailed)
    assert groups(api) == []


def test_stored_mail_is_not_kept_twice(api: Invoke, handler: tuple[ModuleType, Any]) -> None:
    module, s3 = handler
    address = create(api)["inbound_email"]
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}0003", Body=message(address, "CPU hot", "90%\n").as_bytes())
    module.handler(ses_event("0003", [address]), Context())
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="failed/")["KeyCount"] == 0
