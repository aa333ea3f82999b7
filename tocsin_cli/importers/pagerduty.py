"""PagerDuty (REST API v2, header ``Authorization: Token token=<key>``, ``offset``/``limit``/``more`` paging).

teams, users (by e-mail), schedules (layers as ``rolling_users`` shifts, overrides as ``override`` shifts),
escalation policies (rules as steps with waits, ``num_loops`` as a repeat), services (a ``pagerduty``
integration each: senders keep the Events API and change the host and the routing key).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tocsin_cli.importers.base import Run, clamp_wait, fetch_json

API_URL = "https://api.pagerduty.com"
PAGE = 100
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]  # PagerDuty start_day_of_week: 1 = Monday
OVERRIDE_DAYS = 90


def client(token: str, url: str = API_URL, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    headers = {"Authorization": f"Token token={token}", "Accept": "application/vnd.pagerduty+json;version=2"}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30, transport=transport)


def paged(
    http: httpx.Client, path: str, key: str, params: dict[str, Any] | None = None, optional: bool = False
) -> list[dict[str, Any]] | None:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        body = fetch_json(http, path, {**(params or {}), "offset": offset, "limit": PAGE}, optional=optional)
        if body is None:
            return None
        page = body.get(key) or []
        items.extend(page)
        if not body.get("more") or not page:
            return items
        offset += len(page)


def fetch(http: httpx.Client, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    data: dict[str, Any] = {
        "teams": paged(http, "/teams", "teams", optional=True) or [],
        "users": paged(http, "/users", "users", {"include[]": "contact_methods"}) or [],
        "escalation_policies": paged(http, "/escalation_policies", "escalation_policies") or [],
        "services": paged(http, "/services", "services", {"include[]": "integrations"}) or [],
        "event_orchestrations": paged(http, "/event_orchestrations", "orchestrations", optional=True) or [],
        "rulesets": paged(http, "/rulesets", "rulesets", optional=True) or [],
    }
    schedules = []
    since, until = now.isoformat(), (now + timedelta(days=OVERRIDE_DAYS)).isoformat()
    for summary in paged(http, "/schedules", "schedules") or []:
        schedule = fetch_json(http, f"/schedules/{summary['id']}")["schedule"]
        overrides = fetch_json(http, f"/schedules/{summary['id']}/overrides", {"since": since, "until": until})
        schedule["overrides"] = (overrides or {}).get("overrides") or []
        schedules.append(schedule)
    data["schedules"] = schedules
    return data


def import_all(http: httpx.Client, run: Run, tocsin_url: str = "") -> None:
    apply(fetch(http), run, tocsin_url)


def apply(data: dict[str, Any], run: Run, tocsin_url: str = "") -> None:
    teams: dict[str, str | None] = {}
    for team in data["teams"]:
        teams[team["id"]], _ = run.ensure("team", team["id"], team["name"], "/api/v1/teams/", {"name": team["name"]})
    users: dict[str, str | None] = {}
    for user in data["users"]:
        member_of = [t for t in (teams.get(ref["id"]) for ref in user.get("teams") or []) if t]
        users[user["id"]] = run.ensure_user(
            user["id"], user.get("email"), user.get("name") or "", timezone=user.get("time_zone"), teams=member_of
        )
    schedules = {s["id"]: _schedule(run, s, teams, users) for s in data["schedules"]}
    chains = {p["id"]: _policy(run, p, teams, users, schedules) for p in data["escalation_policies"]}
    for service in data["services"]:
        _service(run, service, teams, chains, tocsin_url)
    for orchestration in data["event_orchestrations"]:
        run.skip(
            "event_orchestration",
            orchestration["id"],
            orchestration.get("name") or "",
            "event orchestrations are not imported: use routes (regex/Jinja2) on the integration",
        )
    for ruleset in data["rulesets"]:
        run.skip(
            "event_ruleset",
            ruleset["id"],
            ruleset.get("name") or "",
            "event rules are not imported: use routes (regex/Jinja2) on the integration",
        )


def _team(teams: dict[str, str | None], refs: list[dict[str, Any]] | None) -> str | None:
    return next((teams[r["id"]] for r in refs or [] if teams.get(r["id"])), None)


def _schedule(
    run: Run, schedule: dict[str, Any], teams: dict[str, str | None], users: dict[str, str | None]
) -> str | None:
    team_id = _team(teams, schedule.get("teams"))
    schedule_id = run.ensure_web_schedule(schedule["id"], schedule["name"], schedule.get("time_zone"), team_id)
    if schedule_id is None:
        return None
    layers = schedule.get("schedule_layers") or []
    for index, layer in enumerate(layers):
        # rendering_index: higher is on top; without it the API lists the top layer first.
        level = layer.get("rendering_index", len(layers) - index)
        _layer(run, layer, schedule_id, level, users)
    for override in schedule.get("overrides") or []:
        run.ensure_override(
            override["id"],
            f"{schedule['name']} override {override['start']}",
            schedule_id,
            f"override {override['id']}",
            users.get((override.get("user") or {}).get("id", "")),
            override["start"],
            override["end"],
        )
    return schedule_id


def _layer(run: Run, layer: dict[str, Any], schedule_id: str, level: int, users: dict[str, str | None]) -> None:
    name = layer.get("name") or f"Layer {layer['id']}"
    if layer.get("end") and datetime.fromisoformat(layer["end"]) < datetime.now(UTC):
        run.skip("schedule_layer", layer["id"], name, "the layer ended")
        return
    turn = int(layer["rotation_turn_length_seconds"])
    frequency = next(
        ((f, turn // s) for f, s in (("weekly", 604_800), ("daily", 86_400), ("hourly", 3_600)) if turn % s == 0), None
    )
    if frequency is None:
        run.skip("schedule_layer", layer["id"], name, f"turn of {turn} s is not a whole number of hours")
        return
    members = [(entry.get("user") or entry)["id"] for entry in layer.get("users") or []]
    rolling = [[users[m]] for m in members if users.get(m)]
    if not rolling:
        run.skip("schedule_layer", layer["id"], name, "none of its users could be imported")
        return
    body: dict[str, Any] = {
        "name": name,
        "type": "rolling_users",
        "level": level,
        "start": layer["rotation_virtual_start"],
        "duration": turn,
        "frequency": frequency[0],
        "interval": frequency[1],
        "rolling_users": rolling,
    }
    if layer.get("end"):
        body["until"] = layer["end"]
    restricted, note = _restrictions(layer.get("restrictions") or [], turn)
    if restricted is None:
        run.skip("schedule_layer", layer["id"], name, note)
        return
    body |= restricted
    dropped = [m for m in members if not users.get(m)]
    if dropped:
        note = "; ".join(x for x in (note, f"users left out: {', '.join(dropped)}") if x)
    run.ensure_shift("schedule_layer", layer["id"], name, schedule_id, body, reason=note)


def _clock(seconds: int) -> str:
    seconds %= 86_400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _seconds(time_of_day: str) -> int:
    h, m, *s = (int(x) for x in time_of_day.split(":"))
    return h * 3600 + m * 60 + (s[0] if s else 0)


def _restrictions(restrictions: list[dict[str, Any]], turn: int) -> tuple[dict[str, Any] | None, str]:
    """Tocsin fields for a layer's restrictions (``None`` and the reason when they cannot be expressed)."""
    if not restrictions:
        return {}, ""
    starts = {_seconds(r["start_time_of_day"]) for r in restrictions}
    durations = {int(r["duration_seconds"]) for r in restrictions}
    if len(starts) != 1 or len(durations) != 1:
        return None, "restrictions with different windows cannot be expressed (one window per shift)"
    start, duration = starts.pop(), durations.pop()
    out: dict[str, Any] = {}
    if duration < 86_400:
        out["restrict_hours"] = {"from": _clock(start), "to": _clock(start + duration)}
    kinds = {r["type"] for r in restrictions}
    if kinds == {"daily_restriction"}:
        return out, ""
    if kinds != {"weekly_restriction"} or duration > 86_400:
        return None, "weekly restrictions longer than a day cannot be expressed"
    out["by_day"] = sorted({WEEKDAYS[int(r["start_day_of_week"]) - 1] for r in restrictions}, key=WEEKDAYS.index)
    note = "weekly restriction as by_day + restrict_hours" + (
        "; days outside by_day take no turn in Tocsin" if turn < 604_800 else ""
    )
    return out, note


def _rule_steps(
    run: Run,
    name: str,
    number: int,
    rule: dict[str, Any],
    users: dict[str, str | None],
    schedules: dict[str, str | None],
) -> list[tuple[str, dict[str, Any], str]]:
    """The steps of one escalation rule's targets: its people, then each schedule's on-call person."""
    steps: list[tuple[str, dict[str, Any], str]] = []
    people = [users.get(t["id"]) for t in rule.get("targets") or [] if t["type"].startswith("user")]
    if any(p is None for p in people):
        run.skip("escalation_rule", rule["id"], f"{name} rule {number}", "some users were not imported")
    if people := [p for p in people if p]:
        steps.append(
            (
                f"{name} rule {number} notify_persons",
                {"type": "notify_persons", "persons_to_notify": people},
                rule["id"],
            )
        )
    for target in rule.get("targets") or []:
        if target["type"].startswith("schedule"):
            if schedule := schedules.get(target["id"]):
                steps.append(
                    (
                        f"{name} rule {number} notify_on_call_from_schedule",
                        {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": schedule},
                        rule["id"],
                    )
                )
            else:
                run.skip(
                    "escalation_rule",
                    rule["id"],
                    f"{name} rule {number}",
                    f"schedule {target['id']} was not imported",
                )
        elif not target["type"].startswith("user"):
            run.skip(
                "escalation_rule",
                rule["id"],
                f"{name} rule {number}",
                f"target type {target['type']} has no Tocsin step",
            )
    return steps


def _policy(
    run: Run,
    policy: dict[str, Any],
    teams: dict[str, str | None],
    users: dict[str, str | None],
    schedules: dict[str, str | None],
) -> str | None:
    name = policy["name"]
    chain_id, new = run.ensure_chain(policy["id"], name, _team(teams, policy.get("teams")))
    if chain_id is None or not new:
        return chain_id  # reused chains keep their steps
    steps: list[tuple[str, dict[str, Any], str]] = []  # (label, body, source id)
    rules = policy.get("escalation_rules") or []
    loops = int(policy.get("num_loops") or 0)
    for number, rule in enumerate(rules, 1):
        steps += _rule_steps(run, name, number, rule, users, schedules)
        if number < len(rules) or loops:
            delay = int(rule.get("escalation_delay_in_minutes") or 0) * 60
            steps.append((f"{name} rule {number} wait", {"type": "wait", "duration": clamp_wait(delay)}, rule["id"]))
    if loops and rules:
        note = "" if loops <= 5 else f"num_loops {loops}: Tocsin repeats at most 5 times"
        steps.append((f"{name} repeat", {"type": "repeat_escalation"}, f"{policy['id']}:num_loops"))
        if note:
            run.skip("escalation_rule", policy["id"], f"{name} num_loops", note)
    for label, step, source_id in steps:
        run.add_step(chain_id, source_id, label, step)
    return chain_id


def _service(
    run: Run, service: dict[str, Any], teams: dict[str, str | None], chains: dict[str, str | None], tocsin_url: str
) -> None:
    name = service["name"]
    chain = chains.get((service.get("escalation_policy") or {}).get("id", ""))
    body: dict[str, Any] = {
        "name": name,
        "type": "pagerduty",
        "team_id": _team(teams, service.get("teams")),
        "description_short": (service.get("description") or "")[:250] or None,
    }
    if chain:
        body["default_route"] = {"escalation_chain_id": chain}
    notes = []
    if (service.get("incident_urgency_rule") or {}).get("type") not in (None, "constant"):
        notes.append("incident urgency rules / support hours not imported")
    if service.get("alert_grouping_parameters", {}).get("type") or service.get("alert_grouping"):
        notes.append("alert grouping settings not imported: Tocsin groups by dedup_key")
    new_id, created = run.ensure_integration(service["id"], body, reason="; ".join(notes))
    senders = [i for i in service.get("integrations") or [] if i.get("integration_key")]
    for integration in service.get("integrations") or []:
        if "email" in integration.get("type", ""):
            run.skip(
                "service_integration",
                integration["id"],
                f"{name}: {integration.get('summary') or ''}",
                "e-mail integration: create an inbound_email integration and forward the mail to it",
            )
        elif not integration.get("integration_key"):
            run.skip(
                "service_integration",
                integration["id"],
                f"{name}: {integration.get('summary') or ''}",
                "no integration_key (not an Events API sender)",
            )
    prefix = f"POST {tocsin_url.rstrip('/')}/v2/enqueue routing_key=" if tocsin_url else "routing_key="
    olds = [f"{i.get('summary') or i['id']}: routing_key={i['integration_key']}" for i in senders] or ["(no senders)"]
    for old in olds:
        run.ingest_url(name, f"events.pagerduty.com {old}", new_id, created, "routing_key", prefix)
