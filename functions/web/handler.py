"""Web console Lambda: the server-rendered pages of :mod:`oncall.web.app` behind ``/`` and ``/ui``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import telemetry
from oncall.container import Container
from oncall.web.app import handle

logger = telemetry.handler_logger()
container = Container()  # this environment's store, authenticator, executor and scheduler
tracer = telemetry.tracer(container.settings.tracing)


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, container)
