"""The synthesized state machine (run by moto's interpreter) with the REAL escalation_step handler as RunStep.

Everything below the handler is real too: the escalation engine, the store (on moto's DynamoDB, since the
interpreter runs inside moto), and the Step Functions executor that starts the personal-notification
executions on the same moto state machine. Only the notifier records instead of sending.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from oncall import escalation
from oncall.directory import EscalationChain, EscalationPolicy, User
from oncall.executor import StepFunctionsExecutor
from oncall.ingest import ingest
from oncall.models import Integration, Route
from oncall.store import schema
from oncall.store.dynamodb import DynamoStore

from tests.infra import test_state_machine_asl as asl
from tests.integration.conftest import load_handler

TABLE = "tocsin-asl"
REGION = asl.REGION
Machine = asl.Machine
# The synthesized-definition fixtures of the ASL tests, with run_step overridden below.
synthesized = asl.synthesized
machine = asl.machine


class RecordingNotifier:
    def __init__(self) -> None:
        self.emails: list[tuple[str, str]] = []

    def email(self, to: str, notification: Any) -> None:
        self.emails.append((to, notification.subject))

    def sms(self, to: str, notification: Any) -> None:
        raise AssertionError("no SMS in this chain")

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        raise AssertionError("no webhook in this chain")


class World:
    """Built lazily on the first RunStep, inside moto (the machine fixture has entered mock_aws by then)."""

    def __init__(self) -> None:
        self.notifier = RecordingNotifier()
        self.module = load_handler("escalation_step")
        self.machine: Machine | None = None

    def services(self) -> escalation.Services:
        assert self.machine is not None
        store = DynamoStore(TABLE, client=boto3.client("dynamodb", region_name=REGION))
        executor = StepFunctionsExecutor(self.machine.arn, client=self.machine.client)
        return escalation.Services(store, executor, self.notifier, "https://tocsin.test", lambda: b"asl-test-key")

    def __call__(self, state: Any, context: Any) -> Any:
        if self.module._services is None:
            self.module._services = self.services()
        return self.module.handler(state, context)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def run_step(world: World) -> asl.Handler:
    return world


def test_the_real_step_pages_in_order_and_stops_at_the_end(machine: Machine, world: World) -> None:
    world.machine = machine
    boto3.client("dynamodb", region_name=REGION).create_table(**schema.create_table_request(TABLE))
    store = DynamoStore(TABLE, client=boto3.client("dynamodb", region_name=REGION))
    now = datetime.now(UTC)
    for name in ("alice", "bob"):
        store.users.put(User(id=f"U{name}", username=name, email=f"{name}@example.com"))
    store.chains.put(EscalationChain(id="F1", name="chain"))
    steps = [
        EscalationPolicy(
            id="E1", escalation_chain_id="F1", position=0, type="notify_persons", persons_to_notify=["Ualice"]
        ),
        EscalationPolicy(id="E2", escalation_chain_id="F1", position=1, type="wait", duration=1),
        EscalationPolicy(
            id="E3", escalation_chain_id="F1", position=2, type="notify_persons", persons_to_notify=["Ubob"]
        ),
    ]
    for step in steps:
        store.policies.put(step)
    integration = Integration(id="C1", name="Prod", type="formatted_webhook", token_hash="h", created_at=now)
    store.integrations.create(
        integration, Route(id="R1", integration_id="C1", is_default=True, escalation_chain_id="F1")
    )
    config = store.integrations.config("C1")
    assert config is not None
    [stored] = ingest(store, config, {"alert_uid": "1", "title": "Disk full"}, now=now)
    group = store.groups.get(stored.group_id)
    assert group is not None and group.escalation_generation == 1

    result = machine.run(escalation.initial_state(group))
    assert result["status"] == "SUCCEEDED", result
    assert result["events"].count("WaitStateEntered") >= 1  # the chain's 1 s wait ran as the Wait state

    # The personal notifications are executions of the same state machine, started by the real step; each
    # records "Sent e-mail" on the timeline a moment after the e-mail has gone.
    deadline = time.monotonic() + 20
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [entry.text for entry in store.groups.timeline(group.id)]
        if len(world.notifier.emails) >= 2 and "Sent e-mail to bob" in texts:
            break
        time.sleep(0.1)
    assert [to for to, _ in world.notifier.emails] == ["alice@example.com", "bob@example.com"]
    assert all("Disk full" in subject for _, subject in world.notifier.emails)
    assert "Escalation finished" in texts and "Sent e-mail to alice" in texts and "Sent e-mail to bob" in texts
