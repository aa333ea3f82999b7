"""Alert groups: the filtered, paged, auto-refreshing list, one group with its alerts and timeline, and the actions.

The list's filters are the API's (:func:`oncall.api.alert_groups.filters_of`): state, integration, team, labels
(``key:value``) and the start time, whose two ``datetime-local`` bounds (UTC, either may be empty) become the API's
``started_at``. Pages hold 50 groups, newest first; the ``page`` query parameter carries the API's opaque cursor, so
"Newer" / "Older" are plain links that work without JavaScript, and the htmx refresh keeps filters and page.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from oncall.api import alert_groups as alert_groups_api
from oncall.codec import fields_of
from oncall.errors import InvalidInput, NotFound
from oncall.schemas import BulkActionIn, ResolutionNoteIn
from oncall.services import alert_groups, people, policy, resolution_notes
from oncall.services import integrations as integrations_service
from oncall.services.policy import Action, Resource
from oncall.web.base import UI, Request, Response, Route, back, flash_url, page, problem_text, redirect, run
from oncall.web.pages import paging
from oncall.web.views import plural

OPEN: Final = "open"  # the default view: firing, then acknowledged
ALL: Final = "all"
TABS: Final = (
    (OPEN, "Open"),
    ("firing", "Firing"),
    ("acknowledged", "Acknowledged"),
    ("silenced", "Silenced"),
    ("resolved", "Resolved"),
    (ALL, "All"),
)
BULK_ACTIONS: Final = ("acknowledge", "resolve", "silence")
PAST: Final = {"acknowledge": "acknowledged", "resolve": "resolved", "silence": "silenced"}
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


def _api_query(params: list[tuple[str, str]], cursor: str | None, state: str | None = None) -> dict[str, list[str]]:
    """The same listing as the API's ``GET /api/v1/alert_groups/`` query, in ``state`` (None: every state)."""
    query: dict[str, list[str]] = {"perpage": [str(PAGE_SIZE)]}
    for name, value in params:
        if name in ("integration_id", "team_id", "label"):
            query.setdefault(name, []).append(value)
    if state:
        query["state"] = [state]
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


def _view(params: list[tuple[str, str]]) -> str:
    """The list's state tab: ``open`` (firing and acknowledged, the default), ``all``, or one state."""
    return next((value for name, value in params if name == "state"), OPEN)


def _tabs(params: list[tuple[str, str]], counts: dict[str, int]) -> list[dict[str, Any]]:
    others = [(name, value) for name, value in params if name != "state"]
    totals = {OPEN: counts.get("firing", 0) + counts.get("acknowledged", 0), ALL: sum(counts.values()), **counts}
    return [
        {
            "view": view,
            "text": text,
            "count": totals.get(view, 0),
            "url": _list_url(others if view == OPEN else [("state", view), *others]),
        }
        for view, text in TABS
    ]


def groups_context(request: Request) -> tuple[dict[str, Any], int]:
    """The list page's context and status: 400 (with the API's message) for filters the API refuses.

    The default view lists firing groups, then acknowledged ones (up to a page of each, with a link to the rest);
    a state tab or ``all`` lists one listing a page at a time."""
    params = _filter_params(request)
    view = _view(params)
    cursor = request.first("page") if view != OPEN else None
    integrations = [
        {"id": item.integration.id, "name": item.integration.name}
        for item in integrations_service.list_integrations(request.ports, request.principal)
    ]
    fragment = request.first("fragment") == "table"  # the refreshed table needs no filter form
    teams = [] if fragment else sorted(request.store.teams.list(), key=lambda t: t.name.lower())
    values: dict[str, str] = {}
    for name, value in params:
        values.setdefault(name, value)  # the first, as the API takes it
    list_url = _list_url(params, cursor)
    context: dict[str, Any] = {
        "integrations": integrations,
        "names": {i["id"]: i["name"] for i in integrations},
        "teams": teams,
        "view": view,
        "state": values.get("state", ""),
        "integration_id": values.get("integration_id", ""),
        "team_id": values.get("team_id", ""),
        "labels": [v for k, v in params if k == "label"] or [""],
        "started_after": values.get("started_after", ""),
        "started_before": values.get("started_before", ""),
        "list_url": list_url,
        "refresh_query": urlencode([("fragment", "table"), *params] + ([("page", cursor)] if cursor else [])),
        "sections": [],
        "tabs": [],
        "counts": {},
        "total": 0,
        "newer": None,
        "older": None,
        "page_number": 1,
        "filter_error": None,
        "may_act": may_act(request),
        "has_filters": any(name != "state" for name, _ in params),
    }
    states = [("firing", "Firing"), ("acknowledged", "Acknowledged")] if view == OPEN else [(None, "")]
    if view not in (OPEN, ALL):
        states = [(view, "")]
    others = [p for p in params if p[0] != "state"]
    sections: list[dict[str, Any]] = []
    try:
        for state, title in states:
            query = _api_query(params, cursor, state)
            listing = alert_groups_api.group_page(request.ports, request.principal, request.info(f"{UI}/groups", query))
            more = listing["next"] is not None and view == OPEN
            sections.append(
                {
                    "state": state,
                    "title": title,
                    "groups": listing["results"],
                    "total": listing["count"],
                    "more": _list_url([("state", state or ALL), *others]) if more else None,
                    "listing": listing,
                }
            )
        filters = alert_groups_api.filters_of(_api_query(params, None))
    except InvalidInput as error:
        return {**context, "filter_error": problem_text(error, FIELD_NAMES)}, 400
    counts = alert_groups.count_by_state(request.ports, request.principal, filters)
    only = sections[0]["listing"] if len(sections) == 1 else None
    return {
        **context,
        "sections": sections,
        "groups": [g for section in sections for g in section["groups"]],
        "total": sum(section["total"] for section in sections),
        "counts": counts,
        "tabs": _tabs(params, counts),
        "newer": _page_link(params, only["previous"]) if only else None,
        "older": _page_link(params, only["next"]) if only else None,
        "page_number": only["current_page_number"] if only else 1,
    }, 200


def groups(request: Request) -> Response:
    context, status = groups_context(request)
    if request.first("fragment") == "table":  # the tabs' counts ride along, swapped out of band
        return page(request, "groups_table.html", status, oob=True, **context)
    return page(request, "groups.html", status, **context)


def _integration_name(request: Request, integration_id: str) -> str:
    try:
        return integrations_service.get_integration(request.ports, request.principal, integration_id).integration.name
    except NotFound:  # deleted since
        return integration_id


def _names(request: Request) -> dict[str, str]:
    """User id -> username, to show names where the records keep ids."""
    return {u.id: u.username for u in people.list_users(request.ports, request.principal)}


def group_detail(request: Request, group_id: str) -> Response:
    """A group's page for the responder; ``?fragment=live`` is its status and timeline alone, which the page polls."""
    # Imported here: the escalation plan reaches chains and schedules, which the list of groups never shows.
    from oncall.web import group_view
    from oncall.web.pages import chains as chains_page

    view = alert_groups.get_alert_group(request.ports, request.principal, group_id)
    group = alert_groups_api.view_out(view, base_url=request.base_url, now=request.now).model_dump(mode="json")
    entries = alert_groups.timeline(request.ports, request.principal, group_id)
    names = _names(request)
    last = view.last_alert
    payload = last.payload if last else None
    annotations = group_view.alert_annotations(payload)
    context: dict[str, Any] = {
        "group": group,
        "timeline": group_view.timeline(entries, names),
        "acknowledged_by": group_view.who(view.group.acknowledged_by, names),
        "resolved_by": group_view.who(view.group.resolved_by, names),
        "integration_name": _integration_name(request, view.group.integration_id),
        "may_act": may_act(request),
    }
    if request.first("fragment") == "live":
        return page(request, "group_live.html", **context)
    chain_names = chains_page.lookup_names(request)
    plan = group_view.escalation_plan(
        request.ports,
        request.principal,
        view.group,
        entries,
        names,
        lambda policy: chains_page.describe(policy, chain_names),
        request.now,
    )
    notes = [
        {**fields_of(note), "author": group_view.who(note.author, names)}
        for note in resolution_notes.list_notes(request.ports, request.principal, alert_group_id=group_id)
    ]
    query = {"alert_group_id": [group_id], "perpage": ["100"]}
    alerts = alert_groups_api.alert_page(request.ports, request.principal, request.info(query=query))
    return page(
        request,
        "group.html",
        alerts=alerts["results"],
        alerts_count=alerts["count"],
        labels=group_view.alert_labels(payload, view.group.labels),
        description=group_view.description(annotations, last.message if last else None),
        annotations=group_view.other_annotations(annotations),
        runbook_url=group_view.runbook_url(annotations),
        source_url=group_view.web_url(view.group.source_link),
        plan=plan,
        notes=notes,
        may_note=policy.allows(request.principal, Resource.RESOLUTION_NOTES, Action.CREATE),
        **paging.responders_context(request),  # the "Add responders" form
        **context,
    )


def group_action(request: Request, group_id: str, action: str) -> Response:
    delay = (request.form.get("delay") or "3600") if action == "silence" else None  # the use case checks it
    alert_groups.act(request.ports, request.principal, group_id, action, delay=delay)
    return redirect(request.local_target("return", f"{UI}/groups/{quote(group_id)}"))


def bulk_action(request: Request) -> Response:
    """The selected groups of the list, each acted on by the API's bulk use case; back with what happened."""
    action = request.form.get("action") or ""
    ids = request.values("ids")
    target = request.local_target("return", f"{UI}/groups").removeprefix(UI).split("?", 1)
    path = target[0] or "/groups"
    if action not in BULK_ACTIONS:
        return back(request, path, error="Choose acknowledge, resolve or silence.")
    if not ids:
        return back(request, path, error="Select alert groups first.")
    delay = (request.form.get("delay") or "3600") if action == "silence" else None
    body = run(lambda: BulkActionIn.model_validate({"alert_group_ids": ids, "action": action, "delay": delay}))
    results = alert_groups.bulk_action(request.ports, request.principal, body)
    done = sum(1 for result in results.values() if result == "ok")
    skipped = {result for result in results.values() if result != "ok"}
    notice = f"{PAST[action].capitalize()} {plural(done, 'alert group')}." + (
        f" Skipped {len(results) - done}: {'; '.join(sorted(skipped))}" if skipped else ""
    )
    return redirect(flash_url(request, path, notice=notice) + ("&" + target[1] if len(target) > 1 else ""))


def add_note(request: Request, group_id: str) -> Response:
    body = ResolutionNoteIn(alert_group_id=group_id, text=request.form.get("text") or "")
    run(lambda: resolution_notes.add_note(request.ports, request.principal, body, source="web"))
    return back(request, f"/groups/{quote(group_id)}", notice="Resolution note added.")


def delete_note(request: Request, group_id: str, note_id: str) -> Response:
    resolution_notes.delete_note(request.ports, request.principal, note_id)
    return back(request, f"/groups/{quote(group_id)}", notice="Resolution note deleted.")


ROUTES: list[Route] = [
    ("GET", r"/groups", groups),
    ("POST", r"/groups/bulk", bulk_action),
    ("GET", r"/groups/([\w-]+)", group_detail),
    ("POST", r"/groups/([\w-]+)/(" + "|".join(GROUP_ACTIONS) + ")", group_action),
    ("POST", r"/groups/([\w-]+)/notes", add_note),
    ("POST", r"/groups/([\w-]+)/notes/([\w-]+)/delete", delete_note),
]
