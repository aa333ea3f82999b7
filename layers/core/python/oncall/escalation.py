"""The escalation engine: what one RunStep of an escalation (or of a person's notification rules) does.

Each alert group with an escalation chain runs one execution per *generation* of the generic loop state
machine (RunStep -> Choice(done?) -> Wait(wait_seconds) -> RunStep). The state passed around is a plain dict:

    {"kind": "escalation", "group_id", "generation", "position", "cycle", "repeats", "snapshot",
     "wait_seconds", "done"}
    {"kind": "personal", "group_id", "generation", "user_id", "important", "rules", "position", "key", ...}

Acknowledge, resolve and silence stop the execution; unacknowledge, unresolve and unsilence (and the end of a
timed silence) start a new generation from step 0 with a fresh snapshot of the chain. Every RunStep re-reads
the group first, so a late step never notifies for an acknowledged group, and every effect of a step is
claimed first-writer-wins in the store, so a retried step never pages twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from oncall import actions, telemetry
from oncall.clock import SYSTEM_CLOCK, Clock
from oncall.directory import EscalationPolicy, OutgoingWebhook, User
from oncall.executor import Executor
from oncall.models import AlertGroup, TimelineEntry
from oncall.ports import Store

logger = logging.getLogger(__name__)

MAX_REPEATS = 5
DEFAULT_WAIT_SECONDS = 300
PAUSE_RECHECK_SECONDS = 60
MAX_STEPS_PER_RUN = 50  # consecutive non-waiting steps done in one RunStep (repeat loops are bounded by 5)
DEFAULT_RULES: dict[bool, list[tuple[str, str | None, int | None]]] = {
    False: [("notify", "email", None)],
    True: [("notify", "email", None), ("notify", "sms", None)],
}


@dataclass
class Services:
    """What a step needs from the outside world (ports), built once per Lambda container."""

    store: Store
    executor: Executor
    notifier: Any  # oncall.notify.channels.Notifier
    public_url: str
    signing_key: Callable[[], bytes]
    clock: Clock = SYSTEM_CLOCK


# --- starting and stopping ------------------------------------------------------------------------------------


def execution_name(group_id: str, generation: int) -> str:
    return f"{group_id}-g{generation}"


def _personal_execution_name(key: str) -> str:
    return key.replace("_", "-")[:80]


def _reminder_execution_name(group_id: str, acknowledged_at: datetime) -> str:
    return f"{group_id}-ack{int(acknowledged_at.timestamp())}"


def execution_name_of(state: dict[str, Any]) -> str:
    """The name of the execution that runs ``state`` (the correlation id of its logs)."""
    kind = state.get("kind")
    if kind == "personal":
        return _personal_execution_name(str(state.get("key", "")))
    if kind == "reminder":
        return _reminder_execution_name(str(state.get("group_id")), datetime.fromisoformat(state["acknowledged_at"]))
    if kind == "webhook":
        from oncall import webhook_delivery

        return webhook_delivery.execution_name(state)
    name = execution_name(str(state.get("group_id")), int(state.get("generation", 0)))
    return f"{name}-r{state['resumed']}" if state.get("resumed") else name


def initial_state(group: AlertGroup) -> dict[str, Any]:
    return {
        "kind": "escalation",
        "group_id": group.id,
        "generation": group.escalation_generation,
        "position": 0,
        "cycle": 0,
        "repeats": {},
        "snapshot": None,
        "wait_seconds": 0,
        "done": False,
    }


def restarted(group: AlertGroup) -> AlertGroup:
    """The group with a new escalation generation (unack, unresolve, unsilence, timed silence)."""
    if group.escalation_chain_id is None:
        return group
    return replace(group, escalation_generation=group.escalation_generation + 1, escalation_finished=False)


def _starts(before: AlertGroup | None, after: AlertGroup) -> bool:
    """Whether the change from ``before`` to ``after`` starts a new escalation generation."""
    old_generation = before.escalation_generation if before else 0
    return (
        after.escalation_generation != old_generation
        and bool(after.escalation_generation)
        and not (after.resolved or after.acknowledged)
    )


def after_transition(executor: Executor, before: AlertGroup | None, after: AlertGroup) -> None:
    """Start or stop executions to match a stored state change of a group."""
    old_generation = before.escalation_generation if before else 0
    if after.escalation_generation != old_generation:
        if old_generation:
            executor.stop(execution_name(after.id, old_generation))
        if _starts(before, after):
            executor.start(execution_name(after.id, after.escalation_generation), initial_state(after))
        return
    stopped = after.resolved or after.acknowledged or (after.silenced and not (before and before.silenced))
    if old_generation and stopped:
        executor.stop(execution_name(after.id, old_generation))


def follow(
    store: Store,
    executor: Executor,
    before: AlertGroup | None,
    after: AlertGroup | None,
    now: datetime,
    webhooks: Callable[[], list[OutgoingWebhook]] | None = None,
) -> None:
    """Start or stop executions to match a stored change of a group (``after`` None: the group was deleted). Called
    by the escalation starter for every change of a group on the table's stream, so every start is a consequence
    of a stored group. A start that fails is deferred to the minute sweep (:func:`retry_deferred_starts`); if even
    that fails, this raises and the stream delivers the change again. A failed stop needs nothing: every RunStep
    re-reads the group and ends on an acknowledged, resolved, deleted or newer-generation group. ``webhooks`` lists
    the outgoing webhooks (a batch lists them once: :class:`oncall.webhook_delivery.Listing`)."""
    if after is None:
        if before is not None and before.escalation_generation:
            try:
                executor.stop(execution_name(before.id, before.escalation_generation))
            except Exception:
                logger.exception("escalation of deleted group %s could not be stopped", before.id)
        return
    try:
        after_transition(executor, before, after)
    except Exception:
        logger.exception("escalation of group %s could not be started or stopped", after.id)
        if _starts(before, after):
            store.escalation_starts.defer(after.id, after.escalation_generation, now)
    _resume(executor, before, after)
    _fire_webhooks(store, executor, before, after, now, webhooks)


def _resume(executor: Executor, before: AlertGroup | None, after: AlertGroup) -> None:
    """An alert took the mark of an escalation paused on its alert count (:func:`_step_alerts_in_window`): as OnCall
    does, a new execution re-runs the count at once, and the paused one (waiting for its re-check) is stopped. The
    name comes from the mark the change removed, so the same change handled twice starts nothing twice. If the start
    fails, the paused execution runs on and its re-check (a minute at most) counts the alert."""
    if before is None or not before.escalation_paused or after.escalation_paused:
        return
    if after.alerts_count <= before.alerts_count:
        return  # the step cleared its own mark (its count was met at a re-check)
    paused: dict[str, Any] = json.loads(before.escalation_paused)
    if paused.get("generation") != after.escalation_generation or after.resolved or after.acknowledged:
        return  # an older generation's mark, or a stopped escalation: nothing waits on the count
    if after.silenced:
        return  # the paused execution waits for the end of the silence itself
    state = {**paused, "resumed": int(paused.get("resumed") or 0) + 1, "wait_seconds": 0, "done": False}
    try:
        executor.start(execution_name_of(state), state)
    except Exception:
        logger.exception("paused escalation of group %s could not be resumed", after.id)
        return
    executor.stop(execution_name_of(paused))


def _fire_webhooks(
    store: Store,
    executor: Executor,
    before: AlertGroup | None,
    after: AlertGroup,
    now: datetime,
    webhooks: Callable[[], list[OutgoingWebhook]] | None,
) -> None:
    """The outgoing webhooks of this change (:mod:`oncall.webhook_delivery`); a failed start loses only them."""
    from oncall import webhook_delivery

    try:
        webhook_delivery.after_change(store, executor, before, after, now, webhooks)
    except Exception:
        logger.exception("outgoing webhooks of group %s could not be started", after.id)


def retry_deferred_starts(store: Store, executor: Executor, now: datetime) -> int:
    """Start the escalations whose first start failed, if their group still needs them; returns how many.

    Records how many stay unstarted and how long the oldest of them has waited (``oncall.telemetry``): the
    pager's signal that escalations are not starting."""
    started = 0
    waiting: list[datetime] = []
    for deferred in store.escalation_starts.due(now):
        group_id, generation = deferred.group_id, deferred.generation
        group = store.groups.get(group_id)
        if group is not None and group.escalation_generation == generation and _starts(None, group):
            try:  # a silenced group's execution waits for the end of the silence itself
                executor.start(execution_name(group_id, generation), initial_state(group))
            except Exception:
                logger.exception("deferred escalation start of group %s failed again", group_id)
                waiting.append(deferred.deferred_at)
                continue  # still due: the next sweep tries again
            entry = TimelineEntry(
                group_id=group_id,
                at=now,
                type="escalation_retried",
                text="Escalation started by the retry sweep (the first start had failed)",
            )
            store.groups.append_timeline([entry])
            started += 1
        store.escalation_starts.clear(group_id, generation, deferred.due_key, now)
    telemetry.gauge(telemetry.DEFERRED_STARTS_PENDING, len(waiting), unit=telemetry.COUNT)
    oldest = max(((now - moment).total_seconds() for moment in waiting), default=0.0)
    telemetry.gauge(telemetry.OLDEST_DEFERRED_START_AGE, max(oldest, 0.0))
    return started


# --- one RunStep ----------------------------------------------------------------------------------------------


def run_step(state: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    moment = now
    kind = state.get("kind")
    if kind == "personal":
        return _run_personal(dict(state), services, moment)
    if kind == "reminder":
        return _run_reminder(dict(state), services, moment)
    if kind == "webhook":
        from oncall import webhook_delivery

        return webhook_delivery.run(dict(state), services, moment)
    return _run_escalation(dict(state), services, moment)


def _finish(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "done": True, "wait_seconds": 0}


def _wait(state: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {**state, "done": False, "wait_seconds": max(0, int(seconds + 0.999))}


def _log(services: Services, group: AlertGroup, now: datetime, kind: str, text: str) -> None:
    services.store.groups.append_timeline([TimelineEntry(group_id=group.id, at=now, type=kind, text=text)])


def _current(services: Services, state: dict[str, Any], now: datetime) -> AlertGroup | None:
    """The group if this execution should still act on it; lifts an expired silence."""
    group = services.store.groups.get(state["group_id"])
    if group is None or group.escalation_generation != state["generation"] or group.resolved or group.acknowledged:
        return None
    if group.silenced and group.silenced_until is not None and group.silenced_until <= now:
        ended = replace(group, silenced=False, silenced_at=None, silenced_until=None)
        entry = TimelineEntry(group_id=group.id, at=now, type="unsilenced", text="Silence ended")
        if not services.store.groups.save(ended, group.version, timeline=[entry]):
            return services.store.groups.get(state["group_id"])  # changed meanwhile: decide on the fresh state
        return replace(ended, version=group.version + 1)
    return group


def _snapshot(services: Services, group: AlertGroup) -> dict[str, Any] | None:
    chain = services.store.chains.get(group.escalation_chain_id or "")
    if chain is None:
        return None
    policies = services.store.policies.of_chain(chain.id)
    return {"chain": chain.model_dump(mode="json"), "policies": [p.model_dump(mode="json") for p in policies]}


def _run_escalation(state: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    group = _current(services, state, now)
    if group is None:
        return _finish(state)
    if group.silenced:
        if group.silenced_until is None:
            return _finish(state)  # silenced forever: unsilence starts a new generation
        return _wait(state, (group.silenced_until - now).total_seconds())
    if state.get("snapshot") is None:
        snapshot = _snapshot(services, group)
        if snapshot is None:
            _log(services, group, now, "escalation_failed", "Not escalated: the escalation chain no longer exists")
            return _finish(state)
        state["snapshot"] = snapshot
        if services.store.groups.claim(group.id, f"g{state['generation']}-start"):
            _log(services, group, now, "escalation_started", f'Escalation started: chain "{snapshot["chain"]["name"]}"')
    policies = [EscalationPolicy.model_validate(p) for p in state["snapshot"]["policies"]]
    for _ in range(MAX_STEPS_PER_RUN):
        position = state["position"]
        if position >= len(policies):
            return _chain_done(state, group, services, now)
        policy = policies[position]
        key = f"g{state['generation']}-c{state['cycle']}-p{position}"
        if (missing := policy.unconfigured()) is not None:  # saved half-configured, as OnCall allows: a no-op
            state["position"] += 1
            if services.store.groups.claim(group.id, key):
                _log(services, group, now, "escalation_skipped", f"Step {policy.type} has no {missing}: skipped")
            continue
        outcome = STEPS[policy.type](policy, group, state, services, now, key)
        if outcome is not None:
            return outcome
    return _wait(state, 0)


def _chain_done(state: dict[str, Any], group: AlertGroup, services: Services, now: datetime) -> dict[str, Any]:
    """Every step has run: the group is marked finished (once, whichever run gets here first)."""
    if services.store.groups.claim(group.id, f"g{state['generation']}-finished"):
        _log(services, group, now, "escalation_finished", "Escalation finished")
        services.store.groups.save(replace(group, escalation_finished=True), group.version)
    return _finish(state)


# --- step types -------------------------------------------------------------------------------------------------
# Each returns the next state when the run must stop or wait here, or None to go on with ``state["position"]``.

StepResult = dict[str, Any] | None


def _step_wait(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    seconds = policy.duration or DEFAULT_WAIT_SECONDS
    state["position"] += 1
    if services.store.groups.claim(group.id, key):
        _log(services, group, now, "escalation_wait", f"Waiting {_human(seconds)}")
    return _wait(state, seconds)


def _notify(
    users: list[User],
    missing: list[str],
    policy: EscalationPolicy,
    group: AlertGroup,
    state: dict[str, Any],
    services: Services,
    now: datetime,
    key: str,
    what: str,
) -> StepResult:
    state["position"] += 1
    if not services.store.groups.claim(group.id, key):
        return None
    if missing:
        _log(services, group, now, "notification_failed", f"Unknown users skipped: {', '.join(missing)}")
    if not users:
        _log(services, group, now, "notification_failed", f"{what}: nobody to notify")
        return None
    level = " (important)" if policy.important else ""
    _log(services, group, now, "escalation_notify", f"{what}: notifying {', '.join(u.username for u in users)}{level}")
    for user in users:
        personal_key = f"{group.id}-{key}-{user.id}"
        start_personal(
            services.store, services.executor, group, user, policy.important, personal_key, state["generation"]
        )
    return None


def _users(services: Services, ids: list[str]) -> tuple[list[User], list[str]]:
    found, missing = [], []
    for user_id in ids:
        user = services.store.users.get(user_id)
        if user:
            found.append(user)
        else:
            missing.append(user_id)
    return found, missing


def _step_notify_persons(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    users, missing = _users(services, policy.persons_to_notify)
    return _notify(users, missing, policy, group, state, services, now, key, "Notify persons")


def _step_round_robin(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    queue = policy.persons_to_notify_next_each_time
    users: list[User] = []
    missing: list[str] = []
    if queue and services.store.groups.claim(group.id, f"{key}-turn"):
        # The turn counter lives on the policy, so the rotation continues across alert groups.
        turn = services.store.policies.next_turn(policy.id)
        users, missing = _users(services, [queue[turn % len(queue)]])
    return _notify(users, missing, policy, group, state, services, now, key, "Notify next person in turn")


def _step_team(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    team_id = policy.team_to_notify
    members = [u for u in services.store.users.list() if team_id and team_id in u.teams]
    return _notify(members, [], policy, group, state, services, now, key, f"Notify team {team_id}")


def _step_schedule(policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services,
                   now: datetime, key: str) -> StepResult:  # fmt: skip
    from oncall.services import schedules

    schedule_id = policy.notify_on_call_from_schedule or ""
    try:
        users = schedules.users_on_call(services.store, schedule_id, now)
    except schedules.ScheduleNotFound:
        state["position"] += 1
        if services.store.groups.claim(group.id, key):
            _log(services, group, now, "notification_failed", f"Notify on-call: schedule {schedule_id} does not exist")
        return None
    if not users:
        state["position"] += 1
        if services.store.groups.claim(group.id, key):
            _log(services, group, now, "notification_failed",
                 f"Notify on-call: nobody is on call in schedule {schedule_id} now (a gap); moving on")  # fmt: skip
        return None
    return _notify(users, [], policy, group, state, services, now, key, "Notify on-call from schedule")


def _step_webhook(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    state["position"] += 1
    if not services.store.groups.claim(group.id, key):
        return None
    from oncall import webhook_delivery

    # Sent by its own execution (retries included), so a slow webhook does not hold up the next steps.
    webhook_delivery.start(services.executor, policy.action_to_trigger or "", group, "escalation", now, key=key)
    return None


def _step_resolve(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    transition = actions.resolve(group, "escalation", now, text="Resolved automatically")
    services.store.groups.save(
        transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer
    )
    return _finish(state)  # the stored change fires its webhooks from the stream, as every change does


def _parse_clock(text: str | None) -> time | None:
    if not text:
        return None
    try:
        return time.fromisoformat(text.rstrip("Z"))
    except ValueError:
        return None


def _step_time_window(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    start, end = _parse_clock(policy.notify_if_time_from), _parse_clock(policy.notify_if_time_to)
    state["position"] += 1
    if start is None or end is None:
        if services.store.groups.claim(group.id, key):
            _log(services, group, now, "escalation_failed", "Time window step is not configured; moving on")
        return None
    current = now.astimezone(UTC).time()
    inside = start <= current <= end if start <= end else (current >= start or current <= end)  # may cross midnight
    if inside:
        return None
    next_start = datetime.combine(now.astimezone(UTC).date(), start, tzinfo=UTC)
    if next_start <= now:
        next_start += timedelta(days=1)
    if services.store.groups.claim(group.id, key):
        _log(
            services,
            group,
            now,
            "escalation_wait",
            f"Outside {policy.notify_if_time_from}-{policy.notify_if_time_to}: continuing at {next_start:%H:%M} UTC",
        )
    return _wait(state, (next_start - now).total_seconds())


def _step_alerts_in_window(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    threshold = policy.num_alerts_in_window or 0
    minutes = policy.num_minutes_in_window or 1
    since = (group.last_alert_at or now) - timedelta(minutes=minutes)
    count = services.store.groups.count_alerts_since(group.id, since)
    if count > threshold:
        state["position"] += 1
        if group.escalation_paused:
            services.store.groups.clear_paused(group.id)
        return None
    # The group counts its newest alert before the alert's item is written: a resume can come between the two.
    newest = group.last_alert_at
    recent = newest is not None and now - newest < timedelta(minutes=1)  # an old one may be gone with the retention
    if recent and newest and not services.store.groups.count_alerts_since(group.id, newest - timedelta(seconds=0.001)):
        return _wait(state, 1)  # count again when it is there
    # Paused. As in OnCall, the next alert of the group resumes the escalation at once: the state is left on the
    # group for the append of that alert to take (``follow`` then starts it again); the re-check is the fallback.
    mark = json.dumps({**state, "wait_seconds": 0, "done": False}, separators=(",", ":"), sort_keys=True)
    # Once per pause (a re-check finds its own mark); refused if an alert joined since the count: count again.
    if group.escalation_paused != mark and not services.store.groups.mark_paused(group.id, mark, group.alerts_count):
        return _wait(state, 0)
    if services.store.groups.claim(group.id, f"{key}-paused"):
        _log(
            services,
            group,
            now,
            "escalation_paused",
            f"Escalation paused: {count} alerts in {minutes} min (continues above {threshold})",
        )
    return _wait(state, PAUSE_RECHECK_SECONDS)


def _step_repeat(
    policy: EscalationPolicy, group: AlertGroup, state: dict[str, Any], services: Services, now: datetime, key: str
) -> StepResult:
    repeats: dict[str, int] = state.setdefault("repeats", {})
    done = repeats.get(policy.id, 0)
    if done >= MAX_REPEATS:
        state["position"] += 1
        return None
    repeats[policy.id] = done + 1
    state["cycle"] += 1
    state["position"] = 0
    if services.store.groups.claim(group.id, key):
        _log(services, group, now, "escalation_repeat", f"Repeating escalation ({done + 1} of {MAX_REPEATS})")
    return None


STEPS: dict[str, Callable[..., StepResult]] = {
    "wait": _step_wait,
    "notify_persons": _step_notify_persons,
    "notify_person_next_each_time": _step_round_robin,
    "notify_on_call_from_schedule": _step_schedule,
    "notify_team_members": _step_team,
    "trigger_webhook": _step_webhook,
    "resolve": _step_resolve,
    "notify_if_time_from_to": _step_time_window,
    "notify_if_num_alerts_in_window": _step_alerts_in_window,
    "repeat_escalation": _step_repeat,
}


# --- a person's notification rules ------------------------------------------------------------------------------


def rules_for(store: Store, user: User, important: bool) -> list[dict[str, Any]]:
    rules = sorted(
        (r for r in store.rules.of_user(user.id) if r.important == important),
        key=lambda r: r.position,
    )
    if rules:
        return [{"type": r.type, "channel": r.channel, "duration": r.duration} for r in rules]
    return [{"type": t, "channel": c, "duration": d} for t, c, d in DEFAULT_RULES[important]]


def start_personal(
    store: Store,
    executor: Executor,
    group: AlertGroup,
    user: User,
    important: bool,
    key: str,
    generation: int,
    *,
    direct: bool = False,
) -> None:
    """Run ``user``'s notification rules for ``group``. ``direct`` (a page by a person) notifies even when the
    group is acknowledged or silenced; otherwise those stop it."""
    state = {
        "kind": "personal",
        "group_id": group.id,
        "generation": generation,
        "user_id": user.id,
        "important": important,
        "rules": rules_for(store, user, important),
        "position": 0,
        "key": key,
        "direct": direct,
        "wait_seconds": 0,
        "done": False,
    }
    executor.start(_personal_execution_name(key), state)


def _run_personal(state: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    if state.get("direct"):
        group = services.store.groups.get(state["group_id"])
        if group is None or group.resolved:
            return _finish(state)
    else:
        group = _current(services, state, now)
        if group is None or group.silenced:
            return _finish(state)
    user = services.store.users.get(state["user_id"])
    if user is None:
        return _finish(state)
    rules = state["rules"]
    while state["position"] < len(rules):
        rule = rules[state["position"]]
        key = f"{state['key']}-r{state['position']}"
        state["position"] += 1
        if rule["type"] == "wait":
            return _wait(state, rule.get("duration") or DEFAULT_WAIT_SECONDS)
        if services.store.groups.claim(group.id, key):
            _deliver(services, group, user, rule["channel"], bool(state["important"]), now)
    return _finish(state)


CHANNEL_NAMES = {"email": "e-mail", "sms": "SMS", "phone_call": "phone call", "webhook": "webhook"}


def _deliver(
    services: Services,
    group: AlertGroup,
    user: User,
    channel: str,
    important: bool,
    now: datetime,
    *,
    reminder: bool = False,
) -> None:
    from oncall.notify.channels import NotificationFailed

    name = CHANNEL_NAMES.get(channel, channel)
    address = user.contact(channel)  # type: ignore[arg-type]
    what = "acknowledgement reminder" if reminder else name
    if not address:
        missing = "phone number" if channel == "phone_call" else f"{name} address"
        _log(services, group, now, "notification_skipped", f"{what} to {user.username} not sent: no {missing}")
        return
    notification = compose_for(
        services, group, important=important, user_id=user.id, role=user.role, now=now, reminder=reminder
    )
    try:
        if channel == "email":
            services.notifier.email(address, notification)
        elif channel == "sms":
            services.notifier.sms(address, notification)
        elif channel == "phone_call":
            _call(services, address, notification)
        else:
            body = notification.slack_json if user.webhook_format == "slack" else notification.webhook_json
            services.notifier.webhook(address, body)
    except NotificationFailed as error:
        telemetry.count(telemetry.NOTIFICATIONS_FAILED, channel=channel)
        _log(services, group, now, "notification_failed", f"{what} to {user.username} failed: {error}")
        return
    telemetry.count(telemetry.NOTIFICATIONS_SENT, channel=channel)
    services.store.insights.notification_sent(user.id, now)
    sent = (
        f"Sent acknowledgement reminder ({name}) to {user.username}" if reminder else f"Sent {name} to {user.username}"
    )
    _log(services, group, now, "notification_sent", sent)


def _call(services: Services, number: str, notification: Any) -> None:
    """A phone call reads the group out; it is one-way, so the acknowledge link follows by SMS (sent even when the
    call failed: the link is what lets the person act)."""
    from oncall.notify.channels import NotificationFailed

    failures = []
    for send, what in ((services.notifier.phone_call, "call"), (services.notifier.sms, "SMS with the link")):
        try:
            send(number, notification)
        except NotificationFailed as error:
            failures.append(f"{what}: {error}")
    if failures:
        raise NotificationFailed("; ".join(failures))


def compose_for(
    services: Services,
    group: AlertGroup,
    *,
    important: bool,
    user_id: str | None,
    now: datetime,
    reminder: bool = False,
    role: str | None = None,
) -> Any:
    from oncall import links
    from oncall.notify.compose import compose

    config = services.store.integrations.config(group.integration_id)
    last = services.store.groups.alerts_by_id([(group.id, group.last_alert_id)]) if group.last_alert_id else {}
    alert = last.get(group.last_alert_id or "")
    key = services.signing_key()
    expires = now + links.DEFAULT_TTL

    def url(action: str) -> str:
        return links.action_url(services.public_url, links.sign(action, group.id, user_id, expires, key, role))

    # A reminder's first link confirms the acknowledgement instead of acknowledging.
    return compose(
        group_title=f"Still on it? {group.title or 'Alert'}" if reminder else group.title or "Alert",
        group_id=group.id,
        integration_name=config.integration.name if config else group.integration_id,
        state=group.state_at(now).value,
        alerts_count=group.alerts_count,
        message=alert.message if alert else None,
        source_link=group.source_link,
        ack_url=url("confirm" if reminder else "acknowledge"),
        resolve_url=url("resolve"),
        console_url=links.group_page_url(services.public_url, group.id),
        important=important,
    )


def _human(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# --- acknowledgement reminders ------------------------------------------------------------------------------------

REMINDER_EXPIRY = timedelta(days=14)


def start_reminder(services_store: Store, executor: Executor, group: AlertGroup) -> None:
    """After a person acknowledges: remind them every N seconds, and optionally unacknowledge (restarting the
    escalation) when a reminder gets no confirmation, as the integration is configured."""
    if not group.acknowledged or group.acknowledged_by in (None, actions.SOURCE) or group.acknowledged_at is None:
        return
    config = services_store.integrations.config(group.integration_id)
    if config is None or config.integration.ack_reminder_seconds <= 0:
        return
    integration = config.integration
    executor.start(
        _reminder_execution_name(group.id, group.acknowledged_at),
        {
            "kind": "reminder",
            "group_id": group.id,
            "acknowledged_at": group.acknowledged_at.isoformat(),
            "user_id": group.acknowledged_by,
            "every": integration.ack_reminder_seconds,
            "unack_after": integration.unack_timeout_seconds,
            "phase": "wait",
            "reminded_at": None,
            "wait_seconds": 0,
            "done": False,
        },
    )


def _run_reminder(state: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    group = services.store.groups.get(state["group_id"])
    acked_at = datetime.fromisoformat(state["acknowledged_at"])
    if (
        group is None
        or not group.acknowledged
        or group.resolved
        or group.acknowledged_at != acked_at
        or now - acked_at > REMINDER_EXPIRY
    ):
        return _finish(state)
    every, unack_after = int(state["every"]), int(state["unack_after"])
    if state["phase"] == "wait":
        return _wait({**state, "phase": "remind"}, every)
    if state["phase"] == "remind":
        user = services.store.users.get(state["user_id"])
        if user is not None and services.store.groups.claim(
            group.id, f"ack{int(acked_at.timestamp())}-{now.timestamp():.0f}"
        ):
            channel = next(
                (r["channel"] for r in rules_for(services.store, user, False) if r["type"] == "notify"), "email"
            )
            _deliver(services, group, user, channel, False, now, reminder=True)
        if unack_after:
            return _wait({**state, "phase": "unack", "reminded_at": now.isoformat()}, unack_after)
        return _wait(state, every)
    # phase "unack": confirmed since the reminder -> keep reminding; otherwise give the group back to escalation
    reminded_at = datetime.fromisoformat(state["reminded_at"])
    if group.ack_confirmed_at is not None and group.ack_confirmed_at >= reminded_at:
        return _wait({**state, "phase": "remind"}, max(every - unack_after, 60))
    transition = actions.unacknowledge(group, actions.SOURCE, now)
    transition.timeline[0].text = "Unacknowledged automatically: the reminder was not confirmed"
    # The new generation starts from the stored change (the table's stream), like every escalation.
    services.store.groups.save(restarted(transition.group), group.version, timeline=transition.timeline)
    return _finish(state)
