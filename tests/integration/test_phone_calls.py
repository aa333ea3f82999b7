"""Phone calls (issue #17.5): ``notify_by_phone_call`` rules, placed through AWS End User Messaging SMS and Voice v2
(``SendVoiceMessage``, checked against botocore's own service model with its Stubber), with the acknowledge link
following by SMS; on the local stack both land in the outbox, as e-mail and SMS do."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from oncall.notify import compose
from oncall.notify.channels import AwsNotifier, NotificationFailed

from local.notifier import LocalNotifier
from local.outbox import Outbox
from tests.integration.conftest import Invoke
from tests.integration.escalation_world import World
from tests.integration.test_access import user

POOL = "pool-0123456789abcdef0123456789abcdef"
NOTIFICATION = compose(
    "Disk full on db-1",
    "IABCDEFGHJKLM",
    "Prometheus",
    "firing",
    3,
    "/var is at 99%",
    None,
    "https://tocsin.example/actions/ack-token",
    "https://tocsin.example/actions/resolve-token",
    "https://tocsin.example/ui/groups/IABCDEFGHJKLM",
    True,
)


def voice_client() -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_a_call_reads_the_group_out_through_send_voice_message() -> None:
    client = voice_client()
    notifier = AwsNotifier(voice=client, voice_origination=POOL)
    with Stubber(client) as stub:
        expected = {
            "DestinationPhoneNumber": "+447700900123",
            "OriginationIdentity": POOL,
            "MessageBody": NOTIFICATION.voice,
            "MessageBodyTextType": "TEXT",
        }
        stub.add_response("send_voice_message", {"MessageId": "m-1"}, expected)
        notifier.phone_call("+447700900123", NOTIFICATION)
        stub.assert_no_pending_responses()
    said = NOTIFICATION.voice
    assert said.startswith("Tocsin. Important alert: Disk full on db-1. State: firing. 3 alerts from Prometheus.")
    assert "sent to you by text message" in said and "http" not in said  # a voice cannot give a link


def test_a_refused_call_says_why_and_no_origination_is_a_clear_failure() -> None:
    client = voice_client()
    with Stubber(client) as stub:
        stub.add_client_error("send_voice_message", "ThrottlingException", "Rate exceeded for +447700900123")
        with pytest.raises(NotificationFailed) as refused:
            AwsNotifier(voice=client, voice_origination=POOL).phone_call("+447700900123", NOTIFICATION)
    assert str(refused.value) == "End User Messaging refused: ThrottlingException"  # no number in the reason
    with pytest.raises(NotificationFailed, match="set TOCSIN_VOICE_ORIGINATION"):
        AwsNotifier(voice=client).phone_call("+447700900123", NOTIFICATION)


def test_phone_call_rules_are_oncalls_and_need_an_e164_number(api: Invoke) -> None:
    alice = user(api, "alice", "editor", phone_number="+447700900123")
    status, rule = api(
        "POST", "/api/v1/personal_notification_rules/", {"user_id": alice["id"], "type": "notify_by_phone_call"}
    )
    assert status == 201, rule
    assert api("GET", f"/api/v1/personal_notification_rules/{rule['id']}/")[1]["type"] == "notify_by_phone_call"
    for number in ("07700900123", "+44 7700 900123", "+0123456789"):
        status, errors = api("PATCH", f"/api/v1/users/{alice['id']}/", {"phone_number": number})
        assert status == 400 and "phone_number" in errors, number


def test_an_escalation_calls_and_texts_the_link_into_the_local_outbox(world: World, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.jsonl")
    world.services = dataclasses.replace(world.services, notifier=LocalNotifier(outbox))
    alice = world.user("alice", phone_number="+447700900123")
    world.rule(alice, type="notify_by_phone_call")
    nobody = world.user("bob")  # no phone number
    world.rule(nobody, type="notify_by_phone_call")
    chain = world.chain({"type": "notify_persons", "persons_to_notify": [alice, nobody]})
    group = world.alert(world.integration(chain))
    world.executor.run(world.services)

    records = outbox.records()
    [call] = [r for r in records if r["channel"] == "phone_call"]
    [text] = [r for r in records if r["channel"] == "sms"]
    assert call["to"] == text["to"] == "+447700900123"
    assert "Disk full" in call["text"] and "State: firing" in call["text"]
    assert "/actions/" in text["text"]  # the signed acknowledge link
    timeline = world.timeline(group)
    assert "Sent phone call to alice" in timeline
    assert "phone call to bob not sent: no phone number" in timeline
