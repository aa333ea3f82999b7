"""Escalation chains and their steps: the list, creating, renaming and deleting chains, adding, reordering and
deleting steps. Every change goes through the chain use cases (:mod:`oncall.services.chains`), which decide who
may, so a form refuses exactly what the API refuses, with the same message."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from oncall import schemas
from oncall.directory import EscalationPolicy
from oncall.escalation import MAX_REPEATS
from oncall.services import chains, webhooks
from oncall.services.policy import Action, Resource, allows
from oncall.web.base import Request, Response, Route, attempt, back, may_change, page, run

STEP_TYPES: tuple[tuple[str, str], ...] = (
    ("wait", "Wait"),
    ("notify_persons", "Notify users"),
    ("notify_person_next_each_time", "Notify the next user in turn"),
    ("notify_on_call_from_schedule", "Notify on-call from a schedule"),
    ("notify_team_members", "Notify team members"),
    ("trigger_webhook", "Trigger an outgoing webhook"),
    ("notify_if_time_from_to", "Continue only within a time window"),
    ("notify_if_num_alerts_in_window", "Continue only above an alert count"),
    ("repeat_escalation", "Repeat from the top"),
    ("resolve", "Resolve"),
)
NOTIFY_TYPES = frozenset(
    {"notify_persons", "notify_person_next_each_time", "notify_on_call_from_schedule", "notify_team_members"}
)


def chain_names(request: Request) -> dict[str, str]:
    return {c.id: c.name for c in chains.list_chains(request.ports, request.principal)}


# --- chains --------------------------------------------------------------------------------------------------------


def _teams(request: Request) -> dict[str, str]:
    return {t.id: t.name for t in request.store.teams.list()}


def _steps(request: Request, chain_id: str) -> list[EscalationPolicy]:
    return chains.list_policies(request.ports, request.principal, chain_id=chain_id)


def _may_create(request: Request, team_id: str | None = None) -> bool:
    return allows(request.principal, Resource.ESCALATION_CHAINS, Action.CREATE, teams=[team_id])


def chains_page(request: Request) -> Response:
    teams = _teams(request)
    rows = [
        {
            "chain": chain,
            "team": teams.get(chain.team_id, chain.team_id) if chain.team_id else None,
            "steps": len(_steps(request, chain.id)),
            "editable": may_change(request, Resource.ESCALATION_CHAINS, chain.team_id),
        }
        for chain in sorted(chains.list_chains(request.ports, request.principal), key=lambda c: c.name.lower())
    ]
    choices = sorted(((i, n) for i, n in teams.items() if _may_create(request, i)), key=lambda t: t[1].lower())
    return page(request, "chains.html", rows=rows, team_choices=choices, may_create=_may_create(request))


def create_chain(request: Request) -> Response:
    body = {"name": request.form.get("name", "").strip(), "team_id": request.optional("team_id")}
    created = run(lambda: chains.create_chain(request.ports, request.principal, schemas.ChainIn.model_validate(body)))
    return back(request, f"/chains/{quote(created.id)}", notice=f"Escalation chain “{created.name}” created.")


def delete_chain(request: Request, chain_id: str) -> Response:
    deleted = run(lambda: chains.delete_chain(request.ports, request.principal, chain_id))
    return back(request, "/chains", notice=f"Escalation chain “{deleted.name}” deleted.")


def rename_chain(request: Request, chain_id: str) -> Response:
    name = request.form.get("name", "").strip()
    return attempt(
        request,
        f"/chains/{quote(chain_id)}",
        "Escalation chain renamed.",
        lambda: chains.update_chain(request.ports, request.principal, chain_id, schemas.ChainPatch(name=name)),
    )


# --- steps ---------------------------------------------------------------------------------------------------------


def _duration(seconds: int | None) -> str:
    seconds = seconds or 0
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _clock(value: str | None) -> str:
    """``09:00:00Z`` -> ``09:00`` (seconds only when they matter)."""
    if not value:
        return "?"
    text = value.removesuffix("Z")
    return text.removesuffix(":00") if len(text) == 8 else text


def describe(policy: EscalationPolicy, names: dict[str, dict[str, str]]) -> str:
    """A step in words, with names instead of ids (an unknown id is shown as is)."""

    def name(kind: str, entity_id: str | None) -> str:
        return names[kind].get(entity_id, entity_id) if entity_id else "?"

    important = " (important)" if policy.important and policy.type in NOTIFY_TYPES else ""
    match policy.type:
        case "wait":
            return f"Wait {_duration(policy.duration)}"
        case "notify_persons":
            people = ", ".join(name("users", u) for u in policy.persons_to_notify) or "nobody"
            return f"Notify {people}{important}"
        case "notify_person_next_each_time":
            people = ", ".join(name("users", u) for u in policy.persons_to_notify_next_each_time) or "nobody"
            return f"Notify the next of {people}, in turn{important}"
        case "notify_on_call_from_schedule":
            return f"Notify on-call from schedule {name('schedules', policy.notify_on_call_from_schedule)}{important}"
        case "notify_team_members":
            return f"Notify the members of team {name('teams', policy.team_to_notify)}{important}"
        case "trigger_webhook":
            return f"Trigger webhook {name('webhooks', policy.action_to_trigger)}"
        case "notify_if_time_from_to":
            return (
                f"Continue only between {_clock(policy.notify_if_time_from)} and {_clock(policy.notify_if_time_to)} UTC"
            )
        case "notify_if_num_alerts_in_window":
            return (
                f"Continue only if more than {policy.num_alerts_in_window} alerts "
                f"in {policy.num_minutes_in_window or 1} min"
            )
        case "repeat_escalation":
            return f"Repeat from the top (at most {MAX_REPEATS} times)"
        case "resolve":
            return "Resolve"
    return policy.type


def lookup_names(request: Request) -> dict[str, dict[str, str]]:
    """Names of what steps refer to, by kind and id (for :func:`describe`)."""
    store = request.store
    return {
        "users": {u.id: u.username for u in store.users.list()},
        "teams": _teams(request),
        "schedules": {s.id: s.name for s in store.schedules.list()},
        "webhooks": {w.id: w.name for w in webhooks.list_webhooks(request.ports, request.principal)},
    }


def chain_page(request: Request, chain_id: str) -> Response:
    chain = chains.get_chain(request.ports, request.principal, chain_id)
    names = lookup_names(request)
    steps = [{"policy": p, "text": describe(p, names)} for p in _steps(request, chain_id)]
    integrations = {i.id: i.name for i in request.store.integrations.list()}
    used_by = sorted(
        {
            integrations.get(r.integration_id, r.integration_id): r.integration_id
            for r in request.store.integrations.routes()
            if r.escalation_chain_id == chain_id
        }.items()
    )
    return page(
        request,
        "chain.html",
        200,
        chain=chain,
        team=names["teams"].get(chain.team_id, chain.team_id) if chain.team_id else None,
        steps=steps,
        editable=may_change(request, Resource.ESCALATION_CHAINS, chain.team_id),
        may_change_some=may_change(request, Resource.ESCALATION_CHAINS, None),
        step_types=STEP_TYPES,
        used_by=used_by,
        **{kind: sorted(entries.items(), key=lambda e: e[1].lower()) for kind, entries in names.items()},
    )


def _time(value: str | None) -> str | None:
    """A time input's ``HH:MM`` (or ``HH:MM:SS``) as the API's ``HH:MM:SSZ``; anything else as typed."""
    if value is None:
        return None
    if re.fullmatch(r"\d\d:\d\d", value):
        return f"{value}:00Z"
    if re.fullmatch(r"\d\d:\d\d:\d\d", value):
        return f"{value}Z"
    return value


def _step_fields(request: Request, step_type: str) -> dict[str, Any]:
    """Only the fields of the chosen type (the form shows them all), as the API would be sent them."""
    important = request.form.get("important") in ("on", "true", "1")
    match step_type:
        case "wait":
            return {"duration": request.optional("duration")}
        case "notify_persons":
            return {"persons_to_notify": request.values("persons"), "important": important}
        case "notify_person_next_each_time":
            return {"persons_to_notify_next_each_time": request.values("persons"), "important": important}
        case "notify_on_call_from_schedule":
            return {"notify_on_call_from_schedule": request.optional("schedule"), "important": important}
        case "notify_team_members":
            return {"team_to_notify": request.optional("team"), "important": important}
        case "trigger_webhook":
            return {"action_to_trigger": request.optional("webhook")}
        case "notify_if_time_from_to":
            return {
                "notify_if_time_from": _time(request.optional("time_from")),
                "notify_if_time_to": _time(request.optional("time_to")),
            }
        case "notify_if_num_alerts_in_window":
            return {
                "num_alerts_in_window": request.optional("num_alerts"),
                "num_minutes_in_window": request.optional("num_minutes"),
            }
    return {}


def add_step(request: Request, chain_id: str) -> Response:
    step_type = request.form.get("type", "")
    fields = {k: v for k, v in _step_fields(request, step_type).items() if v is not None}

    def change() -> EscalationPolicy:
        body = schemas.PolicyIn.model_validate({"escalation_chain_id": chain_id, "type": step_type, **fields})
        return chains.create_policy(request.ports, request.principal, body)

    return attempt(request, f"/chains/{quote(chain_id)}", "Step added.", change)


def step_action(request: Request, chain_id: str, policy_id: str, action: str) -> Response:
    """Delete a step of this chain, or move it one place up or down."""
    ports, caller, path = request.ports, request.principal, f"/chains/{quote(chain_id)}"
    if action == "delete":
        return attempt(
            request, path, "Step deleted.", lambda: chains.delete_policy(ports, caller, policy_id, chain_id=chain_id)
        )
    moved = run(lambda: chains.move_policy(ports, caller, policy_id, -1 if action == "up" else 1, chain_id=chain_id))
    if moved is None:
        return back(request, path, notice="The step is already " + ("first." if action == "up" else "last."))
    return back(request, path, notice=f"Step moved {action}.")


ROUTES: list[Route] = [
    ("GET", r"/chains", chains_page),
    ("POST", r"/chains", create_chain),
    ("GET", r"/chains/([\w-]+)", chain_page),
    ("POST", r"/chains/([\w-]+)/delete", delete_chain),
    ("POST", r"/chains/([\w-]+)/rename", rename_chain),
    ("POST", r"/chains/([\w-]+)/steps", add_step),
    ("POST", r"/chains/([\w-]+)/steps/([\w-]+)/(up|down|delete)", step_action),
]
