"""RunStep Lambda of the escalation state machine: one step of an escalation or of a person's rules."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import escalation
from oncall.executor import executor_from_env
from oncall.store.dynamodb import DynamoStore

logger = Logger()
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


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(group_id=event.get("group_id"), kind=event.get("kind"))
    step = services()
    return escalation.run_step(event, step, step.clock.now())
