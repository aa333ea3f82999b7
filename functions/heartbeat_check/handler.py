"""The minute sweep Lambda, invoked every minute by an EventBridge rule: due heartbeats raise their alert,
escalations whose start failed (Step Functions unavailable when the group was stored) are started, and a sweep
that ran to its end pings the dead-man's switch URL (the ``deadman_url`` setting), if the deployment has one."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import deadman, escalation, heartbeat, telemetry
from oncall.container import Container

logger = telemetry.handler_logger()
container = Container()  # this environment's store and executor
tracer = telemetry.tracer(container.settings.tracing)


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    store, executor, moment = container.store, container.executor, container.clock.now()
    started = escalation.retry_deferred_starts(store, executor, moment)
    summary = heartbeat.check(store, moment)
    telemetry.count(telemetry.SWEEPS)
    if url := container.settings.deadman_url:
        deadman.ping(url, container.outbound)
    return {"result": f"{summary}; started {started} deferred escalations"}
