"""Grafana OnCall (public API ``/api/v1/``, header ``Authorization: <token>``) to Tocsin.

Tocsin's API has OnCall's shapes, so most objects map field by field; ids are translated as objects are created
(teams, users, webhooks, schedules and shifts, escalation chains and policies, integrations and routes).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from tocsin_cli.importers.base import Run, clamp_wait, fetch_json

RESOURCES = [
    "teams",
    "users",
    "webhooks",
    "schedules",
    "on_call_shifts",
    "escalation_chains",
    "escalation_policies",
    "integrations",
    "routes",
]
SLACK_ONLY = {
    "notify_whole_channel": "Slack-only step (notify the whole Slack channel)",
    "notify_user_group": "Slack-only step (notify a Slack user group)",
    "declare_incident": "Grafana Incident step: Tocsin has no incidents",
}
STEP_FIELDS = {
    "wait": ["duration"],
    "notify_persons": ["persons_to_notify"],
    "notify_person_next_each_time": ["persons_to_notify_next_each_time"],
    "notify_on_call_from_schedule": ["notify_on_call_from_schedule"],
    "notify_team_members": ["team_to_notify"],
    "trigger_webhook": ["action_to_trigger"],
    "resolve": [],
    "notify_if_time_from_to": ["notify_if_time_from", "notify_if_time_to"],
    "notify_if_num_alerts_in_window": ["num_alerts_in_window", "num_minutes_in_window"],
    "repeat_escalation": [],
}
SHIFT_FIELDS = [
    "level",
    "start",
    "rotation_start",
    "duration",
    "frequency",
    "interval",
    "by_day",
    "by_month",
    "by_monthday",
    "week_start",
    "start_rotation_from_user_index",
    "until",
    "time_zone",
]
TEMPLATE_KEYS = ["grouping_key", "resolve_signal", "acknowledge_signal", "source_link"]
NOT_IMPORTED_TYPES = {
    "direct_paging": "Tocsin creates a team's direct paging integration on first use",
    "maintenance": "maintenance integrations are internal to OnCall",
}


def client(url: str, token: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An OnCall API client; ``url`` is the OnCall base URL (``.../api/v1/`` is added when missing)."""
    base = url.rstrip("/")
    if not base.endswith("/api/v1"):
        base += "/api/v1"
    return httpx.Client(base_url=base, headers={"Authorization": token}, timeout=30, transport=transport)


def fetch(http: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """Every object of each resource, following ``next`` links."""
    data: dict[str, list[dict[str, Any]]] = {}
    for resource in RESOURCES:
        items: list[dict[str, Any]] = []
        page: Any = fetch_json(http, f"/{resource}/")
        while True:
            items.extend(page.get("results", []))
            following = page.get("next")
            if not following:
                break
            parts = urlsplit(following)  # absolute URL of the source: keep path and query on our client
            path = parts.path[parts.path.index("/api/v1") + len("/api/v1") :] if "/api/v1" in parts.path else parts.path
            page = fetch_json(http, f"{path}?{parts.query}" if parts.query else path)
        data[resource] = items
    return data


def import_all(http: httpx.Client, run: Run) -> None:
    apply(fetch(http), run)


def apply(data: dict[str, list[dict[str, Any]]], run: Run) -> None:
    teams = _teams(data, run)
    users = _users(data, run, teams)
    webhooks = _webhooks(data, run, teams)
    schedules = _schedules(data, run, teams, users)
    chains = _chains(data, run, teams, users, schedules, webhooks)
    _integrations(data, run, teams, chains)


def _teams(data: dict[str, Any], run: Run) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for team in data["teams"]:
        body = {"name": team["name"], "email": team.get("email") or None}
        out[team["id"]], _ = run.ensure("team", team["id"], team["name"], "/api/v1/teams/", body)
    return out


def _users(data: dict[str, Any], run: Run, teams: dict[str, str | None]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for user in data["users"]:
        out[user["id"]] = run.ensure_user(
            user["id"],
            user.get("email"),
            user.get("username") or "",
            timezone=user.get("timezone"),
            teams=[t for t in (teams.get(x) for x in user.get("teams") or []) if t],
        )
    return out


def _webhooks(data: dict[str, Any], run: Run, teams: dict[str, str | None]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for hook in data["webhooks"]:
        name, method = hook["name"], (hook.get("http_method") or "POST").upper()
        if method not in ("POST", "PUT"):
            run.skip("webhook", hook["id"], name, f"http_method {method}: Tocsin sends POST or PUT")
            continue
        if not hook.get("url"):
            run.skip("webhook", hook["id"], name, "no URL (templated or preset webhook)")
            continue
        headers, notes = _headers(hook)
        notes.append("trigger_type, data and filters not imported: Tocsin triggers it from a trigger_webhook step")
        body = {
            "name": name,
            "url": hook["url"],
            "http_method": method,
            "headers": headers,
            "format": "json",
            "is_webhook_enabled": bool(hook.get("is_webhook_enabled", True)),
            "team_id": teams.get(hook.get("team_id") or hook.get("team") or ""),
        }
        out[hook["id"]], _ = run.ensure("webhook", hook["id"], name, "/api/v1/webhooks/", body, reason="; ".join(notes))
    return out


def _headers(hook: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    notes: list[str] = []
    raw = hook.get("headers")
    if raw:
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
            headers = {str(k): str(v) for k, v in parsed.items()}
            if any("{{" in v for v in headers.values()):
                notes.append("headers contain Jinja2 templates, sent as text")
        except (ValueError, AttributeError):
            notes.append("headers are not a JSON object: left out")
    if hook.get("authorization_header"):
        headers["Authorization"] = str(hook["authorization_header"])
    if hook.get("username"):
        notes.append("basic auth (username/password) not imported: add an Authorization header")
    return headers, notes


def _schedules(
    data: dict[str, Any], run: Run, teams: dict[str, str | None], users: dict[str, str | None]
) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    placed: set[str] = set()
    shifts_by_id = {s["id"]: s for s in data["on_call_shifts"]}
    for schedule in data["schedules"]:
        name, kind = schedule["name"], schedule.get("type") or "web"
        body: dict[str, Any] = {
            "name": name,
            "team_id": teams.get(schedule.get("team_id") or ""),
            "time_zone": schedule.get("time_zone") or None,
        }
        if kind == "ical":
            body |= {
                "type": "ical",
                "ical_url_primary": schedule.get("ical_url_primary"),
                "ical_url_overrides": schedule.get("ical_url_overrides"),
            }
        else:
            body["type"] = "web"
        out[schedule["id"]], _ = run.ensure("schedule", schedule["id"], name, "/api/v1/schedules/", body)
        if kind == "ical" or out[schedule["id"]] is None:
            continue
        mine = [shifts_by_id[i] for i in schedule.get("shifts") or [] if i in shifts_by_id]
        mine += [s for s in data["on_call_shifts"] if s.get("schedule_id") == schedule["id"] and s not in mine]
        for shift in mine:
            placed.add(shift["id"])
            _shift(run, shift, str(out[schedule["id"]]), teams, users)
    for shift in data["on_call_shifts"]:
        if shift["id"] not in placed:
            run.skip("on_call_shift", shift["id"], shift.get("name") or "", "not part of any imported schedule")
    return out


def _shift(
    run: Run, shift: dict[str, Any], schedule_id: str, teams: dict[str, str | None], users: dict[str, str | None]
) -> None:
    name = shift.get("name") or f"{shift['type']} {shift['id']}"
    dropped = [
        u
        for u in [*(shift.get("users") or []), *(u for group in shift.get("rolling_users") or [] for u in group)]
        if not users.get(u)
    ]
    body: dict[str, Any] = {"name": name, "type": shift["type"], "team_id": teams.get(shift.get("team_id") or "")}
    body |= {k: shift[k] for k in SHIFT_FIELDS if shift.get(k) is not None}
    if shift["type"] == "rolling_users":
        groups = [[str(users[u]) for u in group if users.get(u)] for group in shift.get("rolling_users") or []]
        body["rolling_users"] = [g for g in groups if g]
        if not body["rolling_users"]:
            run.skip("on_call_shift", shift["id"], name, "none of its users could be imported")
            return
        body["start_rotation_from_user_index"] = min(
            body.get("start_rotation_from_user_index", 0), len(body["rolling_users"]) - 1
        )
    else:
        body["users"] = [str(users[u]) for u in shift.get("users") or [] if users.get(u)]
        if not body["users"]:
            run.skip("on_call_shift", shift["id"], name, "none of its users could be imported")
            return
    reason = f"users left out (not imported): {', '.join(dropped)}" if dropped else ""
    run.ensure_shift("on_call_shift", shift["id"], name, schedule_id, body, reason=reason)


def _chains(
    data: dict[str, Any],
    run: Run,
    teams: dict[str, str | None],
    users: dict[str, str | None],
    schedules: dict[str, str | None],
    webhooks: dict[str, str | None],
) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    refs = {
        "persons_to_notify": users,
        "persons_to_notify_next_each_time": users,
        "team_to_notify": teams,
        "notify_on_call_from_schedule": schedules,
        "action_to_trigger": webhooks,
    }
    for chain in data["escalation_chains"]:
        chain_id, new = run.ensure_chain(chain["id"], chain["name"], teams.get(chain.get("team_id") or ""))
        out[chain["id"]] = chain_id
        policies = sorted(
            (p for p in data["escalation_policies"] if p.get("escalation_chain_id") == chain["id"]),
            key=lambda p: p.get("position", 0),
        )
        for policy in policies:
            label = f"{chain['name']} #{policy.get('position', 0)} {policy['type']}"
            if chain_id is None or not new:
                if chain_id is not None:
                    run.record("escalation_policy", policy["id"], label, "reuse", "the chain exists: steps kept")
                continue
            if policy["type"] in SLACK_ONLY or policy["type"] not in STEP_FIELDS:
                run.skip(
                    "escalation_policy",
                    policy["id"],
                    label,
                    SLACK_ONLY.get(policy["type"], f"step type {policy['type']} unknown to Tocsin"),
                )
                continue
            step: dict[str, Any] = {"type": policy["type"]}
            if policy.get("important") is not None:
                step["important"] = bool(policy["important"])
            problem = ""
            for field in STEP_FIELDS[policy["type"]]:
                value = policy.get(field)
                if field in refs:
                    mapping = refs[field]
                    if isinstance(value, list):
                        value = [mapping.get(v) for v in value if mapping.get(v)]
                        problem = "" if value else f"{field}: nobody could be imported"
                    else:
                        value = mapping.get(value or "")
                        problem = "" if value else f"{field}: {policy.get(field)} was not imported"
                elif field == "duration":
                    value = clamp_wait(value or 60)
                step[field] = value
            if problem:
                run.skip("escalation_policy", policy["id"], label, problem)
                continue
            run.add_step(chain_id, policy["id"], label, step)
    return out


def _integrations(data: dict[str, Any], run: Run, teams: dict[str, str | None], chains: dict[str, str | None]) -> None:
    for integration in data["integrations"]:
        name, kind = integration["name"], integration["type"]
        if kind in NOT_IMPORTED_TYPES:
            run.skip("integration", integration["id"], name, NOT_IMPORTED_TYPES[kind])
            continue
        source_templates = integration.get("templates") or {}
        templates: dict[str, Any] = {k: source_templates.get(k) for k in TEMPLATE_KEYS if source_templates.get(k)}
        if _set(source_templates.get("web")):
            templates["web"] = {
                k: v for k, v in source_templates["web"].items() if k in ("title", "message", "image_url")
            }
        others = [k for k, v in source_templates.items() if k not in (*TEMPLATE_KEYS, "web") and _set(v)]
        notes = (
            [f"channel templates not imported ({', '.join(sorted(others))}): Tocsin renders from web"] if others else []
        )
        default_chain = chains.get((integration.get("default_route") or {}).get("escalation_chain_id") or "")
        body: dict[str, Any] = {"name": name, "type": kind, "team_id": teams.get(integration.get("team_id") or "")}
        if templates:
            body["templates"] = templates
        if default_chain:
            body["default_route"] = {"escalation_chain_id": default_chain}
        new_id, created = run.ensure_integration(integration["id"], body, reason="; ".join(notes))
        key = "routing_key" if kind == "pagerduty" else "link"
        old = integration.get("link") or integration.get("inbound_email") or ""
        run.ingest_url(name, old, new_id, created, key)
        routes = sorted(
            (
                r
                for r in data["routes"]
                if r.get("integration_id") == integration["id"] and not r.get("is_the_last_route")
            ),
            key=lambda r: r.get("position", 0),
        )
        for route in routes:
            label = f"{name}: {route.get('routing_regex') or route.get('routing_type')}"
            if new_id is None:
                continue
            if created is None and not new_id.startswith("<new "):
                run.record("route", route["id"], label, "reuse", "the integration exists: routes kept")
                continue
            routing_type = route.get("routing_type") or "regex"
            if routing_type not in ("regex", "jinja2"):
                run.skip("route", route["id"], label, f"routing_type {routing_type}: recreate it by hand")
                continue
            chain = chains.get(route.get("escalation_chain_id") or "")
            body = {
                "integration_id": new_id,
                "routing_type": routing_type,
                "routing_regex": route.get("routing_regex"),
                "escalation_chain_id": chain,
            }
            run.ensure("route", route["id"], label, "/api/v1/routes/", body, match=lambda r: False)


def _set(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_set(v) for v in value.values())
    return value not in (None, "", False)
