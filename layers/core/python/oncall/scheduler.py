"""One-time schedules (maintenance ends): the EventBridge Scheduler adapter of the scheduler port.

Each maintenance window gets an ``at(...)`` schedule that invokes ``maintenance_end`` and deletes itself after
running. The local stack serves the same API calls (``local/scheduler.py``), so this adapter runs unchanged there.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from oncall.settings import Settings


class Scheduler(Protocol):
    def at(self, name: str, when: datetime, payload: dict[str, Any]) -> None: ...
    def cancel(self, name: str) -> None: ...


class EventBridgeScheduler:
    def __init__(self, group: str, target_arn: str, role_arn: str, client: Any = None) -> None:
        self.group, self.target_arn, self.role_arn = group, target_arn, role_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("scheduler")
        return self._client

    def at(self, name: str, when: datetime, payload: dict[str, Any]) -> None:
        self.client.create_schedule(
            Name=name,
            GroupName=self.group,
            FlexibleTimeWindow={"Mode": "OFF"},
            ScheduleExpression=f"at({when.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            Target={"Arn": self.target_arn, "RoleArn": self.role_arn, "Input": json.dumps(payload)},
            ActionAfterCompletion="DELETE",
        )

    def cancel(self, name: str) -> None:
        with contextlib.suppress(
            self.client.exceptions.ResourceNotFoundException
        ):  # already ran (and deleted itself) or never existed
            self.client.delete_schedule(Name=name, GroupName=self.group)


class NoScheduler:
    """No scheduler configured: windows end only when stopped through the API."""

    def at(self, name: str, when: datetime, payload: dict[str, Any]) -> None:
        return None

    def cancel(self, name: str) -> None:
        return None


def scheduler_for(settings: Settings) -> Scheduler:
    if not settings.maintenance_end_arn:
        return NoScheduler()
    return EventBridgeScheduler(settings.schedule_group, settings.maintenance_end_arn, settings.scheduler_role_arn)
