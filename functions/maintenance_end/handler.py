"""Maintenance end Lambda, invoked by the window's one-time EventBridge Scheduler schedule."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import maintenance, telemetry
from oncall.container import Container
from oncall.scheduler import NoScheduler

logger = telemetry.handler_logger()
container = Container()  # this environment's store, executor and clock
tracer = telemetry.tracer(container.settings.tracing)


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, bool]:
    """``event``: the schedule's input ``{"integration_id", "maintenance_id"}``. A late or repeated event of a
    window that already ended changes nothing."""
    logger.append_keys(integration_id=event.get("integration_id"), maintenance_id=event.get("maintenance_id"))
    ended = maintenance.stop(
        container.store,
        NoScheduler(),
        event["integration_id"],
        container.clock.now(),
        maintenance_id=event.get("maintenance_id"),
    )
    logger.info("maintenance end", extra={"integration_id": event["integration_id"], "ended": ended})
    return {"ended": ended}
