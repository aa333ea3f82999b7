"""Opsgenie (REST API ``/v2``, header ``Authorization: GenieKey <key>``; lists page with ``paging.next``).

teams, users (by e-mail: Opsgenie usernames are e-mail addresses), schedules (rotations as ``rolling_users``
shifts, overrides as ``override`` shifts), escalations (rules with delays as steps and waits, ``repeat`` as a
repeat step), integrations (``alertmanager`` for Prometheus / Alertmanager, ``webhook`` otherwise).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from tocsin_cli.importers.base import Run, clamp_wait, fetch_json

API_URL = "https://api.opsgenie.com"
UNITS = {"minutes": 60, "hours": 3600, "days": 86_400}
FREQUENCY = {"hourly": 3600, "daily": 86_400, "weekly": 604_800}
DAYS = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
ALERTMANAGER_TYPES = {"prometheus", "alertmanager"}
SKIPPED_TYPES = {
    "email": "e-mail integration: create an inbound_email integration and forward the mail to it",
    "heartbeat": "use the heartbeat URL of a Tocsin integration",
}


def client(token: str, url: str = API_URL, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"GenieKey {token}"}, timeout=30, transport=transport
    )


def listing(
    http: httpx.Client, path: str, params: dict[str, Any] | None = None, optional: bool = False
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        body = fetch_json(http, path, params, optional=optional)
        if body is None:
            return items
        data = body.get("data") or []
        items.extend(data if isinstance(data, list) else data.get("heartbeats") or [])
        following = (body.get("paging") or {}).get("next")
        if not following or not data:
            return items
        parts = urlsplit(following)
        path, params = parts.path, dict(parse_qsl(parts.query))


def fetch(http: httpx.Client) -> dict[str, Any]:
    data: dict[str, Any] = {
        "teams": listing(http, "/v2/teams"),
        "users": listing(http, "/v2/users", {"limit": 100}),
        "escalations": listing(http, "/v2/escalations"),
        "integrations": listing(http, "/v2/integrations"),
        "heartbeats": listing(http, "/v2/heartbeats", optional=True),
    }
    schedules = listing(http, "/v2/schedules", {"expand": "rotation"})
    for schedule in schedules:
        schedule["overrides"] = listing(http, f"/v2/schedules/{schedule['id']}/overrides", optional=True)
    data["schedules"] = schedules
    return data


def import_all(http: httpx.Client, run: Run) -> None:
    apply(fetch(http), run)


def apply(data: dict[str, Any], run: Run) -> None:
    teams: dict[str, str | None] = {}
    for team in data["teams"]:
        teams[team["id"]], _ = run.ensure("team", team["id"], team["name"], "/api/v1/teams/", {"name": team["name"]})
    users: dict[str, str | None] = {}
    for user in data["users"]:
        email = user.get("username") if "@" in (user.get("username") or "") else user.get("email")
        users[user["id"]] = run.ensure_user(
            user["id"], email, user.get("fullName") or "", timezone=user.get("timeZone")
        )
    schedules = {s["id"]: _schedule(run, s, teams, users) for s in data["schedules"]}
    for escalation in data["escalations"]:
        _escalation(run, escalation, teams, users, schedules)
    for integration in data["integrations"]:
        _integration(run, integration, teams)
    for beat in data["heartbeats"]:
        run.skip("heartbeat", beat.get("name") or "", beat.get("name") or "", SKIPPED_TYPES["heartbeat"])


def _team(teams: dict[str, str | None], ref: dict[str, Any] | None) -> str | None:
    return teams.get((ref or {}).get("id") or "")


def _schedule(
    run: Run, schedule: dict[str, Any], teams: dict[str, str | None], users: dict[str, str | None]
) -> str | None:
    team_id = _team(teams, schedule.get("ownerTeam"))
    schedule_id = run.ensure_web_schedule(schedule["id"], schedule["name"], schedule.get("timezone"), team_id)
    if schedule_id is None:
        return None
    rotations = schedule.get("rotations") or []
    for index, rotation in enumerate(rotations):
        _rotation(run, rotation, schedule_id, len(rotations) - index, users)
    for number, override in enumerate(schedule.get("overrides") or []):
        alias = override.get("alias") or number
        run.ensure_override(
            alias,
            f"{schedule['name']} override {alias}",
            schedule_id,
            f"override {alias}",
            users.get((override.get("user") or {}).get("id", "")),
            override["startDate"],
            override["endDate"],
        )
    return schedule_id


def _rotation(run: Run, rotation: dict[str, Any], schedule_id: str, level: int, users: dict[str, str | None]) -> None:
    name = rotation.get("name") or f"rotation {rotation['id']}"
    kind, length = rotation.get("type"), int(rotation.get("length") or 1)
    if kind not in FREQUENCY:
        run.skip("rotation", rotation["id"], name, f"rotation type {kind} unknown")
        return
    participants = rotation.get("participants") or []
    others = sorted({p["type"] for p in participants if p["type"] != "user"})
    rolling = [[users[p["id"]]] for p in participants if p["type"] == "user" and users.get(p["id"])]
    if not rolling:
        run.skip("rotation", rotation["id"], name, "no user participants could be imported")
        return
    notes = [f"participants of type {', '.join(others)} left out (Tocsin rotates users)"] if others else []
    body: dict[str, Any] = {
        "name": name,
        "type": "rolling_users",
        "level": level,
        "start": rotation["startDate"],
        "duration": FREQUENCY[kind] * length,
        "frequency": kind,
        "interval": length,
        "rolling_users": rolling,
    }
    if rotation.get("endDate"):
        body["until"] = rotation["endDate"]
    restriction = rotation.get("timeRestriction")
    if restriction:
        fields, note = _restriction(restriction)
        if fields is None:
            run.skip("rotation", rotation["id"], name, note)
            return
        body |= fields
        notes += [note] if note else []
    run.ensure_shift("rotation", rotation["id"], name, schedule_id, body, reason="; ".join(notes))


def _hours(r: dict[str, Any]) -> dict[str, str]:
    return {
        "from": f"{r['startHour']:02d}:{r.get('startMin', 0):02d}",
        "to": f"{r['endHour']:02d}:{r.get('endMin', 0):02d}",
    }


def _restriction(restriction: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    if restriction.get("type") == "time-of-day":
        return {"restrict_hours": _hours(restriction["restriction"])}, ""
    parts = restriction.get("restrictions") or []
    windows = {(r["startHour"], r.get("startMin", 0), r["endHour"], r.get("endMin", 0)) for r in parts}
    if not parts or len(windows) != 1 or any(r["startDay"] != r["endDay"] for r in parts):
        return None, "weekday-and-time-of-day restriction spanning days or with different hours cannot be expressed"
    days = sorted({DAYS[r["startDay"]] for r in parts}, key=list(DAYS.values()).index)
    return {"by_day": days, "restrict_hours": _hours(parts[0])}, "days outside by_day take no turn in Tocsin"


def _escalation(
    run: Run,
    escalation: dict[str, Any],
    teams: dict[str, str | None],
    users: dict[str, str | None],
    schedules: dict[str, str | None],
) -> None:
    name = escalation["name"]
    chain_id, new = run.ensure_chain(escalation["id"], name, _team(teams, escalation.get("ownerTeam")))
    if chain_id is None or not new:
        return
    steps: list[tuple[str, dict[str, Any]]] = []
    elapsed = 0
    for number, rule in enumerate(escalation.get("rules") or [], 1):
        label = f"{name} rule {number}"
        delay = (rule.get("delay") or {}).get("timeAmount", 0) * UNITS.get(
            (rule.get("delay") or {}).get("timeUnit", "minutes"), 60
        )
        recipient, notify = rule.get("recipient") or {}, rule.get("notifyType") or "default"
        step: dict[str, Any] | None = None
        kind = recipient.get("type")
        if kind == "user" and users.get(recipient.get("id", "")):
            step = {"type": "notify_persons", "persons_to_notify": [users[recipient["id"]]]}
        elif kind == "schedule" and notify == "default" and schedules.get(recipient.get("id", "")):
            step = {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": schedules[recipient["id"]]}
        elif kind == "team" and notify in ("default", "all") and teams.get(recipient.get("id", "")):
            step = {"type": "notify_team_members", "team_to_notify": teams[recipient["id"]]}
        if step is None:
            run.skip(
                "escalation_rule",
                f"{escalation['id']}:{number}",
                label,
                f"recipient {kind} {recipient.get('name') or recipient.get('username') or ''} with notifyType "
                f"{notify} was not imported or has no Tocsin step",
            )
            continue
        if rule.get("condition") == "if-not-closed":
            run.skip(
                "escalation_rule",
                f"{escalation['id']}:{number}:condition",
                label,
                "condition if-not-closed imported as if-not-acked: Tocsin escalates until acknowledged",
            )
        if delay > elapsed:
            steps.append((f"{label} wait", {"type": "wait", "duration": clamp_wait(delay - elapsed)}))
            elapsed = delay
        steps.append((f"{label} {step['type']}", step))
    repeat = escalation.get("repeat") or {}
    if steps and repeat.get("count"):
        steps.append(
            (f"{name} wait before repeat", {"type": "wait", "duration": clamp_wait(repeat.get("waitInterval", 1) * 60)})
        )
        steps.append((f"{name} repeat", {"type": "repeat_escalation"}))
    for label, step in steps:
        run.add_step(chain_id, escalation["id"], label, step)


def _integration(run: Run, integration: dict[str, Any], teams: dict[str, str | None]) -> None:
    name, source_type = integration["name"], str(integration.get("type") or "")
    if source_type.lower() in SKIPPED_TYPES:
        run.skip("integration", integration["id"], name, SKIPPED_TYPES[source_type.lower()])
        return
    kind = "alertmanager" if source_type.lower() in ALERTMANAGER_TYPES else "webhook"
    note = f"Opsgenie type {source_type} -> {kind}; routing to an escalation is by team rules: set the chain"
    body = {"name": name, "type": kind, "team_id": teams.get(integration.get("teamId") or "")}
    new_id, created = run.ensure_integration(integration["id"], body, reason=note)
    run.ingest_url(name, f"Opsgenie {source_type} integration {integration['id']} (API key)", new_id, created)
