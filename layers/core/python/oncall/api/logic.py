"""Use cases of the management API. Each takes the store port and plain values, and returns API shapes.

Errors: :class:`ApiError` carries the HTTP status and a DRF-style body (``{"detail": ...}`` or
``{"field": ["message"]}``) so OnCall clients read them as they always have.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from oncall import (
    actions,
    escalation,
    maintenance,
    schemas,
)
from oncall.api.pagination import page_size as _page_size
from oncall.api.pagination import paginate_cursor
from oncall.api.request import RequestInfo
from oncall.clock import Clock
from oncall.executor import Executor
from oncall.models import (
    Alert,
    AlertGroup,
    TimelineEntry,
)
from oncall.ports import GroupFilter, Store
from oncall.scheduler import NoScheduler, Scheduler

T = TypeVar("T")
PAGE_SIZE = 50
ROUTES_PAGE_SIZE = 25
MAX_ACTION_ATTEMPTS = 5

# API template key -> internal template name
STATE_FILTERS = {
    "new": "firing",
    "firing": "firing",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "silenced": "silenced",
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body

    @classmethod
    def detail(cls, message: str, status: int = 400) -> ApiError:
        return cls(status, {"detail": message})

    @classmethod
    def field(cls, name: str, message: str) -> ApiError:
        return cls(400, {name: [message]})


def not_found() -> ApiError:
    return ApiError.detail("Not found.", 404)


# --- alert groups and alerts ----------------------------------------------------------------------------------


def alert_out(alert: Alert) -> dict[str, Any]:
    return _alert_model(alert).model_dump(mode="json")


def _alert_model(alert: Alert) -> schemas.AlertOut:
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


def group_out(request: RequestInfo, group: AlertGroup, last_alert: Alert | None = None) -> dict[str, Any]:
    return schemas.AlertGroupOut(
        id=group.id,
        integration_id=group.integration_id,
        route_id=group.route_id,
        team_id=group.team_id,
        alerts_count=group.alerts_count,
        state=group.state_at(request.now).value,
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
        permalinks=schemas.Permalinks(web=f"{request.base_url}/api/v1/alert_groups/{group.id}/"),
        last_alert=_alert_model(last_alert) if last_alert else None,
    ).model_dump(mode="json")


def _parse_started_at(raw: str) -> tuple[datetime, datetime]:
    start, sep, end = raw.partition("_")
    try:
        if not sep:
            raise ValueError
        return (datetime.fromisoformat(start).replace(tzinfo=UTC), datetime.fromisoformat(end).replace(tzinfo=UTC))
    except ValueError as error:
        raise ApiError.field("started_at", "Use the format %Y-%m-%dT%H:%M:%S_%Y-%m-%dT%H:%M:%S.") from error


def group_filters(request: RequestInfo) -> GroupFilter:
    state = request.first("state")
    if state is not None and state.lower() not in STATE_FILTERS:
        raise ApiError.field("state", f"Invalid state. Valid states: {', '.join(STATE_FILTERS)}")
    after = before = None
    if raw := request.first("started_at"):
        after, before = _parse_started_at(raw)
    labels: list[tuple[str, str]] = []
    for raw_label in request.query.get("label", []):
        key, sep, value = raw_label.partition(":")
        if not sep or not key:
            raise ApiError.field("label", "Use label=key:value.")
        labels.append((key, value))
    group_id = request.first("id")
    return GroupFilter(
        integration_id=request.first("integration_id"),
        route_id=request.first("route_id"),
        state=STATE_FILTERS[state.lower()] if state else None,
        team_id=request.first("team_id"),
        started_after=after,
        started_before=before,
        labels=tuple(labels),
        ids=(group_id,) if group_id else (),
    )


def list_groups(store: Store, request: RequestInfo) -> dict[str, Any]:
    filters = group_filters(request)
    size = _page_size(request, PAGE_SIZE)
    count = store.groups.count(filters)
    page_alerts: dict[str, Alert] = {}

    def fetch(limit: int, cursor: str | None) -> Any:
        page = store.groups.list(filters, limit, cursor)
        page_alerts.update(store.groups.alerts_by_id([(g.id, g.last_alert_id) for g in page.items if g.last_alert_id]))
        return page

    return paginate_cursor(
        request, count, size, fetch, lambda g: group_out(request, g, page_alerts.get(g.last_alert_id or ""))
    )


def _load_group(store: Store, group_id: str) -> AlertGroup:
    group = store.groups.get(group_id)
    if group is None:
        raise not_found()
    return group


def get_group(store: Store, request: RequestInfo, group_id: str) -> dict[str, Any]:
    group = _load_group(store, group_id)
    alerts = store.groups.alerts_by_id([(group.id, group.last_alert_id)]) if group.last_alert_id else {}
    return group_out(request, group, alerts.get(group.last_alert_id or ""))


def group_timeline(store: Store, group_id: str) -> list[dict[str, Any]]:
    group = _load_group(store, group_id)
    # Registration and routing are facts of the group item itself (kept out of the ingest write path).
    opening = [
        TimelineEntry(group_id=group.id, at=group.created_at, type="registered", text="Alert group registered"),
        TimelineEntry(
            group_id=group.id,
            at=group.created_at,
            type="route_assigned",
            text=f"Routed to {group.route_description or 'route ' + group.route_id}",
        ),
    ]
    return [
        schemas.TimelineOut(**e.model_dump(include={"at", "type", "text", "author"})).model_dump(mode="json")
        for e in opening + store.groups.timeline(group_id)
    ]


RESTARTING_ACTIONS = frozenset({"unacknowledge", "unresolve", "unsilence"})


def apply_action(
    store: Store,
    executor: Executor,
    group_id: str,
    action: str,
    by: str,
    clock: Clock,
    body: Any = None,
    scheduler: Scheduler | None = None,
) -> AlertGroup:
    """Apply a state change with optimistic concurrency (re-read and re-check on a lost race), then start or
    stop the group's escalation to match. Returns the stored group."""
    for _ in range(MAX_ACTION_ATTEMPTS):
        group = _load_group(store, group_id)
        # Read, then timestamp: a change that won a race before this read gets an earlier time in the timeline.
        now = clock.now()
        if action == "resolve" and group.root_alert_group_id is not None:
            raise ApiError.detail("Can't resolve an attached alert group")
        if action == "resolve" and group.is_maintenance and not group.resolved:
            # Resolving the maintenance group ends the maintenance, which resolves it and everything attached.
            maintenance.stop(store, scheduler or NoScheduler(), executor, group.integration_id, now, by=by)
            return _load_group(store, group_id)
        try:
            if action == "silence":
                delay = actions.parse_silence_delay(body.get("delay") if isinstance(body, dict) else None)
                transition = actions.silence(group, by, now, delay)
                if delay > 0:  # escalation resumes from step 0 when the silence ends
                    transition.group = escalation.restarted(transition.group)
            else:
                transition = actions.ACTIONS[action](group, by, now)
                if action in RESTARTING_ACTIONS:
                    transition.group = escalation.restarted(transition.group)
        except actions.ActionError as error:
            raise ApiError.detail(str(error)) from error
        if store.groups.save(transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer):
            escalation.reconcile(store, executor, group, transition.group, now)
            if action == "acknowledge":
                escalation.start_reminder(store, executor, transition.group)
            return transition.group.model_copy(update={"version": group.version + 1})
    raise ApiError.detail("The alert group is changing too fast; try again.", 409)


def act_on_group(
    store: Store,
    executor: Executor,
    scheduler: Scheduler,
    request: RequestInfo,
    group_id: str,
    action: str,
    by: str,
    clock: Clock,
    body: Any = None,
) -> dict[str, Any]:
    return group_out(request, apply_action(store, executor, group_id, action, by, clock, body, scheduler))


def delete_group(store: Store, group_id: str, mode: str, by: str, now: datetime) -> None:
    group = _load_group(store, group_id)
    if mode == "delete":
        store.groups.delete(group_id)
        return
    transition = actions.wipe(group, by, now)
    if not store.groups.save(transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer):
        raise ApiError.detail("The alert group changed while wiping it; try again.", 409)
    store.groups.wipe_alerts(group_id, f"Wiped by {by} at {now.strftime('%Y-%m-%d %H:%M:%S UTC')}")


def list_alerts(store: Store, request: RequestInfo) -> dict[str, Any]:
    group_id = request.first("alert_group_id")
    if not group_id:
        raise ApiError.field("alert_group_id", "This filter is required (Tocsin lists alerts per alert group).")
    group = store.groups.get(group_id)
    if group is None:
        return {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
            "current_page_number": 1,
            "page_size": PAGE_SIZE,
            "total_pages": 1,
        }
    size = _page_size(request, PAGE_SIZE)
    search = request.first("search")
    alert_id = request.first("id")

    def fetch(limit: int, cursor: str | None) -> Any:
        page = store.groups.alerts(group_id, limit, cursor)
        if search or alert_id:
            page.items = [
                a
                for a in page.items
                if (not alert_id or a.id == alert_id) and (not search or search in json.dumps(a.payload))
            ]
        return page

    return paginate_cursor(request, group.alerts_count, size, fetch, alert_out)
