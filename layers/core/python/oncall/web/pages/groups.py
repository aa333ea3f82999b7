"""Alert groups: the filtered, paged, auto-refreshing list, one group with its alerts and timeline, and the actions.

The list's filters are the API's (:func:`oncall.api.routes.alert_groups.filters_of`): state, integration, team, labels
(``key:value``) and the start time, whose two ``datetime-local`` bounds (UTC, either may be empty) become the API's
``started_at``. Pages hold 50 groups, newest first; the ``page`` query parameter carries the API's opaque cursor, so
"Newer" / "Older" are plain links that work without JavaScript, and the htmx refresh keeps filters and page.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from oncall.api.routes import alert_groups as alert_groups_api
from oncall.api.routes import alerts as alerts_api
from oncall.errors import InvalidInput, NotFound
from oncall.services import alert_groups, policy
from oncall.services import integrations as integrations_service
from oncall.services.policy import Action, Resource
from oncall.web.base import UI, Request, Response, Route, page, problem_text, redirect
from oncall.web.pages import paging

GROUP_ACTIONS = ("acknowledge", "unacknowledge", "resolve", "unresolve", "silence", "unsilence")
PAGE_SIZE: Final = 50
FILTER_FIELDS: Final = ("state", "integration_id", "team_id", "label", "started_after", "started_before")
FAR_PAST: Final = "1970-01-01T00:00:00"
FAR_FUTURE: Final = "9999-12-31T23:59:59"
# the API's field names in its error messages -> what the filter form calls them
FIELD_NAMES: Final = {
    "started_at": "Started after / before",
    "label": "Label",
    "state": "State",
    "cursor": "Page",
    "perpage": "Page size",
}


def _filter_params(request: Request) -> list[tuple[str, str]]:
    """The console's filters as given in the URL (blank ones dropped), in a stable order."""
    pairs: list[tuple[str, str]] = []
    for name in FILTER_FIELDS:
        pairs += [(name, value.strip()) for value in request.query.get(name, []) if value.strip()]
    return pairs


def _api_query(params: list[tuple[str, str]], cursor: str | None) -> dict[str, list[str]]:
    """The same listing as the API's ``GET /api/v1/alert_groups/`` query."""
    query: dict[str, list[str]] = {"perpage": [str(PAGE_SIZE)]}
    for name, value in params:
        if name in ("state", "integration_id", "team_id", "label"):
            query.setdefault(name, []).append(value)
    bounds = dict(p for p in params if p[0] in ("started_after", "started_before"))
    if bounds:
        query["started_at"] = [
            f"{bounds.get('started_after') or FAR_PAST}_{bounds.get('started_before') or FAR_FUTURE}"
        ]
    if cursor:
        query["cursor"] = [cursor]
    return query


def _list_url(params: list[tuple[str, str]], cursor: str | None = None) -> str:
    pairs = [*params] + ([("page", cursor)] if cursor else [])
    return f"{UI}/groups" + (f"?{urlencode(pairs)}" if pairs else "")


def _page_link(params: list[tuple[str, str]], api_url: str | None) -> str | None:
    """An API ``next``/``previous`` URL as a console link (its cursor in ``page``; none for the first page)."""
    if api_url is None:
        return None
    cursor = parse_qs(urlsplit(api_url).query).get("cursor", [None])[0]
    return _list_url(params, cursor)


def may_act(request: Request) -> bool:
    """Whether the pages show the action buttons (the use case decides again when one is pressed)."""
    return policy.allows(request.principal, Resource.ALERT_GROUPS, Action.ACT)


def groups_context(request: Request) -> tuple[dict[str, Any], int]:
    """The list page's context and status: 400 (with the API's message) for filters the API refuses."""
    params = _filter_params(request)
    cursor = request.first("page")
    integrations = [
        {"id": view.integration.id, "name": view.integration.name}
        for view in integrations_service.list_integrations(request.ports, request.principal)
    ]
    fragment = request.first("fragment") == "table"  # the refreshed table needs no filter form
    teams = [] if fragment else sorted(request.store.teams.list(), key=lambda t: t.name.lower())
    values: dict[str, str] = {}
    for name, value in params:
        values.setdefault(name, value)  # the first, as the API takes it
    context: dict[str, Any] = {
        "integrations": integrations,
        "names": {i["id"]: i["name"] for i in integrations},
        "teams": teams,
        "state": values.get("state", ""),
        "integration_id": values.get("integration_id", ""),
        "team_id": values.get("team_id", ""),
        "labels": [v for k, v in params if k == "label"] or [""],
        "started_after": values.get("started_after", ""),
        "started_before": values.get("started_before", ""),
        "list_url": _list_url(params, cursor),
        "refresh_query": urlencode([("fragment", "table"), *params] + ([("page", cursor)] if cursor else [])),
        "groups": [],
        "counts": {},
        "total": 0,
        "newer": None,
        "older": None,
        "page_number": 1,
        "filter_error": None,
        "may_act": may_act(request),
    }
    query = _api_query(params, cursor)
    info = request.info(f"{UI}/groups", query)
    try:
        listing = alert_groups_api.group_page(request.ports, request.principal, info)
    except InvalidInput as error:
        return {**context, "filter_error": problem_text(error, FIELD_NAMES)}, 400
    filters = alert_groups_api.filters_of(query)
    counts = alert_groups.count_by_state(request.ports, request.principal, filters)
    return {
        **context,
        "groups": listing["results"],
        "total": listing["count"],
        "counts": counts,
        "newer": _page_link(params, listing["previous"]),
        "older": _page_link(params, listing["next"]),
        "page_number": listing["current_page_number"],
    }, 200


def groups(request: Request) -> Response:
    context, status = groups_context(request)
    if request.first("fragment") == "table":
        return page(request, "groups_table.html", status, **context)
    return page(request, "groups.html", status, **context)


def _integration_name(request: Request, integration_id: str) -> str:
    try:
        return integrations_service.get_integration(request.ports, request.principal, integration_id).integration.name
    except NotFound:  # deleted since
        return integration_id


def group_detail(request: Request, group_id: str) -> Response:
    """A group's page; ``?fragment=live`` is its state and timeline alone, which the page polls for."""
    view = alert_groups.get_alert_group(request.ports, request.principal, group_id)
    group = alert_groups_api.view_out(view, base_url=request.base_url, now=request.now).model_dump(mode="json")
    timeline = alert_groups.timeline(request.ports, request.principal, group_id)
    context: dict[str, Any] = {
        "group": group,
        "timeline": [alert_groups_api.timeline_out(e).model_dump(mode="json") for e in timeline],
        "integration_name": _integration_name(request, view.group.integration_id),
        "may_act": may_act(request),
    }
    if request.first("fragment") == "live":
        return page(request, "group_live.html", **context)
    query = {"alert_group_id": [group_id], "perpage": ["100"]}
    alerts = alerts_api.alert_page(request.ports, request.principal, request.info(query=query))
    return page(
        request,
        "group.html",
        alerts=alerts["results"],
        alerts_count=alerts["count"],
        **paging.responders_context(request),  # the "Add responders" form
        **context,
    )


def group_action(request: Request, group_id: str, action: str) -> Response:
    delay = (request.form.get("delay") or "3600") if action == "silence" else None  # the use case checks it
    alert_groups.act(request.ports, request.principal, group_id, action, delay=delay)
    return redirect(request.local_target("return", f"{UI}/groups/{quote(group_id)}"))


ROUTES: list[Route] = [
    ("GET", r"/groups", groups),
    ("GET", r"/groups/([\w-]+)", group_detail),
    ("POST", r"/groups/([\w-]+)/(" + "|".join(GROUP_ACTIONS) + ")", group_action),
]
