"""RunStep Lambda of the escalation state machine: one step of an escalation or of a person's rules.

Its logs' correlation id is the execution's name (``<group id>-g<generation>`` for an escalation), which the
function that started the execution logged with its own request's correlation id."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation, telemetry
from oncall.executor import executor_from_env
from oncall.store.dynamodb import DynamoStore

logger = telemetry.handler_logger()
tracer = telemetry.tracer()
_services: escalation.Services | None = None


def services() -> escalation.Services:
    global _services
    if _services is None:
        from oncall import links
        from oncall.notify.channels import notifier_from_env

        _services = escalation.Services(
            store=DynamoStore(),
            executor=executor_from_env(),
            notifier=notifier_from_env(),
            public_url=os.environ.get("TOCSIN_PUBLIC_URL", "").rstrip("/"),
            signing_key=links.signing_key,
        )
    return _services


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = escalation.execution_name_of(event)
    logger.set_correlation_id(execution)
    logger.append_keys(group_id=event.get("group_id"), kind=event.get("kind"), execution=execution)
    tracer.put_annotation("group_id", str(event.get("group_id")))
    return escalation.run_step(event, services())
