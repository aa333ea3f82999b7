"""RunStep Lambda of the escalation state machine: one step of an escalation or of a person's rules."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation
from oncall.container import Container

logger = Logger()
container = Container()  # this environment's settings, store, executor, notifier and clock
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


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(group_id=event.get("group_id"), kind=event.get("kind"))
    step = services()
    return escalation.run_step(event, step, step.clock.now())
