"""The local SMTP server, through real SMTP conversations: mail lands in the outbox or goes to the inbound handler."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from local.mail import MailServer
from local.outbox import Outbox
from tests.support.mail import compose

INBOUND = "inbound.tocsin.test"


class Inbound:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[bytes, list[str]]] = []
        self.error = error

    def __call__(self, raw: bytes, recipients: list[str]) -> None:
        self.calls.append((raw, recipients))
        if self.error is not None:
            raise self.error


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.jsonl")


@pytest.fixture
def inbound() -> Inbound:
    return Inbound()


@pytest.fixture
def port(outbox: Outbox, inbound: Inbound) -> Iterator[int]:
    with MailServer(port=0, outbox=outbox, inbound=inbound, inbound_domain=INBOUND) as server:
        yield server.port


def message(
    to: str, subject: str = "Disk full", text: str | None = "/var is at 99%", html: str | None = None
) -> EmailMessage:
    return compose("Monitor <monitor@example.org>", to, subject, text, html)


def send(port: int, mail: EmailMessage, to: list[str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(mail, to_addrs=to)


def test_plain_mail_lands_in_the_outbox(port: int, outbox: Outbox, inbound: Inbound) -> None:
    mail = message("alice@example.com")
    send(port, mail)
    (record,) = outbox.records()
    assert record["channel"] == "email"
    assert record["to"] == "alice@example.com"
    assert record["from"] == "Monitor <monitor@example.org>"
    assert record["subject"] == "Disk full"
    assert record["text"] == "/var is at 99%\n"
    assert record["size"] >= len(mail.as_bytes())
    assert record["at"].endswith("+00:00")
    assert inbound.calls == []


def test_one_record_per_envelope_recipient(port: int, outbox: Outbox) -> None:
    send(port, message("alice@example.com"), to=["alice@example.com", "bob@example.com"])
    assert [r["to"] for r in outbox.records()] == ["alice@example.com", "bob@example.com"]


def test_the_text_part_is_preferred_and_html_only_mail_is_read_as_text(port: int, outbox: Outbox) -> None:
    send(port, message("a@example.com", text="plain words", html="<p>html words</p>"))
    html_only = (
        "<html><head><title>t</title><style>p {color: red}</style></head>"
        "<body><h1>Disk &amp; full</h1><p>on   db-1</p><script>alert(1)</script><p>second</p></body></html>"
    )
    send(port, message("b@example.com", text=None, html=html_only))
    first, second = outbox.records()
    assert first["text"] == "plain words\n"
    assert second["text"] == "Disk & full\non db-1\nsecond"


def test_encoded_subjects_and_bodies_are_decoded(port: int, outbox: Outbox) -> None:
    send(port, message("a@example.com", subject="Disque plein à Zürich ✓", text="Température: 99 °C"))
    (record,) = outbox.records()
    assert record["subject"] == "Disque plein à Zürich ✓"
    assert record["text"] == "Température: 99 °C\n"


def test_mail_to_the_inbound_domain_goes_to_the_handler(port: int, outbox: Outbox, inbound: Inbound) -> None:
    mail = message(f"team-db+tok123@{INBOUND}")
    send(port, mail)
    ((raw, recipients),) = inbound.calls
    assert recipients == [f"team-db+tok123@{INBOUND}"]
    assert raw.replace(b"\r\n", b"\n") == mail.as_bytes().replace(b"\r\n", b"\n")
    assert outbox.records() == []


def test_the_inbound_domain_is_matched_without_case(port: int, inbound: Inbound) -> None:
    send(port, message(f"tok@{INBOUND.upper()}"))
    assert inbound.calls[0][1] == [f"tok@{INBOUND.upper()}"]


def test_mixed_recipients_are_split(port: int, outbox: Outbox, inbound: Inbound) -> None:
    send(port, message("alice@example.com"), to=["alice@example.com", f"tok@{INBOUND}"])
    assert inbound.calls[0][1] == [f"tok@{INBOUND}"]
    assert [r["to"] for r in outbox.records()] == ["alice@example.com"]


def test_a_handler_error_answers_451_and_the_server_keeps_serving(port: int, outbox: Outbox, inbound: Inbound) -> None:
    inbound.error = RuntimeError("DynamoDB is down")
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send(port, message(f"tok@{INBOUND}"))
    assert caught.value.smtp_code == 451
    inbound.error = None
    send(port, message(f"tok@{INBOUND}"))
    send(port, message("alice@example.com"))
    assert len(inbound.calls) == 2
    assert len(outbox.records()) == 1


def test_an_outbox_error_answers_451(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with MailServer(port=0, outbox=Outbox(tmp_path / "dir")) as server, pytest.raises(smtplib.SMTPDataError) as caught:
        send(server.port, message("alice@example.com"))
    assert caught.value.smtp_code == 451


def test_without_an_inbound_handler_its_domain_is_refused(outbox: Outbox) -> None:
    with MailServer(port=0, outbox=outbox, inbound_domain=INBOUND) as server:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            send(server.port, message(f"tok@{INBOUND}"))
        assert caught.value.recipients[f"tok@{INBOUND}"][0] == 550
        send(server.port, message("alice@example.com"))
    assert [r["to"] for r in outbox.records()] == ["alice@example.com"]


def test_an_inbound_handler_needs_its_domain(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="inbound_domain"):
        MailServer(port=0, outbox=outbox, inbound=Inbound())


def test_a_taken_port_fails_to_start_at_once(outbox: Outbox, port: int) -> None:
    started = time.monotonic()
    with pytest.raises(OSError):
        MailServer(port=port, outbox=outbox).start()
    assert time.monotonic() - started < 5  # no retries until some timeout


def test_it_can_be_started_again(outbox: Outbox) -> None:
    server = MailServer(port=0, outbox=outbox)
    with server:
        send(server.port, message("first@example.com"))
    with pytest.raises(OSError):
        send(server.port, message("lost@example.com"))
    with server:
        send(server.port, message("second@example.com"))
    assert [r["to"] for r in outbox.records()] == ["first@example.com", "second@example.com"]
