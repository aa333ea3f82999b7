"""RunStep Lambda of the escalation state machine: one step of an escalation or of a person's rules.

Its logs' correlation id is the execution's name (``<group id>-g<generation>`` for an escalation), which the
function that started the execution logged with its own request's correlation id."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation, telemetry
from oncall.container import Container

logger = telemetry.handler_logger()
container = Container()  # this environment's settings, store, executor, notifier and clock
tracer = telemetry.tracer(container.settings.tracing)
_services: escalation.Services | None = None


def services() -> escalation.Services:
    global _services
    if _services is None:
        _services = escalation.Services(
            store=container.store,
            executor=container.executor,
            notifier=container.notifier,
            public_url=container.settings.public_url,
            signing_key=container.signing_key,
            clock=container.clock,
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
    step = services()
    return escalation.run_step(event, step, step.clock.now())
