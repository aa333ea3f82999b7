"""The minute sweep Lambda, invoked every minute by an EventBridge rule: due heartbeats raise their alert, and
escalations whose start failed (Step Functions unavailable when the group was stored) are started."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation, heartbeat
from oncall.container import Container

logger = Logger()
container = Container()  # this environment's store and executor


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    store, executor, moment = container.store, container.executor, container.clock.now()
    started = escalation.retry_deferred_starts(store, executor, moment)
    summary = heartbeat.check(store, executor, moment)
    return {"result": f"{summary}; started {started} deferred escalations"}
