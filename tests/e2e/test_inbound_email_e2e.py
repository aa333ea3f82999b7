"""Inbound e-mail end to end: real SMTP to the local stack's mail port, alert groups through the real API."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "fixtures" / "payloads" / "inbound_email.json"
FIXTURE = SHARED if SHARED.is_file() else REPO / "layers/core/python/oncall/examples/inbound_email.json"

pytestmark = pytest.mark.e2e


def send(stack: LocalStack, to: str, subject: str, body: str, sender: str = "monitor@example.org") -> None:
    mail = EmailMessage()
    mail["From"] = f"Monitor <{sender}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30) as smtp:
        smtp.send_message(mail)  # answered after the alert is stored (or refused with a 4xx)


def groups(client: httpx.Client, integration_id: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/alert_groups/", params={"integration_id": integration_id})
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_mail_to_the_integration_address_opens_and_resolves_a_group(stack: LocalStack, client: httpx.Client) -> None:
    assert f"<token>@{stack.inbound_domain}" in stack.output()  # the banner tells where to send mail
    created = client.post("/api/v1/integrations/", json={"name": "e2e mail", "type": "inbound_email"})
    assert created.status_code == 201, created.text
    integration = created.json()
    address = integration["inbound_email"]
    assert address.endswith(f"@{stack.inbound_domain}")

    expected = json.loads(FIXTURE.read_text())
    send(stack, address, expected["subject"], expected["message"] + "\n", sender=expected["sender"])
    [group] = groups(client, integration["id"])
    assert (group["title"], group["state"]) == (expected["subject"], "firing")
    alerts = client.get("/api/v1/alerts/", params={"alert_group_id": group["id"]}).json()["results"]
    assert [a["payload"] for a in alerts] == [expected]

    send(stack, address.replace("@", "+ops@"), expected["subject"], "OK")
    [group] = groups(client, integration["id"])
    assert (group["state"], group["alerts_count"]) == ("resolved", 2)


def test_mail_to_an_unknown_token_is_accepted_and_ignored(stack: LocalStack, client: httpx.Client) -> None:
    created = client.post("/api/v1/integrations/", json={"name": "e2e quiet mail", "type": "inbound_email"}).json()
    send(stack, f"NoSuchToken0000000000000@{stack.inbound_domain}", "Disk full", "x")
    assert groups(client, created["id"]) == []
    assert "NoSuchToken0000000000000" not in stack.output()  # tokens are never logged
