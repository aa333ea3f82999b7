"""Maintenance end Lambda, invoked by the window's one-time EventBridge Scheduler schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import maintenance, telemetry
from oncall.executor import executor_from_env
from oncall.scheduler import NoScheduler
from oncall.store.dynamodb import DynamoStore

logger = telemetry.handler_logger()
tracer = telemetry.tracer()
_store: DynamoStore | None = None


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, bool]:
    """``event``: the schedule's input ``{"integration_id", "maintenance_id"}``. A late or repeated event of a
    window that already ended changes nothing."""
    global _store
    logger.append_keys(integration_id=event.get("integration_id"), maintenance_id=event.get("maintenance_id"))
    if _store is None:
        _store = DynamoStore()
    ended = maintenance.stop(
        _store,
        NoScheduler(),
        executor_from_env(),
        event["integration_id"],
        datetime.now(UTC),
        maintenance_id=event.get("maintenance_id"),
    )
    logger.info("maintenance end", extra={"integration_id": event["integration_id"], "ended": ended})
    return {"ended": ended}
