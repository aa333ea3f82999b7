"""A small world for escalation tests on DynamoDB Local, driven step by step on a virtual clock.

The executor and the notifier are the two ports faked here: ``SimulatedExecutor`` runs executions the way the
state machine does (RunStep, then wait ``wait_seconds``, until done) but on a virtual clock, so an hour of
escalation takes milliseconds; ``RecordingNotifier`` keeps what would have been sent. Escalations start and stop as
they do deployed: from the stored changes of groups on the table's stream (the real stream of DynamoDB Local, read by
the starter's use case after every action and every step: ``tests/support/stream.py``).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall import escalation, schemas
from oncall.container import Container
from oncall.ingest import ingest
from oncall.models import Integration
from oncall.notify.channels import WebhookAnswer, WebhookCall
from oncall.scheduler import NoScheduler
from oncall.services import alert_groups, chains, integrations, notification_rules, people
from oncall.services.policy import Principal
from oncall.settings import Settings
from oncall.store.dynamodb import DynamoStore

from tests.support.clock import ManualClock
from tests.support.stream import StreamFollower

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADMIN = Principal("UADMIN", "admin", "admin")


@dataclass
class RecordingNotifier:
    clock: ManualClock
    sent: list[tuple[datetime, str, str]] = field(default_factory=list)  # (when, channel, address)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    calls: list[WebhookCall] = field(default_factory=list)

    def email(self, to: str, notification: Any) -> None:
        self.sent.append((self.clock.now(), "email", to))

    def sms(self, to: str, notification: Any) -> None:
        self.sent.append((self.clock.now(), "sms", to))

    def phone_call(self, to: str, notification: Any) -> None:
        self.sent.append((self.clock.now(), "phone_call", to))

    def webhook(self, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        self.sent.append((self.clock.now(), "webhook", url))
        self.bodies.append(body)
        return 200

    def call_webhook(self, call: WebhookCall) -> WebhookAnswer:
        self.sent.append((self.clock.now(), "webhook", call.url))
        self.calls.append(call)
        self.bodies.append(call.json)
        return WebhookAnswer(200, "ok")


@dataclass
class SimulatedExecutor:
    """Executions by name, due times on a virtual clock; ``run`` plays them until nothing is due."""

    clock: ManualClock
    queue: list[tuple[datetime, int, str]] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    waits: list[tuple[str, int]] = field(default_factory=list)
    order: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]
    stream: StreamFollower | None = None  # what steps store starts and stops executions through it

    def start(self, name: str, state: dict[str, Any]) -> None:
        if name in self.started:
            return  # a name runs once, as in Step Functions
        self.started.append(name)
        self.states[name] = state
        heapq.heappush(self.queue, (self.clock.now(), next(self.order), name))

    def stop(self, name: str) -> None:
        self.stopped.append(name)
        self.states.pop(name, None)

    def run(self, services: escalation.Services, until: datetime | None = None, max_steps: int = 500) -> None:
        for _ in range(max_steps):
            if not self.queue or (until is not None and self.queue[0][0] > until):
                if until is not None:
                    self.clock.current = max(self.clock.current, until)
                return
            due, _, name = heapq.heappop(self.queue)
            if name not in self.states:
                continue
            self.clock.current = max(self.clock.current, due)
            state = escalation.run_step(self.states[name], services, self.clock.now())
            if self.stream is not None:
                self.stream.settle()  # what the step stored may have stopped this very execution
            if name not in self.states:
                continue
            if state["done"]:
                del self.states[name]
            else:
                self.states[name] = state
                self.waits.append((name, state["wait_seconds"]))
                heapq.heappush(
                    self.queue, (self.clock.now() + timedelta(seconds=state["wait_seconds"]), next(self.order), name)
                )
        raise AssertionError("escalation did not settle")


@dataclass
class World:
    store: DynamoStore
    clock: ManualClock
    executor: SimulatedExecutor
    notifier: RecordingNotifier
    services: escalation.Services
    stream: StreamFollower

    def user(self, name: str, **extra: Any) -> str:
        body = schemas.UserIn(username=name, email=f"{name}@example.com", **extra)
        return people.create_user(self.ports, ADMIN, body).id

    def rule(self, user_id: str, **fields: Any) -> None:
        """A personal notification rule of the user."""
        notification_rules.create_rule(self.ports, ADMIN, schemas.NotificationRuleIn(user_id=user_id, **fields))

    def chain(self, *steps: dict[str, Any]) -> str:
        name = f"chain {len(self.executor.started)}{id(steps)}"
        chain_id = chains.create_chain(self.ports, ADMIN, schemas.ChainIn(name=name)).id
        for step in steps:
            chains.create_policy(self.ports, ADMIN, schemas.PolicyIn(escalation_chain_id=chain_id, **step))
        return chain_id

    @property
    def ports(self) -> Container:
        """The ports of the use cases: this world's store, executor and clock."""
        ports = Container(Settings(), self.clock)
        ports.store, ports.executor, ports.scheduler = self.store, self.executor, NoScheduler()  # type: ignore[misc]
        return ports

    def integration(self, chain_id: str | None) -> Integration:
        body = schemas.IntegrationIn(
            name=f"i{id(chain_id)}{len(self.executor.started)}",
            type="formatted_webhook",
            default_route={"escalation_chain_id": chain_id},
        )
        return integrations.create_integration(self.ports, ADMIN, body).integration

    def alert(self, integration: Integration, uid: str = "1", **payload: Any) -> str:
        config = self.store.integrations.config(integration.id)
        assert config is not None
        [stored] = ingest(self.store, config, {"alert_uid": uid, "title": "Disk full", **payload}, now=self.clock.now())
        self.stream.settle()
        return stored.group_id

    def act(self, group_id: str, action: str, delay: int | None = None, *, by: Principal = ADMIN) -> None:
        alert_groups.act(self.ports, by, group_id, action, delay=delay)
        self.stream.settle()

    def timeline(self, group_id: str) -> list[str]:
        return [entry.text for entry in alert_groups.timeline(self.ports, ADMIN, group_id)]

    def emails(self) -> list[str]:
        return [address.split("@")[0] for _, channel, address in self.notifier.sent if channel == "email"]


def make_world(store: DynamoStore) -> World:
    clock = ManualClock(START)
    executor = SimulatedExecutor(clock)
    notifier = RecordingNotifier(clock)
    services = escalation.Services(
        store=store,
        executor=executor,
        notifier=notifier,
        public_url="https://tocsin.test",
        signing_key=lambda: b"test-key",
        clock=clock,
    )
    executor.stream = StreamFollower(store, executor, clock)
    return World(store, clock, executor, notifier, services, executor.stream)
