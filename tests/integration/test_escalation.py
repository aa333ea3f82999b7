"""Escalation on DynamoDB Local, driven step by step on a virtual clock (``world``: see escalation_world.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oncall import escalation, schemas, telemetry
from oncall.ingest import ingest
from oncall.services import chains, integrations, webhooks
from oncall.services.policy import Principal

from tests.integration.escalation_world import ADMIN, START, SimulatedExecutor, World


def test_chain_notifies_in_order_with_waits_and_repeats_at_most_five_times(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    chain = world.chain(
        {"type": "notify_persons", "persons_to_notify": [alice]},
        {"type": "wait", "duration": 60},
        {"type": "notify_persons", "persons_to_notify": [bob]},
        {"type": "repeat_escalation"},
    )
    group = world.alert(world.integration(chain))
    world.executor.run(world.services)
    assert world.emails() == ["alice", "bob"] * 6
    times = [when for when, _, _ in world.notifier.sent]
    assert times[1] - times[0] == timedelta(seconds=60)  # bob one wait after alice
    timeline = world.timeline(group)
    assert timeline[:4] == [
        "Alert group registered",
        "Routed to the default route",
        f'Escalation started: chain "{world.store.chains.get(chain).name}"',
        "Notify persons: notifying alice",
    ]
    assert "Sent e-mail to alice" in timeline and "Repeating escalation (5 of 5)" in timeline
    assert timeline.count("Escalation finished") == 1 and world.store.groups.get(group).escalation_finished


def test_acknowledge_stops_the_next_notification_and_unacknowledge_restarts_from_step_zero(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    chain = world.chain(
        {"type": "notify_persons", "persons_to_notify": [alice]},
        {"type": "wait", "duration": 600},
        {"type": "notify_persons", "persons_to_notify": [bob]},
    )
    group = world.alert(world.integration(chain))
    world.executor.run(world.services, until=START + timedelta(seconds=300))
    assert world.emails() == ["alice"]
    world.act(group, "acknowledge")
    assert world.executor.stopped == [f"{group}-g1"]
    world.executor.run(world.services, until=START + timedelta(hours=2))
    assert world.emails() == ["alice"]  # bob is never paged for an acknowledged group

    world.act(group, "unacknowledge")
    assert f"{group}-g2" in world.executor.started
    world.executor.run(world.services)
    assert world.emails() == ["alice", "alice", "bob"]


def test_a_late_step_of_a_stopped_execution_never_notifies(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain({"type": "wait", "duration": 60}, {"type": "notify_persons", "persons_to_notify": [alice]})
    group = world.alert(world.integration(chain))
    world.executor.run(world.services, until=START + timedelta(seconds=1))
    late_state = dict(world.executor.states[f"{group}-g1"])
    world.act(group, "resolve")
    assert escalation.run_step(late_state, world.services, START + timedelta(minutes=5))["done"]
    assert world.emails() == []


def test_a_retried_step_does_not_page_twice(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain({"type": "notify_persons", "persons_to_notify": [alice]})
    group = world.alert(world.integration(chain))
    state = escalation.initial_state(world.store.groups.get(group))  # type: ignore[arg-type]
    first = escalation.run_step(state, world.services, START)
    again = escalation.run_step(state, world.services, START)  # the state machine retries with the same input
    assert first["position"] == again["position"] == 1
    world.executor.run(world.services)
    assert world.emails() == ["alice"]


def test_round_robin_continues_across_alert_groups(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    integration = world.integration(
        world.chain({"type": "notify_person_next_each_time", "persons_to_notify_next_each_time": [alice, bob]})
    )
    for uid in "123":
        world.alert(integration, uid=uid)
        world.executor.run(world.services)
    assert world.emails() == ["alice", "bob", "alice"]


def test_snapshot_keeps_the_chain_of_a_running_escalation(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    chain = world.chain({"type": "wait", "duration": 60}, {"type": "notify_persons", "persons_to_notify": [alice]})
    integration = world.integration(chain)
    world.alert(integration)
    world.executor.run(world.services, until=START + timedelta(seconds=1))  # escalation started: snapshot taken
    [policy] = [p for p in world.store.policies.of_chain(chain) if p.type == "notify_persons"]
    chains.update_policy(world.ports, ADMIN, policy.id, schemas.PolicyPatch(persons_to_notify=[bob]))
    world.executor.run(world.services)
    assert world.emails() == ["alice"]
    world.alert(integration, uid="2")  # a new group takes the edited chain
    world.executor.run(world.services)
    assert world.emails() == ["alice", "bob"]


def test_personal_rules_use_channels_in_order_and_log_missing_contacts(world: World) -> None:
    carol = world.user("carol", phone_number="+15555550100")
    dave = world.user("dave")
    for kind, duration in (("notify_by_email", None), ("wait", 300), ("notify_by_sms", None)):
        for user in (carol, dave):
            world.rule(user, important=True, type=kind, duration=duration)
    chain = world.chain({"type": "notify_persons", "persons_to_notify": [carol, dave], "important": True})
    group = world.alert(world.integration(chain))
    world.executor.run(world.services)
    sent = [(when - START, channel, to) for when, channel, to in world.notifier.sent]
    assert sent == [
        (timedelta(0), "email", "carol@example.com"),
        (timedelta(0), "email", "dave@example.com"),
        (timedelta(seconds=300), "sms", "+15555550100"),
    ]
    timeline = world.timeline(group)
    assert "Notify persons: notifying carol, dave (important)" in timeline
    assert "SMS to dave not sent: no SMS address" in timeline


def test_time_window_delays_the_rest_of_the_chain_until_it_opens(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain(
        {"type": "notify_if_time_from_to", "notify_if_time_from": "18:00:00Z", "notify_if_time_to": "20:00:00Z"},
        {"type": "notify_persons", "persons_to_notify": [alice]},
    )
    world.alert(world.integration(chain))  # at 09:00 UTC
    world.executor.run(world.services)
    [(when, _, _)] = world.notifier.sent
    assert when == START.replace(hour=18)


def test_alert_count_window_pauses_until_enough_alerts_arrive(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain(
        {"type": "notify_if_num_alerts_in_window", "num_alerts_in_window": 2, "num_minutes_in_window": 5},
        {"type": "notify_persons", "persons_to_notify": [alice]},
    )
    integration = world.integration(chain)
    group = world.alert(integration)
    world.executor.run(world.services, until=START + timedelta(minutes=3))
    assert world.emails() == [] and "Escalation paused: 1 alerts in 5 min (continues above 2)" in world.timeline(group)
    for _ in range(2):
        world.alert(integration)
    world.executor.run(world.services, until=START + timedelta(minutes=10))
    assert world.emails() == ["alice"]


def test_a_paused_alert_count_step_resumes_when_the_alert_completing_the_count_arrives(world: World) -> None:
    """As in OnCall: the alert that makes the count resumes the paused escalation at once (the append takes the
    pause's mark, the stream's starter resumes it), not at the paused execution's next re-check."""
    alice = world.user("alice")
    chain = world.chain(
        {"type": "notify_if_num_alerts_in_window", "num_alerts_in_window": 2, "num_minutes_in_window": 5},
        {"type": "notify_persons", "persons_to_notify": [alice]},
    )
    integration = world.integration(chain)
    group = world.alert(integration)
    world.executor.run(world.services, until=START + timedelta(seconds=10))
    [paused] = world.executor.states
    for second in (20, 30):  # the second alert is not enough (2 is not above 2): it resumes and pauses again
        world.clock.current = START + timedelta(seconds=second)
        world.alert(integration)
        world.executor.run(world.services, until=START + timedelta(seconds=second + 5))
        assert world.emails() == ([] if second == 20 else ["alice"])
    [(when, _, _)] = world.notifier.sent
    assert when == START + timedelta(seconds=30)  # not at the paused execution's re-check (09:01)
    escalations = [name for name in world.executor.started if name.startswith(f"{paused}-r") or name == paused]
    assert escalations == [paused, f"{paused}-r1", f"{paused}-r2"]  # each alert resumed it once
    assert {paused, f"{paused}-r1"} <= set(world.executor.stopped)  # the waiting executions do not run on
    assert world.executor.states == {}
    assert world.timeline(group).count("Escalation paused: 1 alerts in 5 min (continues above 2)") == 1
    world.executor.run(world.services, until=START + timedelta(minutes=10))
    assert world.emails() == ["alice"]  # paged once


def test_webhook_and_resolve_steps(world: World) -> None:
    hook = webhooks.create_webhook(
        world.ports, ADMIN, schemas.WebhookIn(name="slack", url="https://hooks.example/x", format="slack")
    )
    off = webhooks.create_webhook(
        world.ports, ADMIN, schemas.WebhookIn(name="off", url="https://off.example/", is_webhook_enabled=False)
    )
    chain = world.chain(
        {"type": "trigger_webhook", "action_to_trigger": hook.id},
        {"type": "trigger_webhook", "action_to_trigger": off.id},
        {"type": "resolve"},
    )
    group = world.alert(world.integration(chain))
    world.executor.run(world.services)
    assert [to for _, _, to in world.notifier.sent] == ["https://hooks.example/x"]
    assert "blocks" in world.notifier.bodies[0] and "Disk full" in world.notifier.bodies[0]["text"]
    timeline = world.timeline(group)
    assert 'Webhook "slack" sent (HTTP 200)' in timeline and f"Webhook {off.id} is disabled" in timeline
    stored = world.store.groups.get(group)
    assert stored is not None and stored.resolved and "Resolved automatically" in timeline


def test_timed_silence_resumes_escalation_from_step_zero_when_it_ends(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain({"type": "wait", "duration": 120}, {"type": "notify_persons", "persons_to_notify": [alice]})
    group = world.alert(world.integration(chain))
    world.executor.run(world.services, until=START + timedelta(seconds=60))
    world.act(group, "silence", 1800)
    world.executor.run(world.services)
    [(when, _, _)] = world.notifier.sent
    assert when == START + timedelta(seconds=60 + 1800 + 120)
    assert "Silence ended" in world.timeline(group)


def test_groups_without_a_chain_do_not_escalate_and_signals_stop_escalation(world: World) -> None:
    world.alert(world.integration(None))
    assert world.executor.started == []
    alice = world.user("alice")
    integration = world.integration(
        world.chain({"type": "wait", "duration": 60}, {"type": "notify_persons", "persons_to_notify": [alice]})
    )
    group = world.alert(integration, uid="x")
    world.alert(integration, uid="x", state="ok")  # the source resolves it
    assert world.executor.stopped == [f"{group}-g1"]
    world.executor.run(world.services)
    assert world.emails() == []


def test_acknowledgement_reminders_and_auto_unacknowledge(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain({"type": "notify_persons", "persons_to_notify": [alice]})
    integration = world.integration(chain)
    integrations.update_integration(
        world.ports,
        ADMIN,
        integration.id,
        schemas.IntegrationPatch(ack_reminder_seconds=3600, unack_timeout_seconds=300),
    )
    group = world.alert(integration)
    world.executor.run(world.services, until=START + timedelta(seconds=10))
    world.act(group, "acknowledge", by=Principal(alice, "alice", "editor"))
    # One hour later alice is reminded; she confirms, so the group stays acknowledged.
    world.executor.run(world.services, until=START + timedelta(hours=1, seconds=20))
    assert world.emails() == ["alice", "alice"]
    world.act(group, "confirm", by=Principal(alice, "alice", "editor"))
    world.executor.run(world.services, until=START + timedelta(hours=1, minutes=30))
    assert world.store.groups.get(group).acknowledged  # type: ignore[union-attr]
    # The next reminder goes unanswered: the group is unacknowledged and escalates again from step 0.
    world.executor.run(world.services, until=START + timedelta(hours=3))
    stored = world.store.groups.get(group)
    assert stored is not None and not stored.acknowledged and stored.escalation_generation == 2
    timeline = world.timeline(group)
    assert "Sent acknowledgement reminder (e-mail) to alice" in timeline
    assert "Unacknowledged automatically: the reminder was not confirmed" in timeline
    assert world.emails() == ["alice"] * 4  # first page, two reminders, the page of the restarted escalation


def test_notify_on_call_from_schedule_pages_whoever_is_on_call(world: World) -> None:
    from oncall.schemas import schedules as schedule_schemas
    from oncall.services import schedules

    day, night = world.user("day-person"), world.user("night-person")
    ports = world.ports
    schedule = schedules.create_schedule(
        ports, ADMIN, schedule_schemas.ScheduleIn(name="primary", time_zone="UTC")
    ).schedule
    shift = schedule_schemas.ShiftIn(
        name="days", type="rolling_users", schedule_id=schedule.id, start=datetime(2026, 11, 1, 8, 0),
        duration=12 * 3600, frequency="daily", interval=1, rolling_users=[[day]],
    )  # fmt: skip
    schedules.create_shift(ports, ADMIN, shift)
    night_shift = shift.model_copy(
        update={"name": "nights", "start": datetime(2026, 11, 1, 20, 0), "rolling_users": [[night]]}
    )
    schedules.create_shift(ports, ADMIN, night_shift)
    integration = world.integration(world.chain({"type": "notify_on_call_from_schedule",
                                                 "notify_on_call_from_schedule": schedule.id}))  # fmt: skip
    world.alert(integration, uid="morning")  # 09:00 UTC: the day shift
    world.executor.run(world.services)
    world.clock.current = START.replace(hour=21)
    world.alert(integration, uid="evening")
    world.executor.run(world.services)
    assert world.emails() == ["day-person", "night-person"]

    nights = next(s for s in schedules.list_shifts(ports, ADMIN, schedule_id=schedule.id) if s.name == "nights")
    schedules.delete_shift(ports, ADMIN, nights.id)
    group = world.alert(integration, uid="gap")
    world.executor.run(world.services)
    assert world.emails() == ["day-person", "night-person"]
    assert any("nobody is on call" in text for text in world.timeline(group))


@dataclass
class FlakyExecutor:
    """Step Functions unavailable for the first ``failures`` starts."""

    inner: SimulatedExecutor
    failures: int

    def start(self, name: str, state: dict[str, Any]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("states.us-east-1.amazonaws.com unreachable")
        self.inner.start(name, state)

    def stop(self, name: str) -> None:
        self.inner.stop(name)


def waiting() -> dict[str, float]:
    """The deferred-start gauges the last sweep recorded."""
    names = (telemetry.DEFERRED_STARTS_PENDING, telemetry.OLDEST_DEFERRED_START_AGE)
    return {r.name: r.value for r in telemetry.drain() if r.name in names}


def test_a_failed_escalation_start_is_retried_by_the_minute_sweep_and_pages_once(world: World) -> None:
    alice = world.user("alice")
    integration = world.integration(world.chain({"type": "notify_persons", "persons_to_notify": [alice]}))
    flaky = FlakyExecutor(world.executor, failures=2)
    world.stream.executor = flaky  # the escalation starter's Step Functions refuses the start
    config = world.store.integrations.config(integration.id)
    assert config is not None
    [stored] = ingest(world.store, config, {"alert_uid": "1", "title": "Disk full"}, now=START)
    world.stream.settle()
    assert world.store.groups.get(stored.group_id) is not None  # stored (the sender got its 200) ...
    assert world.executor.started == []  # ... but nothing pages yet

    telemetry.drain()
    assert escalation.retry_deferred_starts(world.store, flaky, START + timedelta(minutes=1)) == 0  # fails again
    # the pager's signal: one group unstarted, for a minute now (alarmed from 3 minutes on, infra/heartbeat.py)
    assert waiting() == {telemetry.DEFERRED_STARTS_PENDING: 1, telemetry.OLDEST_DEFERRED_START_AGE: 60}
    assert escalation.retry_deferred_starts(world.store, flaky, START + timedelta(minutes=2)) == 1
    assert waiting() == {telemetry.DEFERRED_STARTS_PENDING: 0, telemetry.OLDEST_DEFERRED_START_AGE: 0}
    assert escalation.retry_deferred_starts(world.store, flaky, START + timedelta(minutes=3)) == 0  # done once
    world.executor.run(world.services)
    assert world.emails() == ["alice"]
    assert "Escalation started by the retry sweep (the first start had failed)" in world.timeline(stored.group_id)


def test_a_deferred_start_is_dropped_when_the_group_was_acknowledged_meanwhile(world: World) -> None:
    integration = world.integration(world.chain({"type": "wait", "duration": 60}))
    config = world.store.integrations.config(integration.id)
    assert config is not None
    world.stream.executor = FlakyExecutor(world.executor, failures=1)
    [stored] = ingest(world.store, config, {"alert_uid": "1"}, now=START)
    world.stream.settle()
    world.stream.executor = world.executor
    world.act(stored.group_id, "acknowledge")
    assert escalation.retry_deferred_starts(world.store, world.executor, START + timedelta(minutes=1)) == 0
    assert world.executor.started == []
    assert world.store.escalation_starts.due(START + timedelta(days=1)) == []
