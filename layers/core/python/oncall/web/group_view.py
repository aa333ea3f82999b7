"""What the alert group page shows a responder, from the API's shapes: the alert's labels, annotations, description
and runbook (read from the alert payload as monitors send it), names instead of ids, and who is notified now and
next by the group's escalation chain. Pure functions, except :func:`escalation_plan`, which reads through the use
cases."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from oncall.directory import EscalationPolicy
from oncall.errors import NotFound
from oncall.models import AlertGroup, TimelineEntry
from oncall.services import Ports, chains
from oncall.services import schedules as schedules_service
from oncall.services.policy import Principal

RUNBOOK_KEYS: Final = ("runbook_url", "runbook", "runbookUrl", "playbook_url")
DESCRIPTION_KEYS: Final = ("description", "summary", "message")
NOTIFY_TYPES: Final = frozenset(
    {"notify_persons", "notify_person_next_each_time", "notify_on_call_from_schedule", "notify_team_members"}
)
ID_TOKEN: Final = re.compile(r"\b[A-Z][A-Z0-9]{3,}\b")  # user ids in timeline texts ("Acknowledged by U2QDHZ91DTE9L")
ACTORS: Final = {"source": "the alert source", "link": "an action link", "escalation": "the escalation chain"}


# --- the alert payload ----------------------------------------------------------------------------------------------


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items() if v is not None and str(v) != ""}


def _part(payload: Any, single: str, common: str) -> dict[str, str]:
    """A payload's ``labels`` or ``annotations``: its own (per-alert payloads, webhooks), else its only alert's,
    else what all its alerts share (Alertmanager's and Grafana's ``common...``)."""
    if not isinstance(payload, Mapping):
        return {}
    if own := _strings(payload.get(single)):
        return own
    alerts = payload.get("alerts")
    only = alerts[0] if isinstance(alerts, Sequence) and len(alerts) == 1 else None
    if isinstance(only, Mapping) and (labels := _strings(only.get(single))):
        return labels
    return _strings(payload.get(common))


def alert_labels(payload: Any, group_labels: Mapping[str, str]) -> dict[str, str]:
    """The group's labels (the integration's), then the alert's own (``alertname``, ``severity``, ...)."""
    return {**dict(group_labels), **_part(payload, "labels", "commonLabels")}


def alert_annotations(payload: Any) -> dict[str, str]:
    return _part(payload, "annotations", "commonAnnotations")


def web_url(value: str | None) -> str | None:
    return value if value and value.lower().startswith(("https://", "http://")) else None


def runbook_url(annotations: Mapping[str, str]) -> str | None:
    return next((url for key in RUNBOOK_KEYS if (url := web_url(annotations.get(key)))), None)


def description(annotations: Mapping[str, str], message: str | None) -> str | None:
    """What the alert says: its ``description`` (or ``summary``) annotation, else the rendered message."""
    found = next((annotations[key] for key in DESCRIPTION_KEYS if annotations.get(key)), None)
    return found or (message or "").strip() or None


def other_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    """The annotations not already shown as the description, the title or the runbook button."""
    shown = {*RUNBOOK_KEYS, *DESCRIPTION_KEYS, "title"}
    return {k: v for k, v in annotations.items() if k not in shown}


# --- names instead of ids ---------------------------------------------------------------------------------------


def who(actor: str | None, names: Mapping[str, str]) -> str:
    """A user's name for their id; "the alert source", "an action link" ... for the others."""
    if not actor:
        return ""
    return names.get(actor) or ACTORS.get(actor, actor)


def named(text: str, names: Mapping[str, str]) -> str:
    """``text`` with every user id it names replaced by the user's name."""
    return ID_TOKEN.sub(lambda match: names.get(match[0], match[0]), text)


def timeline(entries: Sequence[TimelineEntry], names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"at": e.at, "type": e.type, "text": named(e.text, names), "author": who(e.author, names)} for e in entries]


# --- who is notified, now and next --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanStep:
    text: str  # "Notify on-call from schedule Primary"
    people: tuple[str, ...] = ()  # who the step reaches now
    status: Literal["done", "next", "later", ""] = ""


@dataclass
class EscalationPlan:
    chain_name: str | None = None
    chain_id: str | None = None
    steps: list[PlanStep] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # paged so far in this escalation, in order
    next_people: list[str] = field(default_factory=list)
    next_text: str | None = None
    running: bool = False  # the chain still runs for this group (firing, not finished)


def _people_now(ports: Ports, policy: EscalationPolicy, names: Mapping[str, str], now: datetime) -> tuple[str, ...]:
    store = ports.store
    match policy.type:
        case "notify_persons":
            return tuple(names.get(u, u) for u in policy.persons_to_notify)
        case "notify_person_next_each_time":
            return tuple(names.get(u, u) for u in policy.persons_to_notify_next_each_time)
        case "notify_on_call_from_schedule":
            try:
                on_call = schedules_service.users_on_call(store, policy.notify_on_call_from_schedule or "", now)
            except schedules_service.ScheduleNotFound:
                return ()
            return tuple(u.username for u in on_call)
        case "notify_team_members":
            team = policy.team_to_notify
            return tuple(u.username for u in store.users.list() if team and team in u.teams)
    return ()


def _this_escalation(entries: Sequence[TimelineEntry]) -> list[TimelineEntry]:
    """The entries since the current escalation (re)started."""
    starts = [i for i, e in enumerate(entries) if e.type == "escalation_started"]
    return list(entries[starts[-1] :]) if starts else list(entries)


def _notified(entries: Sequence[TimelineEntry], usernames: set[str]) -> list[str]:
    """The people paged in ``entries``: by the chain ("...: notifying alice, bob") or by hand ("x paged alice")."""
    found: list[str] = []
    for entry in entries:
        if entry.type == "escalation_notify" and ": notifying " in entry.text:
            listed = entry.text.split(": notifying ", 1)[1]
        elif entry.type == "direct_paging" and " paged " in entry.text:
            listed = entry.text.split(" paged ", 1)[1]
        else:
            continue
        for name in listed.removesuffix(" (important)").split(", "):
            name = name.removesuffix(" (important)")
            if name in usernames and name not in found:
                found.append(name)
    return found


def _notify_steps_run(entries: Sequence[TimelineEntry]) -> int:
    """How many notify steps this escalation ran: each logs once, whom it notified or why nobody."""
    return sum(
        1
        for e in entries
        if e.type == "escalation_notify" or (e.type == "notification_failed" and e.text.startswith("Notify"))
    )


def escalation_plan(
    ports: Ports,
    caller: Principal,
    group: AlertGroup,
    entries: Sequence[TimelineEntry],
    names: Mapping[str, str],
    describe: Callable[[EscalationPolicy], str],
    now: datetime,
) -> EscalationPlan:
    """The group's chain as steps with whom each reaches now, who was notified so far and who is next
    (``describe(policy)``: a step in words)."""
    current = _this_escalation(entries)
    plan = EscalationPlan(notified=_notified(entries, set(names.values())))
    if not group.escalation_chain_id:
        return plan
    try:
        chain = chains.get_chain(ports, caller, group.escalation_chain_id)
    except NotFound:
        return plan
    policies = chains.list_policies(ports, caller, chain_id=chain.id)
    plan.chain_name, plan.chain_id = chain.name, chain.id
    state = group.state_at(now).value
    plan.running = state == "firing" and not group.escalation_finished and group.escalation_generation > 0
    done = _notify_steps_run(current) if group.escalation_generation else 0
    seen = 0
    for policy in policies:
        status: Literal["done", "next", "later", ""] = ""
        people: tuple[str, ...] = ()
        if policy.type in NOTIFY_TYPES:
            people = _people_now(ports, policy, names, now)
            if seen < done:
                status = "done"
            elif plan.running and plan.next_text is None:
                status = "next"
                plan.next_text, plan.next_people = describe(policy), list(people)
            else:
                status = "later"
            seen += 1
        plan.steps.append(PlanStep(text=describe(policy), people=people, status=status))
    return plan
