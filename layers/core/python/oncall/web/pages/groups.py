"""Alert groups: the filtered, auto-refreshing list, one group with its alerts and timeline, and the actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from oncall.api import logic
from oncall.ports import GroupFilter
from oncall.web import views
from oncall.web.base import UI, Request, Response, Route, now, page, redirect, require

GROUP_ACTIONS = ("acknowledge", "unacknowledge", "resolve", "unresolve", "silence", "unsilence")


def _group_query(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {"perpage": ["100"]}
    for name in ("state", "integration_id"):
        if value := request.first(name):
            query[name] = [value]
    return query


def groups_context(request: Request) -> dict[str, Any]:
    query = _group_query(request)
    listing = logic.list_groups(request.store, request.info(f"{UI}/groups", query))
    integration_id = request.first("integration_id")
    counts = {
        state: request.store.count_groups(GroupFilter(state=state, integration_id=integration_id))
        for state in views.STATES
    }
    integrations = logic.list_integrations(request.store, request.info(query={"perpage": ["100"]}))["results"]
    return {
        "groups": listing["results"],
        "total": listing["count"],
        "counts": counts,
        "integrations": integrations,
        "names": {i["id"]: i["name"] for i in integrations},
        "state": request.first("state") or "",
        "integration_id": integration_id or "",
        "refresh_query": urlencode({k: v[0] for k, v in query.items() if k != "perpage"}),
    }


def groups(request: Request) -> Response:
    context = groups_context(request)
    if request.first("fragment") == "table":
        return page(request, "groups_table.html", **context)
    return page(request, "groups.html", **context)


def group_detail(request: Request, group_id: str) -> Response:
    store = request.store
    group = logic.get_group(store, request.info(), group_id)
    timeline = logic.group_timeline(store, group_id)
    alerts = logic.list_alerts(store, request.info(query={"alert_group_id": [group_id], "perpage": ["100"]}))
    integration = store.load_config(group["integration_id"])
    return page(
        request,
        "group.html",
        group=group,
        timeline=timeline,
        alerts=alerts["results"],
        alerts_count=alerts["count"],
        integration_name=integration.integration.name if integration else group["integration_id"],
    )


def group_action(request: Request, group_id: str, action: str) -> Response:
    require(request, "act")
    body = {"delay": int(request.form.get("delay") or 3600)} if action == "silence" else None
    container = request.container
    logic.act_on_group(
        request.store,
        container.executor(),
        container.scheduler(),
        request.info(),
        group_id,
        action,
        request.user_id,
        now(),
        body,
    )
    return redirect(request.local_target("return", f"{UI}/groups/{quote(group_id)}"))


ROUTES: list[Route] = [
    ("GET", r"/groups", groups),
    ("GET", r"/groups/([\w-]+)", group_detail),
    ("POST", r"/groups/([\w-]+)/(" + "|".join(GROUP_ACTIONS) + ")", group_action),
]
