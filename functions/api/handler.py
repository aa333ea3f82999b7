"""Management API Lambda: ``/api/v1/...`` (OnCall-compatible) and signed action links, authenticated by API key.

The routers, authentication and error answers are :mod:`oncall.api.app`; the use cases :mod:`oncall.services`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import telemetry
from oncall.api import app as api
from oncall.container import Container

logger = telemetry.handler_logger()
container = Container()  # this environment's settings, store, authenticator, executor, scheduler and clock
tracer = telemetry.tracer(container.settings.tracing)
app = api.build(container)


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(api.normalise(event), context)
