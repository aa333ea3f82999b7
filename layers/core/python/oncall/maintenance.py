"""Maintenance windows of an integration, as Grafana OnCall users know them.

- debug: alerts are stored and grouped as usual, nothing escalates and nobody is notified;
- maintenance: one "Maintenance of <name> for <duration>" group is opened; every new group of the integration
  is attached to it and does not escalate; when the window ends that group and everything attached resolve.

The end is a one-time schedule (EventBridge Scheduler ``at(...)``) that invokes ``maintenance_end``; stopping
early deletes it. Each window has its own id, so a late or repeated end event of an old window does nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal, cast

from oncall import actions, ids
from oncall.errors import InvalidInput
from oncall.models import Alert, AlertGroup, Integration
from oncall.ports import GroupFilter, Store
from oncall.scheduler import Scheduler

Mode = Literal["debug", "maintenance"]
STOP_TEXT = "Resolved by stop maintenance"


class MaintenanceError(InvalidInput):
    """A request the integration's state does not allow; ``str(error)`` is the API's detail."""


def schedule_name(integration_id: str, maintenance_id: str) -> str:
    return f"maintenance-{integration_id}-{maintenance_id}"


def human_duration(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def start(
    store: Store, scheduler: Scheduler, integration_id: str, mode: str, duration: int, by: str, now: datetime
) -> Integration:
    if mode not in ("debug", "maintenance"):
        raise MaintenanceError('mode must be "debug" or "maintenance"')
    if duration <= 0:
        raise MaintenanceError("duration must be a positive number of seconds")
    config = store.integrations.config(integration_id)
    if config is None:
        raise LookupError(integration_id)
    integration = config.integration
    if integration.maintenance_mode is not None:
        raise MaintenanceError(
            f"Maintenance is already active for this integration ({integration.maintenance_mode} mode until "
            f"{integration.maintenance_end_at:%Y-%m-%d %H:%M:%S} UTC); stop it first."
        )
    window = uuid.uuid4().hex[:12]
    end = now + timedelta(seconds=duration)
    group_id = None
    if mode == "maintenance":
        group_id = _open_maintenance_group(store, integration, config.default_route.id, duration, by, now)
    changed = replace(
        integration,
        maintenance_mode=cast(Mode, mode),  # checked above
        maintenance_id=window,
        maintenance_started_at=now,
        maintenance_end_at=end,
        maintenance_group_id=group_id,
    )
    if not store.integrations.update(changed, expected_maintenance_id=None):
        raise MaintenanceError("Maintenance is already active for this integration; stop it first.")
    scheduler.at(
        schedule_name(integration_id, window), end, {"integration_id": integration_id, "maintenance_id": window}
    )
    return changed


def _open_maintenance_group(
    store: Store, integration: Integration, route_id: str, duration: int, by: str, now: datetime
) -> str:
    title = f"Maintenance of {integration.name} for {human_duration(duration)}"
    message = f"Started by {by}. Alerts of {integration.name} are collected here, without escalation."
    group = AlertGroup(
        id=ids.new_id(ids.ALERT_GROUP),
        integration_id=integration.id,
        route_id=route_id,
        route_description="maintenance",
        team_id=integration.team_id,
        distinction=uuid.uuid4().hex,
        title=title,
        created_at=now,
        alerts_count=1,
        last_alert_at=now,
        is_maintenance=True,
        is_open=False,  # it collects attached groups, not the alerts of a grouping key
    )
    alert = Alert(
        id=ids.new_sortable_id(ids.ALERT, now),
        group_id=group.id,
        created_at=now,
        payload={"title": title, "message": message},
        title=title,
        message=message,
    )
    group = replace(group, last_alert_id=alert.id)
    store.groups.create(group, alert)
    return group.id


def stop(
    store: Store,
    scheduler: Scheduler,
    integration_id: str,
    now: datetime,
    *,
    maintenance_id: str | None = None,
    by: str = "maintenance end",
) -> bool:
    """End the window (``maintenance_id``: only that one). False when there was nothing (left) to end. The groups
    it resolves stop escalating through the table's stream."""
    config = store.integrations.config(integration_id)
    if config is None:
        return False
    integration = config.integration
    if integration.maintenance_mode is None or (
        maintenance_id is not None and maintenance_id != integration.maintenance_id
    ):
        return False
    cleared = replace(
        integration,
        maintenance_mode=None,
        maintenance_id=None,
        maintenance_started_at=None,
        maintenance_end_at=None,
        maintenance_group_id=None,
    )
    if not store.integrations.update(cleared, expected_maintenance_id=integration.maintenance_id):
        return False  # another stop won
    if maintenance_id is None and integration.maintenance_id:
        scheduler.cancel(schedule_name(integration_id, integration.maintenance_id))
    if integration.maintenance_mode == "maintenance" and integration.maintenance_group_id:
        _resolve_collected(store, integration, integration.maintenance_group_id, by, now)
    return True


def _resolve_collected(store: Store, integration: Integration, root_id: str, by: str, now: datetime) -> None:
    filters = GroupFilter(
        integration_id=integration.id, started_after=integration.maintenance_started_at, root_alert_group_id=root_id
    )
    cursor: str | None = None
    attached: list[AlertGroup] = []
    while True:
        page = store.groups.list(filters, 100, cursor)
        attached += page.items
        if page.cursor is None:
            break
        cursor = page.cursor
    root = store.groups.get(root_id)
    for group in [*attached, *([root] if root else [])]:
        _resolve(store, group, by, now)


def _resolve(store: Store, group: AlertGroup, by: str, now: datetime) -> None:
    for _ in range(5):
        if group.resolved:
            return
        transition = actions.resolve(group, by, now, text=STOP_TEXT)
        if store.groups.save(transition.group, group.version, timeline=transition.timeline, pointer=transition.pointer):
            return
        fresh = store.groups.get(group.id)
        if fresh is None:
            return
        group = fresh
