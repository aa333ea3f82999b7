"""Who may do what to on-call schedules and shifts, through the real api handler and web console on DynamoDB Local.

The holes this closes: an editor of team A created and edited on-call shifts of team B's schedules (200), and
deleted shifts with no team check. A shift belongs to its own team and to its schedule's team: changing it needs the
right in both, and in the new ones when it moves.

Then the policy table route by route: for every API route and the console's page, each role of the callers' team
gets what :mod:`oncall.services.policy` says (the oracle) for a schedule or shift of their team, of another team and
of no team, and for every pair of those where a shift's team and its schedule's differ or something moves: the
route's status when allowed, else 403 with the table's message, and nothing changed; 404 for unknown ids.

One table, users and keys for the API's cases (each makes the schedules and shifts it needs in the store).
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
from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
from oncall.clock import SYSTEM_CLOCK
from oncall.directory import Team, User
from oncall.errors import PermissionDenied
from oncall.schedules.models import OnCallShift, Schedule
from oncall.services import policy
from oncall.services.api_keys import issue
from oncall.services.policy import Action, Principal, Resource
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Context, http_event, load_handler, module_store
from tests.integration.web_browser import Browser

TEAM, OTHER = "TOWN", "TOTHER"  # the callers' team, and a team none of them is in (but the admin)
ROLES = ("viewer", "editor", "admin")


@dataclass
class World:
    store: DynamoStore
    api: ModuleType
    keys: dict[str, str]  # role -> API key of a user of that role in TEAM

    def call(self, role: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"authorization": self.keys[role]}
        response = self.api.handler(http_event(method, path, body, headers=headers), Context())
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
    # one key per role makes every request of the module
    with module_store(dynamodb_endpoint, TOCSIN_API_RATE_LIMIT="100000/60") as store:
        yield World(store, load_handler("api"), people(store))


def people(store: DynamoStore) -> dict[str, str]:
    """The teams, the admin, and a user of each role in TEAM; their API keys by role."""
    ensure_admin(store)
    for team in (TEAM, OTHER):
        store.teams.put(Team(id=team, name=team.lower()))
    keys = {}
    for role in ROLES:
        user = User(id=f"U{role.upper()}", username=role, role=role, teams=[TEAM])  # type: ignore[arg-type]
        store.users.put(user)
        keys[role] = issue(store, user_id=user.id, name=role, now=SYSTEM_CLOCK.now()).secret
    return keys


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


# --- the policy table, route by route ----------------------------------------------------------------------------

PRINCIPALS = {role: Principal(f"U{role.upper()}", role, role, frozenset({TEAM})) for role in ROLES}  # type: ignore[arg-type]
PLACES = (TEAM, OTHER, None)  # where a schedule or shift belongs: the callers' team, another team, no team
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20250101T000000Z\r\n"
    "DTSTART:20250320T090000Z\r\nDTEND:20250320T120000Z\r\nSUMMARY:admin\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
# Below /api/v1/schedules/<id>: (method, path, action, status when allowed, body)
SCHEDULE_ROUTES = [
    pytest.param("GET", "", Action.READ, 200, None, id="GET /"),
    pytest.param("PUT", "", Action.UPDATE, 200, {"name": "renamed"}, id="PUT /"),
    pytest.param("PATCH", "", Action.UPDATE, 200, {"name": "renamed"}, id="PATCH /"),
    pytest.param("DELETE", "", Action.DELETE, 204, None, id="DELETE /"),
    pytest.param("GET", "/final_shifts", Action.READ, 200, None, id="GET /final_shifts"),
    pytest.param("GET", "/export", Action.READ, 200, None, id="GET /export"),
    pytest.param("POST", "/export_token", Action.READ, 201, None, id="POST /export_token"),
    pytest.param("POST", "/import", Action.UPDATE, 200, {"content": CALENDAR}, id="POST /import"),
]
# Below /api/v1/on_call_shifts/<id>
SHIFT_ROUTES = [
    pytest.param("GET", "", Action.READ, 200, None, id="GET /"),
    pytest.param("PUT", "", Action.UPDATE, 200, {"name": "renamed"}, id="PUT /"),
    pytest.param("PATCH", "", Action.UPDATE, 200, {"name": "renamed"}, id="PATCH /"),
    pytest.param("DELETE", "", Action.DELETE, 204, None, id="DELETE /"),
]
UNKNOWN = [
    *(
        pytest.param(method, f"/api/v1/schedules/SNOPE{path}", action, body, id=f"{method} schedule{path}")
        for method, path, action, _, body in (case.values for case in SCHEDULE_ROUTES)
    ),
    *(
        pytest.param(method, f"/api/v1/on_call_shifts/ONOPE{path}", action, body, id=f"{method} shift{path}")
        for method, path, action, _, body in (case.values for case in SHIFT_ROUTES)
    ),
    pytest.param("GET", "/api/v1/users/UNOPE/schedule_export", Action.READ, None, id="GET user/schedule_export"),
    pytest.param(
        "POST", "/api/v1/users/UNOPE/schedule_export_token", Action.READ, None, id="POST user/schedule_export_token"
    ),
]


def check(answer: tuple[int, Any], role: str, action: Action, teams: list[str | None], allowed: int) -> None:
    """The status (and a refusal's message) the policy table gives ``role`` for ``action`` on ``teams``."""
    status, body = answer
    caller = PRINCIPALS[role]
    if policy.allows(caller, Resource.SCHEDULES, action, teams=teams):
        assert status == allowed, (status, body)
        return
    rule = policy.rule(Resource.SCHEDULES, action)
    assert rule is not None
    message = rule.denied if caller.at_least(rule.role) else PermissionDenied().message
    assert (status, body) == (403, {"detail": message})


def team_name(team: str | None) -> str:
    return {TEAM: "own", OTHER: "other", None: "none"}[team]


@pytest.mark.parametrize("role", ROLES)
def test_everyone_lists_schedules_and_shifts_and_gets_anyones_calendar(world: World, role: str) -> None:
    world.shift(OTHER, world.schedule(OTHER))
    for method, path, allowed in (
        ("GET", "/api/v1/schedules/", 200),
        ("GET", "/api/v1/on_call_shifts/", 200),
        ("GET", f"/api/v1/users/{ADMIN_USER_ID}/schedule_export", 200),
        ("POST", f"/api/v1/users/{ADMIN_USER_ID}/schedule_export_token", 201),
    ):
        check(world.call(role, method, path), role, Action.READ, [None], allowed)


@pytest.mark.parametrize("team", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_creating_a_schedule(world: World, role: str, team: str | None) -> None:
    answer = world.call(role, "POST", "/api/v1/schedules/", {"name": "new", "team_id": team})
    check(answer, role, Action.CREATE, [team], 201)


@pytest.mark.parametrize(("method", "path", "action", "allowed", "body"), SCHEDULE_ROUTES)
@pytest.mark.parametrize("team", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_a_schedule_route(
    world: World, role: str, team: str | None, method: str, path: str, action: Action, allowed: int, body: Any
) -> None:
    schedule_id = world.schedule(team)
    world.shift(team, schedule_id)
    before = world.store.schedules.get(schedule_id)
    answer = world.call(role, method, f"/api/v1/schedules/{schedule_id}{path}", body)
    check(answer, role, action, [team], allowed)
    if answer[0] >= 400:
        assert world.store.schedules.get(schedule_id) == before


@pytest.mark.parametrize("schedule_team", PLACES, ids=team_name)
@pytest.mark.parametrize("shift_team", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_creating_a_shift(world: World, role: str, shift_team: str | None, schedule_team: str | None) -> None:
    schedule_id = world.schedule(schedule_team)
    answer = world.call(role, "POST", "/api/v1/on_call_shifts/", shift_body(schedule_id, shift_team))
    check(answer, role, Action.CREATE, [shift_team, schedule_team], 201)
    assert len(world.store.shifts.of_schedule(schedule_id)) == (answer[0] == 201)


@pytest.mark.parametrize(("method", "path", "action", "allowed", "body"), SHIFT_ROUTES)
@pytest.mark.parametrize("schedule_team", PLACES, ids=team_name)
@pytest.mark.parametrize("shift_team", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_a_shift_route(
    world: World,
    role: str,
    shift_team: str | None,
    schedule_team: str | None,
    method: str,
    path: str,
    action: Action,
    allowed: int,
    body: Any,
) -> None:
    shift_id = world.shift(shift_team, world.schedule(schedule_team))
    before = world.store.shifts.get(shift_id)
    answer = world.call(role, method, f"/api/v1/on_call_shifts/{shift_id}{path}", body)
    check(answer, role, action, [shift_team, schedule_team], allowed)
    if answer[0] >= 400:
        assert world.store.shifts.get(shift_id) == before


@pytest.mark.parametrize("to", PLACES, ids=team_name)
@pytest.mark.parametrize("origin", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_moving_a_shift_to_another_schedule_or_team(
    world: World, role: str, origin: str | None, to: str | None
) -> None:
    shift_id = world.shift(origin, world.schedule(origin))
    target = world.schedule(to)
    path = f"/api/v1/on_call_shifts/{shift_id}/"
    check(world.call(role, "PATCH", path, {"schedule_id": target}), role, Action.UPDATE, [origin, to], 200)
    loose = world.shift(origin, None)
    check(world.call(role, "PATCH", f"/api/v1/on_call_shifts/{loose}/", {"team_id": to}), role, Action.UPDATE,
          [origin, to], 200)  # fmt: skip


@pytest.mark.parametrize("to", PLACES, ids=team_name)
@pytest.mark.parametrize("origin", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_moving_a_schedule_to_another_team(world: World, role: str, origin: str | None, to: str | None) -> None:
    schedule_id = world.schedule(origin)
    answer = world.call(role, "PATCH", f"/api/v1/schedules/{schedule_id}/", {"team_id": to})
    check(answer, role, Action.UPDATE, [origin, to], 200)
    stored = world.store.schedules.get(schedule_id)
    assert stored is not None and stored.team_id == (to if answer[0] == 200 else origin)


@pytest.mark.parametrize("in_a_schedule", [False, True], ids=["loose", "in-its-teams-schedule"])
@pytest.mark.parametrize("shift_team", PLACES, ids=team_name)
@pytest.mark.parametrize("schedule_team", PLACES, ids=team_name)
@pytest.mark.parametrize("role", ROLES)
def test_a_schedule_taking_a_shift(
    world: World, role: str, schedule_team: str | None, shift_team: str | None, in_a_schedule: bool
) -> None:
    shift_id = world.shift(shift_team, world.schedule(shift_team) if in_a_schedule else None)
    schedule_id = world.schedule(schedule_team)
    answer = world.call(role, "PATCH", f"/api/v1/schedules/{schedule_id}/", {"shifts": [shift_id]})
    check(answer, role, Action.UPDATE, [schedule_team, shift_team], 200)
    moved = world.store.shifts.get(shift_id)
    assert moved is not None and (moved.schedule_id == schedule_id) == (answer[0] == 200)


@pytest.mark.parametrize(("method", "path", "action", "body"), UNKNOWN)
@pytest.mark.parametrize("role", ROLES)
def test_unknown_ids_are_404_to_whoever_may_do_it(
    world: World, role: str, method: str, path: str, action: Action, body: Any
) -> None:
    rule = policy.rule(Resource.SCHEDULES, action)
    assert rule is not None
    status, _ = world.call(role, method, path, body)
    assert status == (404 if PRINCIPALS[role].at_least(rule.role) else 403)


def test_the_console_schedules_page_is_for_everyone(web: ModuleType, store: DynamoStore) -> None:
    keys = people(store)
    schedule = Schedule(id="SOTHER", name="theirs", team_id=OTHER)
    store.schedules.put(schedule, new=True)
    for role in ROLES:
        browser = Browser(web)
        assert browser.sign_in(keys[role])["statusCode"] == 303
        page = browser.call("GET", "/ui/schedules")
        allowed = policy.allows(PRINCIPALS[role], Resource.SCHEDULES, Action.READ, teams=[OTHER])
        assert page["statusCode"] == (200 if allowed else 403)
        assert 'data-schedule="theirs"' in page["body"] and 'id="feed-SOTHER"' in page["body"]  # with its feed URL
