"""The API's reading of alert groups and their alerts, apart from the HTTP framework: OnCall's query filters and
shapes, and a page of a listing. The routers (:mod:`oncall.api.routes.alert_groups`, ``.alerts``, ``.paging``)
answer with them, and the console lists and shows groups through them without importing Powertools' event handler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from oncall import links, schemas
from oncall.api.pagination import page_size, paginate_cursor
from oncall.api.request import RequestInfo
from oncall.errors import InvalidInput, NotFound
from oncall.models import Alert, AlertGroup, TimelineEntry
from oncall.ports import GroupFilter
from oncall.services import Ports, alert_groups
from oncall.services.alert_groups import GroupView
from oncall.services.policy import Principal

PAGE_SIZE: Final = 50  # alert groups
ALERT_PAGE_SIZE: Final = 50
# the API's state filter -> the stored state
STATE_FILTERS: Final = {
    "new": "firing",
    "firing": "firing",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "silenced": "silenced",
}


# --- the query's filters ------------------------------------------------------------------------------------------


def _first(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _started_at(raw: str) -> tuple[datetime, datetime]:
    start, sep, end = raw.partition("_")
    try:
        if not sep:
            raise ValueError
        return datetime.fromisoformat(start).replace(tzinfo=UTC), datetime.fromisoformat(end).replace(tzinfo=UTC)
    except ValueError as error:
        raise InvalidInput.field("started_at", "Use the format %Y-%m-%dT%H:%M:%S_%Y-%m-%dT%H:%M:%S.") from error


def filters_of(query: Mapping[str, Sequence[str]]) -> GroupFilter:
    """OnCall's filters of ``GET /api/v1/alert_groups/``: ``state``, ``integration_id``, ``route_id``, ``team_id``,
    ``started_at`` (``<from>_<to>``, UTC), ``label`` (``key:value``, repeatable) and ``id``."""
    state = _first(query, "state")
    if state is not None and state.lower() not in STATE_FILTERS:
        raise InvalidInput.field("state", f"Invalid state. Valid states: {', '.join(STATE_FILTERS)}")
    after = before = None
    if raw := _first(query, "started_at"):
        after, before = _started_at(raw)
    labels: list[tuple[str, str]] = []
    for raw_label in query.get("label", []):
        key, sep, value = raw_label.partition(":")
        if not sep or not key:
            raise InvalidInput.field("label", "Use label=key:value.")
        labels.append((key, value))
    group_id = _first(query, "id")
    return GroupFilter(
        integration_id=_first(query, "integration_id"),
        route_id=_first(query, "route_id"),
        state=STATE_FILTERS[state.lower()] if state else None,
        team_id=_first(query, "team_id"),
        started_after=after,
        started_before=before,
        labels=tuple(labels),
        ids=(group_id,) if group_id else (),
    )


# --- the OnCall shapes ----------------------------------------------------------------------------------------------


def alert_out(alert: Alert) -> schemas.AlertOut:
    return schemas.AlertOut(
        id=alert.id,
        alert_group_id=alert.group_id,
        created_at=alert.created_at,
        payload=alert.payload,
        title=alert.title,
        message=alert.message,
        image_url=alert.image_url,
        source_link=alert.source_link,
    )


def group_out(
    group: AlertGroup,
    *,
    base_url: str,
    now: datetime,
    last_alert: Alert | None = None,
    warnings: list[str] | None = None,
) -> schemas.AlertGroupOut:
    """OnCall's shape of an alert group, its state as people see it at ``now``."""
    return schemas.AlertGroupOut(
        id=group.id,
        integration_id=group.integration_id,
        route_id=group.route_id,
        team_id=group.team_id,
        alerts_count=group.alerts_count,
        state=group.state_at(now).value,
        created_at=group.created_at,
        resolved_at=group.resolved_at,
        resolved_by=group.resolved_by,
        acknowledged_at=group.acknowledged_at,
        acknowledged_by=group.acknowledged_by,
        silenced_at=group.silenced_at if group.silenced else None,
        silenced_until=group.silenced_until,
        title=group.title,
        source_link=group.source_link,
        labels=[
            schemas.LabelPair(key=schemas.LabelRef(id=k, name=k), value=schemas.LabelRef(id=v, name=v))
            for k, v in group.labels.items()
        ],
        permalinks=schemas.Permalinks(web=links.group_page_url(base_url, group.id)),
        last_alert=alert_out(last_alert) if last_alert else None,
        warnings=warnings or [],
    )


def view_out(view: GroupView, *, base_url: str, now: datetime) -> schemas.AlertGroupOut:
    return group_out(view.group, base_url=base_url, now=now, last_alert=view.last_alert, warnings=view.warnings)


def timeline_out(entry: TimelineEntry) -> schemas.TimelineOut:
    return schemas.TimelineOut(at=entry.at, type=entry.type, text=entry.text, author=entry.author)


def group_page(ports: Ports, caller: Principal, request: RequestInfo) -> dict[str, Any]:
    """A page of ``GET /api/v1/alert_groups/`` for ``request``'s query, in OnCall's shape (its links to the
    pages before and after are ``request``'s path and query with another cursor)."""
    filters = filters_of(request.query)
    size = page_size(request, PAGE_SIZE)

    def fetch(limit: int, cursor: str | None) -> alert_groups.Listing[GroupView]:
        return alert_groups.list_alert_groups(ports, caller, filters, limit=limit, cursor=cursor)

    def out(view: GroupView) -> dict[str, Any]:
        return view_out(view, base_url=request.base_url, now=request.now).model_dump(mode="json")

    return paginate_cursor(request, size, fetch, out)


def alert_page(ports: Ports, caller: Principal, request: RequestInfo) -> dict[str, Any]:
    """A page of ``GET /api/v1/alerts/`` for ``request``'s query, in OnCall's shape; an unknown alert group has
    no alerts (as a filter that matches nothing)."""
    group_id = request.first("alert_group_id")
    if not group_id:
        raise InvalidInput.field("alert_group_id", "This filter is required (Tocsin lists alerts per alert group).")
    search, alert_id = request.first("search"), request.first("id")

    def fetch(limit: int, cursor: str | None) -> alert_groups.Listing[Alert]:
        return alert_groups.list_alerts(
            ports, caller, group_id, limit=limit, cursor=cursor, search=search, alert_id=alert_id
        )

    def out(alert: Alert) -> dict[str, Any]:
        return alert_out(alert).model_dump(mode="json")

    try:
        return paginate_cursor(request, page_size(request, ALERT_PAGE_SIZE), fetch, out)
    except NotFound:
        empty: dict[str, Any] = {"count": 0, "next": None, "previous": None, "results": []}
        return {**empty, "current_page_number": 1, "page_size": ALERT_PAGE_SIZE, "total_pages": 1}
