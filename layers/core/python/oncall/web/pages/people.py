"""Schedules (on call now and the next 14 days), users, and the signed-in user's API keys."""

from __future__ import annotations

from datetime import timedelta

from oncall.api import directory
from oncall.api import schedules as schedules_api
from oncall.models import User
from oncall.schedules import store as schedule_store
from oncall.web.base import Request, Response, Route, now, page

TIMELINE_DAYS = 14


def schedules(request: Request) -> Response:
    moment, store = now(), request.store
    users = {u.id: u.username for u in store.list_entities("USERS", User)}
    start = moment.date()
    end = start + timedelta(days=TIMELINE_DAYS - 1)
    rows = []
    for schedule in schedule_store.list_schedules(store):
        on_call = schedules_api.on_call_now(store, schedule.id, moment)
        query = {"start_date": [start.isoformat()], "end_date": [end.isoformat()], "perpage": ["100"]}
        shifts = schedules_api.final_shifts(store, request.info(query=query), schedule.id, moment)["results"]
        rows.append({"schedule": schedule, "on_call": [users.get(u, u) for u in on_call], "shifts": shifts})
    return page(request, "schedules.html", schedules=rows, start=start, end=end)


def users_page(request: Request) -> Response:
    users = directory.list_all(request.store, directory.USERS, "USERS")
    teams = {t.id: t.name for t in directory.list_all(request.store, directory.TEAMS, "TEAMS")}
    team_names = {u.id: ", ".join(teams.get(t, t) for t in u.teams) for u in users}
    return page(request, "users.html", users=sorted(users, key=lambda u: u.username), team_names=team_names)


def keys_page(request: Request) -> Response:
    mine = [directory.api_key_out(k) for k in request.store.list_api_keys() if k.user_id == request.user_id]
    return page(request, "keys.html", keys=sorted(mine, key=lambda k: k["created_at"]))


ROUTES: list[Route] = [
    ("GET", r"/schedules", schedules),
    ("GET", r"/users", users_page),
    ("GET", r"/keys", keys_page),
]
