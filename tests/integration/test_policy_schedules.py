"""Who may do what to on-call schedules and shifts, through the real api handler and web console on DynamoDB Local.

The holes this closes: an editor of team A created and edited on-call shifts of team B's schedules (200), and
deleted shifts with no team check. A shift belongs to its own team and to its schedule's team: changing it needs the
right in both, and in the new ones when it moves.

One table, users and keys for the whole module (every case makes the schedules and shifts it needs in the store).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

import pytest
from oncall.access import create_api_key
from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
from oncall.clock import SYSTEM_CLOCK
from oncall.models import Team, User
from oncall.schedules.models import OnCallShift, Schedule
from oncall.store.dynamodb import DynamoStore

from local import dynamodb as local_dynamodb
from tests.integration.conftest import SIGNING_KEY, Context, http_event, load_handler

TEAM, OTHER = "TOWN", "TOTHER"  # the callers' team, and a team none of them is in (but the admin)
ROLES = ("viewer", "editor", "admin")


@dataclass
class World:
    store: DynamoStore
    api: ModuleType
    web: ModuleType
    keys: dict[str, str]  # role -> API key of a user of that role in TEAM

    def call(self, role: str, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        headers = {"authorization": self.keys[role]}
        response = self.api.handler(http_event(method, path, body, headers=headers, query=query), Context())
        text = response.get("body")
        try:
            return response["statusCode"], json.loads(text) if text else None
        except ValueError:
            return response["statusCode"], text  # text/calendar

    def schedule(self, team: str | None) -> str:
        schedule = Schedule(id=f"S{uuid.uuid4().hex[:12]}", name="s", team_id=team, time_zone="UTC")
        self.store.schedules.put(schedule, new=True)
        return schedule.id

    def shift(self, team: str | None, schedule_id: str | None) -> str:
        shift = OnCallShift(
            id=f"O{uuid.uuid4().hex[:12]}",
            name="days",
            type="single_event",
            team_id=team,
            schedule_id=schedule_id,
            start=datetime(2025, 3, 1, 9),
            duration=3600,
            users=[ADMIN_USER_ID],
        )
        self.store.shifts.put(shift, new=True)
        return shift.id


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str) -> Iterator[World]:
    name = f"t{uuid.uuid4().hex[:12]}"
    local_dynamodb.ensure_table(dynamodb_endpoint, name)
    with pytest.MonkeyPatch.context() as env:
        for key, value in local_dynamodb.boto_env(dynamodb_endpoint, name).items():
            env.setenv(key, value)
        env.setenv("TOCSIN_SIGNING_KEY", SIGNING_KEY)
        env.setenv("TOCSIN_API_RATE_LIMIT", "100000/60")  # one key per role makes every request of the module
        store = DynamoStore(name, client=local_dynamodb.client(dynamodb_endpoint))
        ensure_admin(store)
        for team in (TEAM, OTHER):
            store.teams.put(Team(id=team, name=team.lower()))
        keys = {}
        for role in ROLES:
            user = User(id=f"U{role.upper()}", username=role, role=role, teams=[TEAM])  # type: ignore[arg-type]
            store.users.put(user)
            keys[role] = create_api_key(store, user_id=user.id, name=role, now=SYSTEM_CLOCK.now())[1]
        yield World(store, load_handler("api"), load_handler("web"), keys)


# --- the holes --------------------------------------------------------------------------------------------------


def shift_body(schedule_id: str | None, team: str | None = None) -> dict[str, Any]:
    return {
        "name": "mine",
        "type": "single_event",
        "schedule_id": schedule_id,
        "team_id": team,
        "start": "2025-03-01T09:00:00",
        "duration": 3600,
        "users": [ADMIN_USER_ID],
    }


def test_an_editor_cannot_add_shifts_to_another_teams_schedule(world: World) -> None:
    theirs = world.schedule(OTHER)
    for team in (None, TEAM):
        status, body = world.call("editor", "POST", "/api/v1/on_call_shifts/", shift_body(theirs, team))
        assert (status, body) == (403, {"detail": "You can only change what belongs to your teams."})
    assert world.store.shifts.of_schedule(theirs) == []
    assert world.call("editor", "POST", "/api/v1/on_call_shifts/", shift_body(world.schedule(TEAM), TEAM))[0] == 201


def test_an_editor_cannot_change_or_delete_another_teams_shifts(world: World) -> None:
    in_their_schedule = world.shift(None, world.schedule(OTHER))
    of_their_team = world.shift(OTHER, None)
    for shift_id in (in_their_schedule, of_their_team):
        path = f"/api/v1/on_call_shifts/{shift_id}/"
        for method in ("PUT", "PATCH"):
            assert world.call("editor", method, path, {"name": "taken"})[0] == 403
        assert world.call("editor", "DELETE", path)[0] == 403
        kept = world.store.shifts.get(shift_id)
        assert kept is not None and kept.name == "days"


def test_an_editor_cannot_move_shifts_or_schedules_into_another_team(world: World) -> None:
    mine = world.shift(TEAM, world.schedule(TEAM))
    theirs = world.schedule(OTHER)
    path = f"/api/v1/on_call_shifts/{mine}/"
    assert world.call("editor", "PATCH", path, {"schedule_id": theirs})[0] == 403
    assert world.call("editor", "PATCH", path, {"team_id": OTHER})[0] == 403
    schedule = world.schedule(TEAM)
    assert world.call("editor", "PATCH", f"/api/v1/schedules/{schedule}/", {"team_id": OTHER})[0] == 403
    # a schedule takes shifts by id: taking another team's shift moves it
    loose = world.shift(OTHER, None)
    attach = {"name": "calendar", "type": "calendar", "team_id": TEAM, "shifts": [loose]}
    assert world.call("editor", "POST", "/api/v1/schedules/", attach)[0] == 403
    assert world.call("editor", "PATCH", f"/api/v1/schedules/{schedule}/", {"shifts": [loose]})[0] == 403
    moved = world.store.shifts.get(loose)
    assert moved is not None and moved.schedule_id is None
    assert world.call("admin", "PATCH", path, {"schedule_id": theirs})[0] == 200
